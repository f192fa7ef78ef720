"""The optimiser in a real home: backup SOC, failing commands, app changes and garbage readings.

Closed loop: a loaded entry polls the simulator over HTTP on 127.0.0.1.
"""

from __future__ import annotations

from datetime import timedelta
import logging
import math
import traceback
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import CONF_MIN_SOC, CONF_PRICE_ENTITY
from custom_components.ems.devices.errors import DeviceTimeoutError
from custom_components.ems.devices.indevolt import WorkingMode
from ems_simulator import Simulator, model

from .conftest import SIM_START, FakeClock
from .optimiser_helpers import (
    DAY,
    PRICE_ENTITY,
    SWITCH,
    entsoe_attributes,
    poll,
    setup_entry,
    switch,
    writes,
)


@pytest.fixture
def simulator(sim_clock: FakeClock) -> Simulator:
    """No PV; the house draws 6 kW, 2 kW above the default 4 kW peak limit."""
    simulator = Simulator(clock=sim_clock, start=SIM_START - timedelta(minutes=5))
    simulator.model.pv_peak_w = 0.0
    sim_clock.advance(300)
    return simulator


@pytest.fixture(autouse=True)
def heavy_house(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 6000.0)


@pytest.fixture(autouse=True)
def frozen_at_sim_start(freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(SIM_START + timedelta(seconds=1))


@pytest.fixture
async def entry(
    hass: HomeAssistant, enable_custom_integrations: None, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Peak shaving only (no price entity), min SOC 10 %."""
    await setup_entry(hass, mock_config_entry, **{CONF_PRICE_ENTITY: None, CONF_MIN_SOC: 10.0})
    return mock_config_entry


def mode_writes(simulator: Simulator) -> list[int]:
    return [values[0] for register, values in writes(simulator) if register == 47005]


def optimiser_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Logged exceptions raised in the optimiser or the shaver (the sensors' are another matter)."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.exc_info is not None
        and any(
            "/custom_components/ems/optimiser/" in frame.filename
            for frame in traceback.extract_tb(record.exc_info[2])
        )
    ]


async def test_backup_soc_above_min_soc_is_the_floor_for_shaving(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim: Simulator = running_simulator.simulator
    sim.model.backup_soc_percent = 30
    sim.model.soc_percent = 30.8  # reads 31 %: a little to shave with above the backup SOC
    await poll(hass, entry, sim_clock, freezer)
    await switch(hass, SWITCH, True)
    optimiser = entry.runtime_data.optimiser
    discharged = False
    for _ in range(40):
        await poll(hass, entry, sim_clock, freezer)
        discharged = discharged or sim.model.battery_w < -1500
    assert discharged  # it shaved what the battery could give above its backup SOC
    assert round(sim.model.soc_percent) == 30
    sim.requests.clear()
    caplog.clear()
    await poll(hass, entry, sim_clock, freezer, times=40)
    # At the floor: no discharge asked for, no mode flipping, nothing refused.
    assert writes(sim) == []
    assert optimiser.enabled
    decision = optimiser.last_decision
    assert decision is not None
    assert decision.command.discharge_w == 0
    assert "failed" not in caplog.text


async def one_garbage_p1_poll(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    value: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One poll whose P1 reply carries `value` as the active power (sent as NaN / Infinity)."""
    clean = simulator.model.p1_data

    def garbage() -> dict[str, object]:
        return {**clean(), "active_power_w": value}

    monkeypatch.setattr(simulator.model, "p1_data", garbage)
    await poll(hass, entry, sim_clock, freezer)
    monkeypatch.setattr(simulator.model, "p1_data", clean)


async def test_one_infinite_p1_reading_commands_nothing(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim: Simulator = running_simulator.simulator
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 2090.0)
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=3)
    sim.requests.clear()
    await one_garbage_p1_poll(
        hass,
        entry=entry,
        sim_clock=sim_clock,
        freezer=freezer,
        simulator=sim,
        value=float("1e400"),
        monkeypatch=monkeypatch,
    )
    assert writes(sim) == []
    assert sim.model.mode == model.MODE_SELF_CONSUMPTION
    status = hass.states.get("sensor.indevolt_cms_sf2000_optimiser_status")
    assert status is not None
    assert status.state == "device_unavailable"
    assert "no usable grid power" in status.attributes["detail"]
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert writes(sim) == []
    assert optimiser_tracebacks(caplog) == []


async def test_one_nan_p1_reading_does_not_stop_shaving(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim: Simulator = running_simulator.simulator
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 9000.0)
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=3)
    optimiser = entry.runtime_data.optimiser
    assert optimiser.last_decision is not None
    assert optimiser.last_decision.command.discharge_w == 2400
    await one_garbage_p1_poll(
        hass,
        entry=entry,
        sim_clock=sim_clock,
        freezer=freezer,
        simulator=sim,
        value=math.nan,
        monkeypatch=monkeypatch,
    )
    await poll(hass, entry, sim_clock, freezer, times=3)
    decision = optimiser.last_decision
    assert decision is not None
    assert math.isfinite(decision.state.imported_wh)
    assert decision.command.discharge_w == 2400
    assert sim.model.battery_w == pytest.approx(-2400)
    assert optimiser_tracebacks(caplog) == []


async def test_the_plan_never_goes_below_the_backup_soc(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
) -> None:
    sim: Simulator = running_simulator.simulator
    sim.model.backup_soc_percent = 60
    sim.model.soc_percent = 80
    freezer.move_to(DAY + timedelta(hours=18, seconds=1))  # the dearest hour: discharge
    hass.states.async_set(PRICE_ENTITY, "0.5", entsoe_attributes())
    await setup_entry(
        hass, mock_config_entry, **{CONF_PRICE_ENTITY: PRICE_ENTITY, CONF_MIN_SOC: 10.0}
    )
    await switch(hass, SWITCH, True)
    active = mock_config_entry.runtime_data.optimiser.active_plan
    assert active is not None
    assert active.plan.slots[0].discharge_w > 0
    assert min(slot.soc_percent_end for slot in active.plan.slots) == pytest.approx(60, abs=0.5)


async def test_refused_commands_back_off_with_one_warning(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim: Simulator = running_simulator.simulator
    sim.indevolt_faults.reject_commands = True
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=20)
    # Tried at polls 1, 2, 4, 8 and 16 (waits of 1, 2, 4 and 8 polls), not at every poll.
    assert len(writes(sim)) == 5
    failures = [r for r in caplog.records if "Optimiser command" in r.getMessage()]
    assert [r.levelno for r in failures].count(logging.WARNING) == 1
    sim.indevolt_faults.reject_commands = False
    caplog.clear()
    await poll(hass, entry, sim_clock, freezer, times=16)  # the next try is 16 polls later
    assert sim.model.mode == model.MODE_REALTIME
    assert sim.model.battery_w < -1500
    assert "Optimiser commands work again, after 5 failed attempts" in caplog.text


async def test_a_lagging_working_mode_is_not_an_app_change(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim: Simulator = running_simulator.simulator
    sim.model.mode_report_lag_s = 10  # two polls
    await switch(hass, SWITCH, True)
    optimiser = entry.runtime_data.optimiser
    await poll(hass, entry, sim_clock, freezer, times=6)  # shaving: 47005 = 4, read back late
    assert sim.model.mode == model.MODE_REALTIME
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 300.0)
    await poll(hass, entry, sim_clock, freezer, times=8)  # no peak: 47005 = 1, read back late
    assert sim.model.mode == model.MODE_SELF_CONSUMPTION
    assert mode_writes(sim) == [4, 1]
    assert optimiser.enabled
    assert "changed outside ems" not in caplog.text


@pytest.mark.parametrize("lag_s", [0, 10])
async def test_a_working_mode_changed_in_the_app_switches_the_optimiser_off(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    caplog: pytest.LogCaptureFixture,
    lag_s: int,
) -> None:
    sim: Simulator = running_simulator.simulator
    sim.model.mode_report_lag_s = lag_s
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=6)
    assert sim.model.mode == model.MODE_REALTIME
    sim.requests.clear()
    sim.model.set_mode(model.MODE_SCHEDULE)  # what the Indevolt app does
    await poll(hass, entry, sim_clock, freezer, times=4)
    optimiser = entry.runtime_data.optimiser
    assert not optimiser.enabled
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    status = hass.states.get("sensor.indevolt_cms_sf2000_optimiser_status")
    assert status is not None
    assert status.state == "off"
    assert status.attributes["detail"] == "app_override: working mode schedule"
    assert caplog.text.count("changed outside ems") == 1
    # The person's choice stands: nothing written, not even self-consumption.
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert writes(sim) == []
    assert sim.model.mode == model.MODE_SCHEDULE


async def test_an_app_change_right_after_an_ems_write_is_seen_at_the_next_poll(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
) -> None:
    """Only the mode from before a write passes for a lagging read-back; the app's does not."""
    sim: Simulator = running_simulator.simulator
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer)  # shaving: 47005 = 4
    assert mode_writes(sim) == [4]
    sim.requests.clear()
    sim.model.set_mode(model.MODE_SCHEDULE)  # the app, before 7101 reported the write
    await poll(hass, entry, sim_clock, freezer)
    optimiser = entry.runtime_data.optimiser
    assert not optimiser.enabled
    assert optimiser.off_reason == "app_override: working mode schedule"
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert writes(sim) == []
    assert sim.model.mode == model.MODE_SCHEDULE


async def test_an_app_change_while_idle_in_self_consumption_is_seen_too(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim: Simulator = running_simulator.simulator
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 300.0)
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert entry.runtime_data.optimiser.enabled
    sim.model.set_mode(model.MODE_REALTIME)
    await poll(hass, entry, sim_clock, freezer)
    optimiser = entry.runtime_data.optimiser
    assert not optimiser.enabled
    assert optimiser.off_reason == "app_override: working mode realtime"


async def test_without_usable_readings_for_a_minute_the_battery_goes_back_to_self_consumption(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim: Simulator = running_simulator.simulator
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 9000.0)
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert sim.model.mode == model.MODE_REALTIME
    clean = sim.model.p1_data
    monkeypatch.setattr(sim.model, "p1_data", lambda: {**clean(), "active_power_w": math.nan})
    sim.requests.clear()
    await poll(hass, entry, sim_clock, freezer, times=11)  # 55 s: the discharge holds
    assert writes(sim) == []
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert writes(sim) == [(47005, [1])]
    assert "No usable readings for 60 s" in caplog.text
    assert entry.runtime_data.optimiser.enabled
    # Readings back: shaving again.
    monkeypatch.setattr(sim.model, "p1_data", clean)
    await poll(hass, entry, sim_clock, freezer, times=2)
    assert sim.model.mode == model.MODE_REALTIME
    assert sim.model.battery_w == pytest.approx(-2400)


async def test_a_mode_switch_whose_reply_was_lost_is_not_an_app_change(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim: Simulator = running_simulator.simulator
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 300.0)
    await switch(hass, SWITCH, True)
    await poll(hass, entry, sim_clock, freezer, times=2)
    indevolt = entry.runtime_data.coordinator.indevolt
    switch_mode = indevolt.set_working_mode

    async def lost_reply(mode: WorkingMode) -> None:
        await switch_mode(mode)  # the battery switches ...
        raise DeviceTimeoutError("timed out")  # ... but ems never hears so

    monkeypatch.setattr(indevolt, "set_working_mode", lost_reply)
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 6000.0)
    await poll(hass, entry, sim_clock, freezer)  # the shave's 47005 = 4 "fails"
    assert sim.model.mode == model.MODE_REALTIME
    monkeypatch.setattr(indevolt, "set_working_mode", switch_mode)
    await poll(hass, entry, sim_clock, freezer)  # 7101 = 4, not written as far as ems knows
    optimiser = entry.runtime_data.optimiser
    assert optimiser.enabled
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert optimiser.enabled
    assert sim.model.mode == model.MODE_REALTIME
    assert sim.model.battery_w < -1500  # shaving after the back-off


async def test_a_lagging_working_mode_keeps_a_users_charge_forced(
    hass: HomeAssistant,
    *,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 7101 that still says "self-consumption" after ems switched to real-time is not the
    app's doing: the controller keeps its record, and the unload gives self-consumption back."""
    sim: Simulator = running_simulator.simulator
    sim.model.mode_report_lag_s = 10  # two polls
    controller = entry.runtime_data.controller
    await controller.async_charge(1000, 90)
    await poll(hass, entry, sim_clock, freezer, times=3)
    assert "left real-time mode outside ems" not in caplog.text
    assert controller.forced_command is not None
    assert entry.runtime_data.coordinator.known_working_mode is WorkingMode.REALTIME
    await poll(hass, entry, sim_clock, freezer, times=2)  # 7101 caught up
    assert controller.forced_command is not None
    assert mode_writes(sim) == [4]

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert mode_writes(sim) == [4, 1]
    assert sim.model.mode == model.MODE_SELF_CONSUMPTION
