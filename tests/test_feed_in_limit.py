"""The feed-in limit at a negative export price: lowered, and always given back.

A loaded entry polls the simulator over HTTP on 127.0.0.1. The house exports the PV on the
Indevolt's DC inputs (battery full) while the export price is negative until 13:00 UTC; the
user's own feed-in limit is 1200 W.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import CONF_PRICE_ENTITY
from custom_components.ems.control_store import feed_in_limit_storage_key
from custom_components.ems.optimiser.feed_in import FeedInLimitState
from custom_components.ems.optimiser.price_slots import quarter_start
from ems_simulator import DeviceSettings, Simulator

from .conftest import SIM_START, FakeClock
from .optimiser_helpers import (
    DRY_RUN_SWITCH,
    PRICE_ENTITY,
    STATUS_SENSOR,
    SWITCH,
    entsoe_attributes,
    poll,
    setup_entry,
    switch,
    writes,
)
from .test_device_settings import NUMBER, set_number

START = SIM_START + timedelta(minutes=57)
USER_LIMIT_W = 1200
OVERRIDE_TEXT = "changed outside the optimiser"


def negative_at_noon(moment: datetime) -> float:
    """Negative from 12:00 to 13:00 UTC (PV at its highest), positive otherwise."""
    return -0.05 if moment.hour == 12 else 0.20


@pytest.fixture
def device() -> DeviceSettings:
    return DeviceSettings(feed_in_limit_w=USER_LIMIT_W)


@pytest.fixture
def simulator(sim_clock: FakeClock, device: DeviceSettings) -> Simulator:
    """Noon in June, the battery full: the PV on the Indevolt's inputs is exported."""
    simulator = Simulator(clock=sim_clock, start=START - timedelta(minutes=5), device=device)
    simulator.model.soc_percent = 100.0
    sim_clock.advance(300)
    return simulator


@pytest.fixture(autouse=True)
def frozen_at_start(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(START + timedelta(seconds=1))


@pytest.fixture
def sim(running_simulator: Any) -> Simulator:
    simulator: Simulator = running_simulator.simulator
    return simulator


@pytest.fixture
async def entry(
    hass: HomeAssistant, enable_custom_integrations: None, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    hass.states.async_set(PRICE_ENTITY, "-0.05", entsoe_attributes(price=negative_at_noon))
    await setup_entry(hass, mock_config_entry, **{CONF_PRICE_ENTITY: PRICE_ENTITY})
    return mock_config_entry


def limit_writes(sim: Simulator) -> list[int]:
    """The values written to 1146 (the feed-in limit), in order."""
    return [values[0] for register, values in writes(sim) if register == 1146]


def stored(hass_storage: dict[str, Any], entry: MockConfigEntry) -> Any:
    return hass_storage[feed_in_limit_storage_key(entry.entry_id)]["data"]["limit"]


def feed_in_state(hass: HomeAssistant) -> str:
    state = hass.states.get(STATUS_SENSOR)
    assert state is not None
    return str(state.attributes["feed_in_limit"])


async def lowered(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    sim: Simulator,
) -> None:
    """Switch the optimiser on and poll until the limit is lowered."""
    sim.requests.clear()
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=2)
    assert limit_writes(sim) == [50]
    assert sim.device.feed_in_limit_w == 50


async def past_one_oclock(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Poll on until the export price is positive again (13:00 UTC)."""
    await poll(hass, entry, sim_clock, freezer, times=4, seconds=60)


async def test_negative_export_price_lowers_the_limit_once_and_gives_it_back(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    await poll(hass, entry, sim_clock, freezer)
    assert sim.model.grid_w < -500  # the DC PV goes out at a loss
    await lowered(hass, entry, sim_clock, freezer, sim)
    record = stored(hass_storage, entry)
    assert (record["user_limit_w"], record["limited_w"]) == (USER_LIMIT_W, 50)
    assert feed_in_state(hass) == FeedInLimitState.LOWERED
    await poll(hass, entry, sim_clock, freezer, times=6)
    assert limit_writes(sim) == [50]  # one write per change, not one per poll
    assert sim.model.grid_w >= -51  # the inverter holds the PV back
    await past_one_oclock(hass, entry, sim_clock, freezer)
    assert limit_writes(sim) == [50, USER_LIMIT_W]
    assert sim.device.feed_in_limit_w == USER_LIMIT_W
    assert stored(hass_storage, entry) is None
    assert feed_in_state(hass) == FeedInLimitState.USER
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert limit_writes(sim) == [50, USER_LIMIT_W]


async def test_switching_the_optimiser_off_gives_the_limit_back(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    await lowered(hass, entry, sim_clock, freezer, sim)
    await switch(hass, SWITCH, False)
    assert limit_writes(sim) == [50, USER_LIMIT_W]
    assert stored(hass_storage, entry) is None
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert limit_writes(sim) == [50, USER_LIMIT_W]


async def test_dry_run_gives_the_limit_back_and_only_says_it_would_lower(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
) -> None:
    await lowered(hass, entry, sim_clock, freezer, sim)
    await switch(hass, DRY_RUN_SWITCH, True)
    assert limit_writes(sim) == [50, USER_LIMIT_W]
    await poll(hass, entry, sim_clock, freezer, times=4)
    assert limit_writes(sim) == [50, USER_LIMIT_W]
    assert feed_in_state(hass) == FeedInLimitState.WOULD_LOWER
    await past_one_oclock(hass, entry, sim_clock, freezer)
    assert feed_in_state(hass) == FeedInLimitState.USER


async def test_dry_run_from_the_start_writes_nothing(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
) -> None:
    await switch(hass, DRY_RUN_SWITCH, True)
    await switch(hass, SWITCH, True)
    sim.requests.clear()
    await poll(hass, entry, sim_clock, freezer, times=4)
    assert writes(sim) == []
    assert feed_in_state(hass) == FeedInLimitState.WOULD_LOWER


async def test_unload_gives_the_limit_back(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    await lowered(hass, entry, sim_clock, freezer, sim)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert limit_writes(sim) == [50, USER_LIMIT_W]
    assert sim.device.feed_in_limit_w == USER_LIMIT_W
    assert stored(hass_storage, entry) is None


async def test_home_assistant_stop_gives_the_limit_back(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    await lowered(hass, entry, sim_clock, freezer, sim)
    await hass.async_stop()
    assert limit_writes(sim) == [50, USER_LIMIT_W]
    assert stored(hass_storage, entry) is None


async def test_unload_with_the_device_refusing_keeps_the_record_for_the_next_start(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    await lowered(hass, entry, sim_clock, freezer, sim)
    sim.indevolt_faults.reject_commands = True
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert sim.device.feed_in_limit_w == 50
    assert stored(hass_storage, entry)["user_limit_w"] == USER_LIMIT_W
    sim.indevolt_faults.reject_commands = False
    sim.requests.clear()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert limit_writes(sim) == [USER_LIMIT_W]
    assert stored(hass_storage, entry) is None


def leave_behind(hass_storage: dict[str, Any], entry: MockConfigEntry) -> None:
    """The record a crash or power cut left in `.storage`."""
    key = feed_in_limit_storage_key(entry.entry_id)
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "limit": {
                "user_limit_w": USER_LIMIT_W,
                "limited_w": 50,
                "started": "2026-06-21T12:40:00+00:00",
            }
        },
    }


@pytest.mark.parametrize("device", [DeviceSettings(feed_in_limit_w=50)])
async def test_a_limit_left_lowered_by_a_crash_is_given_back_at_the_next_start(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    leave_behind(hass_storage, mock_config_entry)
    await setup_entry(hass, mock_config_entry)
    assert limit_writes(sim) == [USER_LIMIT_W]
    assert sim.device.feed_in_limit_w == USER_LIMIT_W
    assert stored(hass_storage, mock_config_entry) is None
    assert "left lowered to 50 W by a previous run" in caplog.text


@pytest.mark.parametrize("device", [DeviceSettings(feed_in_limit_w=600)])
async def test_a_limit_the_user_changed_while_home_assistant_was_down_stays(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    leave_behind(hass_storage, mock_config_entry)
    await setup_entry(hass, mock_config_entry)
    assert limit_writes(sim) == []
    assert sim.device.feed_in_limit_w == 600
    assert stored(hass_storage, mock_config_entry) is None
    assert caplog.text.count(OVERRIDE_TEXT) == 1


async def change_with_the_number_entity(hass: HomeAssistant, sim: Simulator) -> None:
    await set_number(hass, NUMBER + "feed_in_limit", 600)


async def change_in_the_app(hass: HomeAssistant, sim: Simulator) -> None:
    sim.device.feed_in_limit_w = 600
    sim.model.feed_in_limit_w = 600


@pytest.mark.parametrize("change", [change_with_the_number_entity, change_in_the_app])
async def test_a_limit_the_user_changes_while_lowered_is_never_overwritten(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    change: Any,
) -> None:
    await lowered(hass, entry, sim_clock, freezer, sim)
    await change(hass, sim)
    # The app's change shows when the settings are read again (every 12 polls).
    await poll(hass, entry, sim_clock, freezer, times=14)
    assert stored(hass_storage, entry) is None
    assert feed_in_state(hass) == FeedInLimitState.USER
    await past_one_oclock(hass, entry, sim_clock, freezer)
    assert [value for value in limit_writes(sim) if value != 600] == [50]
    assert sim.device.feed_in_limit_w == 600
    assert caplog.text.count(OVERRIDE_TEXT) == 1


async def test_a_refused_lowering_backs_off_with_one_warning(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim.indevolt_faults.reject_commands = True
    await switch(hass, SWITCH, True)
    caplog.set_level(logging.DEBUG, "custom_components.ems")
    sim.requests.clear()
    await poll(hass, entry, sim_clock, freezer, times=15)
    # 1 poll, then 2, 4 polls apart (polls 1, 2, 4 and 8): 4 attempts in 15 polls, not 15.
    assert limit_writes(sim) == [50] * 4
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and "lower the feed-in limit" in record.getMessage()
    ]
    assert len(warnings) == 1
    # Recorded before the first attempt: a crash now would still write the user's limit back.
    assert stored(hass_storage, entry)["user_limit_w"] == USER_LIMIT_W
    sim.indevolt_faults.reject_commands = False
    await past_one_oclock(hass, entry, sim_clock, freezer)
    assert limit_writes(sim)[-1] == USER_LIMIT_W
    assert stored(hass_storage, entry) is None


@pytest.mark.parametrize(
    "device",
    [
        DeviceSettings(feed_in_limit_w=50),  # the user's own limit is as low already
        DeviceSettings(feed_in_limit_w=0, strict_ranges=False),  # "no export": never raised
        DeviceSettings(feed_in_limit_w=3000),  # reported, but the device would not take it back
    ],
)
async def test_a_limit_that_cannot_be_lowered_or_given_back_is_left_alone(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    device: DeviceSettings,
) -> None:
    user_limit_w = device.feed_in_limit_w
    # The DC PV still goes out (a firmware that reports its limit late, say): at 0 or 50 W the
    # limit is as low as ems would set it, never raised; 3000 W the device would not take back.
    sim.model.feed_in_limit_w = None
    await poll(hass, entry, sim_clock, freezer)
    assert sim.model.grid_w < -500
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=4)
    assert limit_writes(sim) == []
    assert sim.device.feed_in_limit_w == user_limit_w
    assert feed_in_state(hass) == FeedInLimitState.USER


async def test_without_a_read_limit_nothing_is_lowered(
    hass: HomeAssistant,
    *,
    sim: Simulator,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
) -> None:
    """11010 missing from the replies: no user limit known, so none is taken away."""
    sim.indevolt_faults.missing_registers = {11010}
    hass.states.async_set(PRICE_ENTITY, "-0.05", entsoe_attributes(price=negative_at_noon))
    await setup_entry(hass, mock_config_entry, **{CONF_PRICE_ENTITY: PRICE_ENTITY})
    await switch(hass, SWITCH, True)
    await poll(hass, mock_config_entry, sim_clock, freezer, times=4)
    assert limit_writes(sim) == []
    sim.indevolt_faults.missing_registers = set()
    # The settings are read again within 12 polls: now the user's limit is known.
    await poll(hass, mock_config_entry, sim_clock, freezer, times=13)
    assert limit_writes(sim) == [50]


async def test_a_poll_without_usable_readings_keeps_the_lowered_limit(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
) -> None:
    await lowered(hass, entry, sim_clock, freezer, sim)
    sim.p1_faults.off = True
    await poll(hass, entry, sim_clock, freezer, times=2)
    sim.p1_faults.off = False
    await poll(hass, entry, sim_clock, freezer, times=2)
    assert limit_writes(sim) == [50]
    assert feed_in_state(hass) == FeedInLimitState.LOWERED


async def test_removing_the_entry_gives_the_limit_back_and_deletes_the_record(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    await lowered(hass, entry, sim_clock, freezer, sim)
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert limit_writes(sim) == [50, USER_LIMIT_W]
    assert feed_in_limit_storage_key(entry.entry_id) not in hass_storage


async def test_pv_held_back_by_the_limit_is_no_measure_of_the_pv_forecast(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The PV measured while the limit holds it back would tell the forecast the sun was weak."""
    await lowered(hass, entry, sim_clock, freezer, sim)
    log = entry.runtime_data.optimiser._inputs.tracker.log
    assert log is not None
    held = quarter_start(dt_util.utcnow())
    assert log.as_dict()["quarters"][held.isoformat()]["pv_held_back"] is True
    later = held + timedelta(minutes=15)
    assert held not in log.recent_pv_w(later, lookback=timedelta(hours=1))
    assert held in log.recent_load_w(later, includes_pv=True, lookback=timedelta(hours=1))


@pytest.mark.parametrize(
    ("device", "soc", "held_back"),
    [
        (DeviceSettings(feed_in_limit_w=300), 100.0, True),  # full: PV beyond 300 W is held
        (DeviceSettings(feed_in_limit_w=5000), 100.0, False),  # the export is far below it
        (DeviceSettings(feed_in_limit_w=0), 50.0, False),  # no export, but the battery takes it
    ],
)
async def test_pv_at_the_users_own_feed_in_limit_is_no_measure_of_the_pv_forecast(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    soc: float,
    held_back: bool,
) -> None:
    """A full battery exports its PV up to the user's limit and holds the rest back."""
    sim.model.soc_percent = soc
    await setup_entry(hass, mock_config_entry)
    await poll(hass, mock_config_entry, sim_clock, freezer, times=3)
    log = mock_config_entry.runtime_data.optimiser._inputs.tracker.log
    assert log is not None
    record = log.as_dict()["quarters"][quarter_start(dt_util.utcnow()).isoformat()]
    assert record["pv_sum_w"] > 0
    assert record["pv_held_back"] is held_back
    assert limit_writes(sim) == []  # nothing lowered: the optimiser is off
