"""Soak: thousands of poll cycles with random faults, checking that nothing accumulates.

A seeded RNG switches faults on and off between polls (both devices, every kind the simulator
has, hostile replies included: nested JSON, endless and 2 MB bodies, NaN, 1e400, text and
out-of-range values; outages of one poll to a few minutes of simulated time). After a warm-up the test takes a
baseline and at the end compares: asyncio tasks, event-bus listeners, connections the simulator's
servers hold open, and memory allocated since the baseline (tracemalloc, a loose bound). The
polls run on simulated time through the fault matrix's `Harness` (no real sleeping), so the
wall time stays under a minute on two cores (about 42 s here; no timed assertion).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import tracemalloc
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from ems_simulator import Simulator

from .conftest import FakeClock
from .test_fault_matrix import DEVICES, TIMEOUT_S, Harness

SEED = 20260621
POLLS = 2000
WARM_UP_POLLS = 200
# Generous: the point is "no growth per poll" (2000 polls x even 1 kB would be 2 MB).
MAX_MEMORY_GROWTH_BYTES = 2 * 1024 * 1024

FAULTS: list[dict[str, Any]] = [
    {"off": True},
    {"timeout": True},
    {"latency_s": TIMEOUT_S - 1},
    {"latency_s": TIMEOUT_S + 1},
    {"http_status": 500},
    {"http_status": 400},
    {"malformed_json": True},
    {"drop_connection": True},
    # Hostile replies: decoder, memory and event loop (the body cap), then values.
    {"nested_json": True},
    {"endless_body": True},
    {"huge_body_bytes": 2_000_000},
]
P1_ONLY: list[dict[str, Any]] = [
    {"api_disabled": True},
    {"raw_values": {"active_power_w": "NaN", "active_tariff": "7", "total_gas_m3": '"abc"'}},
    {"raw_values": {"active_power_w": "1e400", "active_power_l1_w": "-Infinity"}},
]
INDEVOLT_ONLY: list[dict[str, Any]] = [
    {"string_numbers": True},
    {"missing_registers": {6002, 11016}},
    {"raw_values": {"6002": "250", "6000": "NaN", "11016": "1e400"}},
    {"raw_values": {"6002": "-5", "7101": '"abc"'}},
]


def open_server_connections() -> int:
    """Connections the simulator's aiohttp servers currently hold open (request handlers)."""
    return sum(len(obj.connections) for obj in gc.get_objects() if isinstance(obj, web.Server))


def listener_count(hass: HomeAssistant) -> int:
    """Every event-bus listener, summed over event types.

    A Store with a delayed save pending (the forecast log saves at most once a minute) holds one
    final-write listener until it writes: one per Store, bounded, so it is left out.
    """
    return sum(
        count
        for event, count in hass.bus.async_listeners().items()
        if event != EVENT_HOMEASSISTANT_FINAL_WRITE
    )


def allocated_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes allocated in a snapshot, the tracer's and the logging machinery's own left out."""
    filtered = snapshot.filter_traces(
        [
            tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__),
            tracemalloc.Filter(inclusive=False, filename_pattern="*/logging/__init__.py"),
        ]
    )
    return sum(stat.size for stat in filtered.statistics("filename"))


def clear_log_capture(caplog: pytest.LogCaptureFixture) -> None:
    """Forget every captured log record: caplog's and pytest's own report capture.

    The report capture keeps each record of the test until it ends, and a record keeps its
    arguments: Home Assistant logs "Error fetching ems data: %s" with the exception, whose
    traceback holds the frames that read the reply (up to the 256 KiB cap for a hostile one).
    That is test machinery, not the integration: a running Home Assistant formats and drops it.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, type(caplog.handler)):
            handler.clear()


class FaultSchedule:
    """Random faults: each poll, each device may start or end an outage."""

    def __init__(self, rng: random.Random, simulator: Simulator) -> None:
        self.rng = rng
        self.simulator = simulator
        self.remaining = dict.fromkeys(DEVICES, 0)
        self.outages = dict.fromkeys(DEVICES, 0)

    def step(self) -> None:
        """Advance one poll: end finished outages, maybe start new ones."""
        for device in DEVICES:
            faults = self.simulator.faults[device]
            if self.remaining[device] > 0:
                self.remaining[device] -= 1
                if self.remaining[device] == 0:
                    faults.reset()
                continue
            if self.rng.random() < 0.08:
                extra = P1_ONLY if device == "p1" else INDEVOLT_ONLY
                faults.update(dict(self.rng.choice(FAULTS + extra)))
                # Mostly short; now and then minutes (up to 36 polls = 3 minutes).
                self.remaining[device] = self.rng.choice((1, 1, 2, 3, 5, 12, 36))
                self.outages[device] += 1

    def clear(self) -> None:
        """Every fault off."""
        for device in DEVICES:
            self.simulator.faults[device].reset()
            self.remaining[device] = 0


async def test_soak_nothing_accumulates(
    hass: HomeAssistant,
    *,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    simulator: Simulator,
    sim_clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Keep the log capture small: thousands of polls of DEBUG lines would be the growth.
    for name in ("asyncio", "aiohttp", "homeassistant", "custom_components.ems"):
        caplog.set_level(logging.WARNING, logger=name)
    # asyncio's debug mode (on in Home Assistant's test fixture) costs more than the polls.
    asyncio.get_running_loop().set_debug(False)
    harness = Harness(hass, init_integration, simulator, sim_clock, freezer)
    schedule = FaultSchedule(random.Random(SEED), simulator)

    async def run(polls: int) -> None:
        for _ in range(polls):
            schedule.step()
            simulator.requests.clear()  # the simulator's own log is not under test
            await harness.poll()
        clear_log_capture(caplog)

    tracemalloc.start()
    try:
        await run(WARM_UP_POLLS)
        schedule.clear()
        await harness.poll()
        gc.collect()
        base_tasks = len(asyncio.all_tasks())
        base_listeners = listener_count(hass)
        base_listener_types = dict(hass.bus.async_listeners())
        base_connections = open_server_connections()
        base_snapshot = tracemalloc.take_snapshot()
        base_bytes = allocated_bytes(base_snapshot)

        await run(POLLS - WARM_UP_POLLS)
        schedule.clear()
        await harness.poll()
        gc.collect()
        end_snapshot = tracemalloc.take_snapshot()
        end_bytes = allocated_bytes(end_snapshot)
        # On failure, the biggest growth by line is in the assertion message.
        top = [str(stat) for stat in end_snapshot.compare_to(base_snapshot, "lineno")[:10]]
    finally:
        tracemalloc.stop()

    # Both devices were really faulted, many times, and both came back.
    assert min(schedule.outages.values()) >= 50, schedule.outages
    for state in hass.states.async_all("sensor"):
        if state.entity_id.startswith(("sensor.p1_meter_grid_power", "sensor.indevolt_cms")):
            assert state.state != STATE_UNAVAILABLE or "difference" in state.entity_id
    assert hass.states.get("sensor.p1_meter_grid_power").state != STATE_UNAVAILABLE
    assert hass.states.get("sensor.indevolt_cms_sf2000_state_of_charge").state != (
        STATE_UNAVAILABLE
    )

    assert len(asyncio.all_tasks()) <= base_tasks
    assert listener_count(hass) <= base_listeners, {
        event: (base_listener_types.get(event, 0), count)
        for event, count in hass.bus.async_listeners().items()
        if count != base_listener_types.get(event, 0)
    }
    assert open_server_connections() <= max(base_connections, 2)
    growth = end_bytes - base_bytes
    assert growth < MAX_MEMORY_GROWTH_BYTES, "\n".join([f"+{growth} bytes", *top])
