"""Fault matrix: every fault the simulator can inject, survived by a running entry.

Each case runs a loaded entry against the simulator on simulated time: the `freezer` moves Home
Assistant's clock and the event loop's, `async_fire_time_changed` makes the coordinator poll, and
`sim_clock` moves the simulator's physics with it. Nothing sleeps for real: a hanging device is
given up on when the frozen clock is stepped past the client's timeout.

For each fault it asserts: no unhandled exception (the `hass` fixture fails a test on a logged
exception), the faulty device's entities unavailable and back, the other device's entities still
updating, exactly one warning when the outage starts and one "available again" line when it ends,
and nothing else logged at warning level or above.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
import logging
import re
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.ems.const import CONF_POLL_INTERVAL, DEFAULT_OPTIONS
from custom_components.ems.coordinator import EmsCoordinator, device_timeout_s
from ems_simulator import Simulator

from .conftest import INDEVOLT_SERIAL, P1_SERIAL, FakeClock

POLL_S = float(DEFAULT_OPTIONS[CONF_POLL_INTERVAL])  # type: ignore[arg-type]
TIMEOUT_S = device_timeout_s(POLL_S)
DEVICES = ("p1", "indevolt")
BATTERY_PREFIX = "sensor.indevolt_cms_sf2000_"
# The sensors each device's poll feeds, by unique id: every P1 reading; every Indevolt register
# (unique id `<serial>_<register>`) and the battery power. Entities about both devices (the
# reconciliation) or about neither (the optimiser's) follow other rules.
DEVICE_UNIQUE_IDS = {
    "p1": re.compile(rf"{P1_SERIAL}_\w+"),
    "indevolt": re.compile(rf"{INDEVOLT_SERIAL}_(\d+|battery_power)"),
}
LOGGER_NAME = "custom_components.ems"
# Real seconds a poll may take to finish its HTTP exchanges on 127.0.0.1 (a safety net only).
REAL_WAIT_S = 20.0
# Steps of the frozen clock while a slow or hanging device is waited on.
CLOCK_STEP_S = 0.25


def real_monotonic() -> float:
    """Real monotonic time: freezegun patches time.monotonic, not clock_gettime."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class Harness:
    """Drives polls of a loaded entry on simulated time and records what each device did."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MockConfigEntry,
        simulator: Simulator,
        sim_clock: FakeClock,
        freezer: FrozenDateTimeFactory,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.simulator = simulator
        self.sim_clock = sim_clock
        self.freezer = freezer
        self.coordinator: EmsCoordinator = entry.runtime_data.coordinator
        # Completed get_data calls per device (success or error): a poll has finished a device
        # when its count moved. Instance attributes shadow the clients' methods.
        self.finished = dict.fromkeys(DEVICES, 0)
        self._track(self.coordinator.p1, "p1")
        self._track(self.coordinator.indevolt, "indevolt")

    def _track(self, client: Any, device: str) -> None:
        original: Callable[..., Awaitable[Any]] = client.get_data

        async def get_data(*args: Any, **kwargs: Any) -> Any:
            try:
                return await original(*args, **kwargs)
            finally:
                self.finished[device] += 1

        client.get_data = get_data

    def slow_devices(self) -> set[str]:
        """Devices that will not answer before the frozen clock moves (latency or hang)."""
        return {
            device
            for device in DEVICES
            if self.simulator.faults[device].timeout or self.simulator.faults[device].latency_s
        }

    async def run_until(self, predicate: Callable[[], bool], what: str) -> None:
        """Let the loop run (real I/O on 127.0.0.1, frozen clock) until `predicate` holds."""
        give_up = real_monotonic() + REAL_WAIT_S
        while not predicate():
            if real_monotonic() > give_up:
                raise AssertionError(f"gave up waiting for {what}")
            await asyncio.sleep(0)

    def _refresh_running(self) -> bool:
        return any(not task.done() for task in self.entry._background_tasks)

    def _replied(self, device: str) -> bool:
        """Whether the device's latest request got its reply from the simulator."""
        records = [r for r in self.simulator.requests if r.device == device]
        return bool(records) and records[-1].status is not None

    async def poll(self, seconds: float = POLL_S) -> None:
        """Move simulated time by `seconds`, run the poll that falls due, wait for its end."""
        target = {device: count + 1 for device, count in self.finished.items()}
        self.sim_clock.advance(seconds)
        self.freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(self.hass)
        slow = self.slow_devices()
        await self.run_until(
            lambda: all(self.finished[d] >= target[d] for d in DEVICES if d not in slow),
            "the answering devices",
        )
        # Step the frozen clock for the slow ones (their latency sleeps and the client's
        # timeout run on loop time), only now, so no answering device is timed out by it.
        # After each step, a reply the simulator has sent is awaited before the next step.
        stepped_s = 0.0
        while pending := [d for d in slow if self.finished[d] < target[d]]:
            # Up to two timeouts: a restore holding the battery lock, then the poll's own read.
            assert stepped_s <= 2 * TIMEOUT_S + 1, "a slow device outlived the client timeout"
            self.freezer.tick(timedelta(seconds=CLOCK_STEP_S))
            stepped_s += CLOCK_STEP_S
            for _ in range(3):  # let the timers that fell due run
                await asyncio.sleep(0)
            for device in pending:
                if self._replied(device):
                    # The read ends, or sends its next batch (a poll of the slow registers
                    # takes two requests), which the next clock step answers.
                    await self.run_until(
                        lambda d=device: self.finished[d] >= target[d] or not self._replied(d),
                        "a late reply",
                    )
        await self.run_until(lambda: not self._refresh_running(), "the refresh")
        await self.settle()

    def _busy(self) -> bool:
        current = asyncio.current_task()
        return self._refresh_running() or any(
            not task.done() for task in self.hass._tasks if task is not current
        )

    async def settle(self) -> None:
        """Wait for the work a poll started (a battery restore, state writes).

        Such work may wait on a slow device, whose timeout runs on loop time: then the frozen
        clock is stepped, as in `poll`.
        """
        stepped_s = 0.0
        give_up = real_monotonic() + REAL_WAIT_S
        while self._busy():
            assert real_monotonic() < give_up, "gave up waiting for the poll's work"
            for _ in range(3):
                await asyncio.sleep(0)
            if self._busy() and self.slow_devices():
                assert stepped_s <= 2 * TIMEOUT_S + 1, "a slow device outlived the client timeout"
                self.freezer.tick(timedelta(seconds=CLOCK_STEP_S))
                stepped_s += CLOCK_STEP_S
        await self.hass.async_block_till_done()

    def states(self, device: str) -> dict[str, State]:
        """The sensors fed by one device's poll (P1 readings, or Indevolt registers)."""
        pattern = DEVICE_UNIQUE_IDS[device]
        registry = er.async_get(self.hass)
        return {
            entry.entity_id: state
            for entry in er.async_entries_for_config_entry(registry, self.entry.entry_id)
            if entry.domain == "sensor"
            and pattern.fullmatch(entry.unique_id)
            and (state := self.hass.states.get(entry.entity_id)) is not None
        }


def other(device: str) -> str:
    """The other device."""
    return "indevolt" if device == "p1" else "p1"


def ems_records(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    """Records of the integration's logger whose message contains `text`."""
    return [
        record
        for record in caplog.records
        if record.name.startswith(LOGGER_NAME) and text in record.getMessage()
    ]


def loud_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Every warning or worse, from anywhere, except the integration's outage warnings.

    asyncio's debug-mode "Executing <task> took 5.000 seconds" is left out: it measures loop
    time, which the frozen clock jumps while the test task runs.
    """
    return [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING
        and "is unavailable:" not in record.getMessage()
        and not (record.name == "asyncio" and str(record.msg).startswith("Executing "))
    ]


@pytest.fixture
async def harness(
    hass: HomeAssistant,
    *,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    simulator: Simulator,
    sim_clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Harness]:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    harness = Harness(hass, init_integration, simulator, sim_clock, freezer)
    yield harness
    # Teardown, also after a failure: every fault off, and the clock moved past any hang, so
    # no request waits on the frozen clock while the entry unloads.
    for faults in simulator.faults.values():
        faults.reset()
    freezer.tick(timedelta(hours=2))


# One outage per row: the device, the fault knobs, how many polls it lasts, and a text the
# outage warning must contain. 60 polls = 5 minutes of a device switched off.
# The hostile replies (nested JSON, an endless or a 20 MB body) are outages of that device only.
OUTAGES: list[tuple[str, dict[str, Any], int, str]] = [
    ("p1", {"off": True}, 60, "connection closed by the device"),
    ("p1", {"timeout": True}, 3, "timed out after"),
    ("p1", {"latency_s": TIMEOUT_S + 1}, 3, "timed out after"),
    ("p1", {"http_status": 500}, 3, "HTTP status 500"),
    ("p1", {"http_status": 400}, 3, "HTTP status 400"),
    ("p1", {"malformed_json": True}, 3, "not JSON"),
    ("p1", {"drop_connection": True}, 3, "reply cut off"),
    ("p1", {"api_disabled": True}, 3, "not enabled"),
    ("p1", {"nested_json": True}, 3, "not JSON (nested too deeply)"),
    ("p1", {"endless_body": True}, 3, "reply too large"),
    ("p1", {"huge_body_bytes": 20_000_000}, 3, "reply too large"),
    ("indevolt", {"off": True}, 60, "connection closed by the device"),
    ("indevolt", {"timeout": True}, 3, "timed out after"),
    ("indevolt", {"latency_s": TIMEOUT_S + 1}, 3, "timed out after"),
    ("indevolt", {"http_status": 500}, 3, "HTTP status 500"),
    ("indevolt", {"http_status": 400}, 3, "HTTP status 400"),
    ("indevolt", {"malformed_json": True}, 3, "not JSON"),
    ("indevolt", {"drop_connection": True}, 3, "reply cut off"),
    ("indevolt", {"nested_json": True}, 3, "not JSON (nested too deeply)"),
    ("indevolt", {"endless_body": True}, 3, "reply too large"),
    ("indevolt", {"huge_body_bytes": 20_000_000}, 3, "reply too large"),
]


def _outage_id(row: tuple[str, dict[str, Any], int, str]) -> str:
    device, faults, polls, _ = row
    knobs = "+".join(f"{k}={v}" for k, v in faults.items())
    return f"{device}-{knobs}-{polls}polls"


@pytest.mark.parametrize(
    ("device", "faults", "polls", "reason"), OUTAGES, ids=[_outage_id(r) for r in OUTAGES]
)
async def test_outage_and_recovery(
    harness: Harness,
    *,
    caplog: pytest.LogCaptureFixture,
    device: str,
    faults: dict[str, Any],
    polls: int,
    reason: str,
) -> None:
    """One device fails for a while: its entities go and come back, the other's keep going."""
    await harness.poll()
    down_device, up_device = device, other(device)
    assert harness.states(down_device) and harness.states(up_device)
    assert all(s.state != STATE_UNAVAILABLE for s in harness.states(down_device).values())

    harness.simulator.faults[device].update(faults)
    for _ in range(polls):
        reported_before = {k: s.last_reported for k, s in harness.states(up_device).items()}
        await harness.poll()
        assert harness.coordinator.last_update_success
        down = harness.states(down_device)
        assert all(s.state == STATE_UNAVAILABLE for s in down.values()), down
        up = harness.states(up_device)
        assert all(s.state != STATE_UNAVAILABLE for s in up.values())
        # The other device's sensors were written by this very poll.
        assert [k for k in reported_before if up[k].last_reported <= reported_before[k]] == []
    assert (
        harness.hass.states.get("sensor.indevolt_cms_sf2000_grid_power_difference").state
        == STATE_UNAVAILABLE
    )

    harness.simulator.faults[device].reset()
    await harness.poll()
    await harness.poll()
    assert all(s.state != STATE_UNAVAILABLE for s in harness.states(down_device).values())
    assert (
        harness.hass.states.get("sensor.indevolt_cms_sf2000_grid_power_difference").state
        != STATE_UNAVAILABLE
    )

    warnings = ems_records(caplog, "is unavailable:")
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert reason in warnings[0].getMessage()
    name = "P1 meter at" if device == "p1" else "Indevolt at"
    assert warnings[0].getMessage().startswith(name)
    recoveries = ems_records(caplog, "is available again")
    assert [r.getMessage().startswith(name) for r in recoveries] == [True]
    assert loud_records(caplog) == []
    assert_no_port_logged(harness, caplog)


def assert_no_port_logged(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """No log line carries a device's port or an aiohttp connection key (item 18 of issue 11)."""
    ports = {str(harness.coordinator.p1.port), str(harness.coordinator.indevolt.port)}
    for record in caplog.records:
        if record.name.startswith(LOGGER_NAME) or record.name.startswith("homeassistant"):
            message = record.getMessage()
            assert "ConnectionKey" not in message, message
            assert not any(port in message for port in ports), message


@pytest.mark.parametrize("device", DEVICES)
async def test_latency_within_timeout_is_no_outage(
    harness: Harness, caplog: pytest.LogCaptureFixture, device: str
) -> None:
    """A slow device that still answers in time stays available, and nothing is logged."""
    harness.simulator.faults[device].latency_s = TIMEOUT_S - 1
    for _ in range(3):
        await harness.poll()
        for each in DEVICES:
            assert all(s.state != STATE_UNAVAILABLE for s in harness.states(each).values())
    assert ems_records(caplog, "is unavailable") == []
    assert loud_records(caplog) == []


async def test_both_devices_off_for_minutes(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Both devices off for ten minutes: everything unavailable, one line each, then back."""
    await harness.poll()
    for faults in harness.simulator.faults.values():
        faults.off = True
    for _ in range(120):
        await harness.poll()
        assert not harness.coordinator.last_update_success
    for each in DEVICES:
        assert all(s.state == STATE_UNAVAILABLE for s in harness.states(each).values())
    reconciliation = harness.hass.states.get("sensor.indevolt_cms_sf2000_grid_reconciliation")
    assert reconciliation.state == "no_data"

    for faults in harness.simulator.faults.values():
        faults.off = False
    await harness.poll()
    await harness.poll()
    assert harness.coordinator.last_update_success
    for each in DEVICES:
        assert all(s.state != STATE_UNAVAILABLE for s in harness.states(each).values())

    assert len(ems_records(caplog, "P1 meter at 127.0.0.1 is unavailable")) == 1
    assert len(ems_records(caplog, "Indevolt at 127.0.0.1 is unavailable")) == 1
    assert len(ems_records(caplog, "is available again")) == 2
    # Home Assistant's coordinator adds its own error line once per total outage, and its
    # recovery line once: no line per failed poll.
    loud = loud_records(caplog)
    assert len(loud) == 1, [r.getMessage() for r in loud]
    assert loud[0].levelno == logging.ERROR
    assert "Error fetching ems data" in loud[0].getMessage()
    assert len([r for r in caplog.records if "Fetching ems data recovered" in r.getMessage()]) == 1


async def test_flapping_device_logs_each_outage_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Three separate outages of two polls each: three warnings, three recoveries."""
    faults = harness.simulator.indevolt_faults
    for _ in range(3):
        faults.http_status = 500
        await harness.poll()
        await harness.poll()
        faults.http_status = None
        await harness.poll()
    assert len(ems_records(caplog, "Indevolt at 127.0.0.1 is unavailable")) == 3
    assert len(ems_records(caplog, "Indevolt at 127.0.0.1 is available again")) == 3
    assert loud_records(caplog) == []


async def test_missing_registers(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Registers the firmware stops reporting: their sensors unknown, the rest live, no outage."""
    await harness.poll()
    harness.simulator.indevolt_faults.missing_registers = {6002, 6000, 11016}
    await harness.poll()
    states = harness.states("indevolt")
    assert states[f"{BATTERY_PREFIX}state_of_charge"].state == STATE_UNKNOWN
    assert states[f"{BATTERY_PREFIX}battery_power"].state == STATE_UNKNOWN
    assert states[f"{BATTERY_PREFIX}grid_power_battery_ct"].state == STATE_UNKNOWN
    assert states[f"{BATTERY_PREFIX}working_mode"].state == "self_consumed"
    assert float(states[f"{BATTERY_PREFIX}total_production"].state) > 0
    assert harness.hass.states.get(f"{BATTERY_PREFIX}grid_power_difference").state == (
        STATE_UNAVAILABLE
    )

    harness.simulator.indevolt_faults.missing_registers = set()
    await harness.poll()
    assert float(harness.hass.states.get(f"{BATTERY_PREFIX}state_of_charge").state) > 0
    assert ems_records(caplog, "is unavailable") == []
    assert loud_records(caplog) == []


async def test_string_numbers(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Numbers sent as strings read exactly as numbers do."""
    await harness.poll()
    plain = {k: s.state for k, s in harness.states("indevolt").items()}
    harness.simulator.indevolt_faults.string_numbers = True
    # Same simulated instant (no time moves), so the same register values.
    await harness.coordinator.async_refresh()
    await harness.hass.async_block_till_done()
    assert {k: s.state for k, s in harness.states("indevolt").items()} == plain
    assert float(plain[f"{BATTERY_PREFIX}state_of_charge"]) == pytest.approx(50, abs=1)
    assert ems_records(caplog, "is unavailable") == []
    assert loud_records(caplog) == []


# -- implausible readings: that sensor unknown, no traceback, one warning per episode ----------

# The device, its implausible values (raw JSON text) and the sensors that must become unknown.
GARBAGE: list[tuple[str, dict[str, str], set[str]]] = [
    (
        "p1",
        {
            "active_power_w": "NaN",
            "active_power_l1_w": "1e400",
            "active_tariff": "7",
            "total_gas_m3": '"abc"',
        },
        {
            "sensor.p1_meter_grid_power",
            "sensor.p1_meter_grid_power_phase_1",
            "sensor.p1_meter_active_tariff",
            "sensor.p1_meter_gas",
        },
    ),
    (
        "indevolt",
        {"6002": "250", "6105": "-5", "6000": "NaN", "11016": "Infinity"},
        {
            f"{BATTERY_PREFIX}state_of_charge",
            f"{BATTERY_PREFIX}backup_state_of_charge",
            f"{BATTERY_PREFIX}battery_power",
            f"{BATTERY_PREFIX}battery_power_device_sign",
            f"{BATTERY_PREFIX}grid_power_battery_ct",
        },
    ),
]


@pytest.mark.parametrize(("device", "raw_values", "unknown"), GARBAGE, ids=["p1", "indevolt"])
async def test_implausible_readings(
    harness: Harness,
    *,
    caplog: pytest.LogCaptureFixture,
    device: str,
    raw_values: dict[str, str],
    unknown: set[str],
) -> None:
    """NaN, 1e400, text, a tariff of 7, SOC 250 %: those sensors unknown while the rest of both
    devices keeps updating; one warning per reading and episode, no traceback."""
    await harness.poll()
    states = harness.states(device)
    assert all(states[entity_id].state != STATE_UNKNOWN for entity_id in unknown)
    harness.simulator.faults[device].raw_values = raw_values
    for _ in range(3):
        before = {
            each: {k: s.last_reported for k, s in harness.states(each).items()} for each in DEVICES
        }
        await harness.poll()
        assert harness.coordinator.last_update_success
        for each in DEVICES:
            now = harness.states(each)
            garbage = unknown if each == device else set()
            for entity_id, state in now.items():
                if entity_id in garbage:
                    assert state.state == STATE_UNKNOWN, entity_id
                else:
                    assert state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE), entity_id
                assert state.last_reported > before[each][entity_id], entity_id
    data = harness.coordinator.data
    invalid = data.p1.invalid_keys if device == "p1" else data.battery.invalid_registers
    assert {str(key) for key in invalid} == set(raw_values)

    harness.simulator.faults[device].raw_values = {}
    await harness.poll()
    states = harness.states(device)
    assert all(states[entity_id].state != STATE_UNKNOWN for entity_id in unknown)

    rejected = ems_records(caplog, "rejected (")
    assert len(rejected) == len(raw_values), [r.getMessage() for r in rejected]
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in rejected)
    assert len(ems_records(caplog, "is valid again")) == len(raw_values)
    assert [r for r in loud_records(caplog) if r not in rejected] == []
    assert ems_records(caplog, "is unavailable") == []


# -- control faults: the battery is never left forced ------------------------------------------


def set_data_writes(simulator: Simulator, register: int) -> list[tuple[list[int], int | None]]:
    """Values and reply status of every SetData request for `register`, oldest first."""
    return [
        (r.config["v"], r.status)
        for r in simulator.requests
        if r.path.endswith("SetData") and isinstance(r.config, dict) and r.config["t"] == register
    ]


def assert_nothing_forced(harness: Harness) -> None:
    """Self-consumption restored on the device, no forced state nor pending restore in ems."""
    controller = harness.entry.runtime_data.controller
    assert controller.forced_command is None
    assert not controller.restore_pending
    assert harness.simulator.model.mode == 1
    writes = set_data_writes(harness.simulator, 47005)
    assert writes and writes[-1] == ([1], 200)


async def call(harness: Harness, action: str, **data: Any) -> None:
    """Call an ems.* action; a slow device is waited on by stepping the frozen clock."""
    task = harness.hass.async_create_task(
        harness.hass.services.async_call("ems", action, data, blocking=True)
    )
    stepped_s = 0.0
    while not task.done():
        await asyncio.sleep(0)
        if harness.slow_devices() and not task.done():
            assert stepped_s <= 2 * TIMEOUT_S + 1
            harness.freezer.tick(timedelta(seconds=CLOCK_STEP_S))
            stepped_s += CLOCK_STEP_S
    await task


async def test_rejected_charge_changes_nothing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The device rejects the mode switch of a charge: an error, nothing forced, no restore."""
    await harness.poll()
    harness.simulator.indevolt_faults.reject_commands = True
    with pytest.raises(HomeAssistantError):
        await call(harness, "charge", power=1000, target_soc=90)
    await harness.poll()
    controller = harness.entry.runtime_data.controller
    assert controller.forced_command is None
    assert not controller.restore_pending
    assert harness.simulator.model.mode == 1
    assert set_data_writes(harness.simulator, 47015) == []
    assert loud_records(caplog) == []


async def test_rejections_during_a_charge(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A charge runs; the device then rejects everything, also the restore when the charge's
    minute ends; the restore is retried while polls succeed and lands once it is accepted."""
    await harness.poll()
    await call(harness, "charge", power=1200, target_soc=95, duration=1)
    controller = harness.entry.runtime_data.controller
    assert controller.forced_command is not None
    assert harness.simulator.model.mode == 4
    assert harness.simulator.model.command.action == 1

    harness.simulator.indevolt_faults.reject_commands = True
    with pytest.raises(HomeAssistantError):
        await call(harness, "discharge", power=800, target_soc=20)
    # The charge still holds: the rejected discharge replaced nothing.
    assert controller.forced_command is not None
    assert controller.forced_command.kind == "charge"
    assert harness.simulator.model.command.action == 1

    for _ in range(14):  # past the one-minute duration, restores rejected
        await harness.poll()
    assert controller.forced_command is not None
    assert controller.restore_pending
    assert harness.simulator.model.mode == 4
    rejected = set_data_writes(harness.simulator, 47005)[-1]
    assert rejected == ([1], 200)  # asked, answered {"result": false}

    harness.simulator.indevolt_faults.reject_commands = False
    await harness.poll()
    assert_nothing_forced(harness)
    restore_warnings = [
        record
        for record in ems_records(caplog, "Could not restore self-consumption mode")
        if record.levelno >= logging.WARNING
    ]
    assert len(restore_warnings) == 1, "the failed restore is reported once, not per retry"
    # Battery sensors stayed live throughout: a rejection is not an outage.
    assert ems_records(caplog, "is unavailable") == []


@pytest.mark.parametrize(
    "fault", [{"off": True}, {"timeout": True}, {"http_status": 500}, {"drop_connection": True}]
)
async def test_indevolt_lost_during_a_charge(
    harness: Harness, caplog: pytest.LogCaptureFixture, fault: dict[str, Any]
) -> None:
    """The Indevolt goes away for minutes in the middle of a charge whose duration ends
    meanwhile: when it answers again, self-consumption is restored, once, and nothing is
    left forced."""
    await harness.poll()
    await call(harness, "charge", power=1500, target_soc=95, duration=1)
    harness.simulator.indevolt_faults.update(fault)
    for _ in range(36):  # three minutes without the device; the charge's minute ends
        await harness.poll()
        assert harness.simulator.model.mode == 4  # the device itself keeps charging
    controller = harness.entry.runtime_data.controller
    assert controller.forced_command is not None
    assert controller.restore_pending

    harness.simulator.indevolt_faults.reset()
    await harness.poll()
    await harness.poll()
    assert_nothing_forced(harness)
    assert len(ems_records(caplog, "Indevolt at 127.0.0.1 is unavailable")) == 1
    assert len(ems_records(caplog, "Indevolt at 127.0.0.1 is available again")) == 1
    assert len(ems_records(caplog, "Restored self-consumption mode")) == 1


@pytest.mark.parametrize("fault", [{"timeout": True}, {"drop_connection": True}])
async def test_charge_command_lost_in_transit(
    harness: Harness, caplog: pytest.LogCaptureFixture, fault: dict[str, Any]
) -> None:
    """The charge's own request gets no reply (the device may have switched): the action
    fails, and real-time mode is undone as soon as the Indevolt answers again."""
    await harness.poll()
    harness.simulator.indevolt_faults.update(fault)
    with pytest.raises(HomeAssistantError):
        await call(harness, "charge", power=1000, target_soc=90)
    controller = harness.entry.runtime_data.controller
    assert controller.restore_pending
    harness.simulator.indevolt_faults.reset()
    await harness.poll()
    await harness.poll()
    assert_nothing_forced(harness)
    assert len(ems_records(caplog, "Restored self-consumption mode")) == 1
