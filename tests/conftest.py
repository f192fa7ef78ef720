"""Shared fixtures: the device simulator served on 127.0.0.1 inside the test's event loop.

- `sim_clock`: a `FakeClock` (callable, seconds) that drives the simulator; `sim_clock.advance(s)`.
- `simulator`: an `ems_simulator.Simulator` on that clock, starting 2026-06-21 12:00 UTC at 50 %
  SOC. Its fault knobs are `simulator.p1_faults` / `simulator.indevolt_faults` (`Faults`), its
  request log `simulator.requests` (`RequestRecord`s), its physics `simulator.model`.
  Override this fixture in a test module to start it differently.
- `running_simulator`: serves `simulator` on free ports of 127.0.0.1 (enables sockets) and yields
  a `RunningSimulator` (`.p1_port`, `.indevolt_port`, `.p1_url`, `.indevolt_url`, `.simulator`).
- `device_session`: a plain aiohttp `ClientSession`, closed after the test.
- `load_fixture_json(name)`: a device reply from `tests/fixtures/` (copies of the shared ones).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any
from unittest.mock import PropertyMock, patch

import aiohttp
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.ems.const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_INDEVOLT_SERIAL,
    CONF_P1_HOST,
    CONF_P1_SERIAL,
    CONF_REQUEST_METHOD,
    DEFAULT_OPTIONS,
    DOMAIN,
)
from ems_simulator import RunningSimulator, Simulator, serve

FIXTURES = Path(__file__).parent / "fixtures"
SIM_START = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(sim_clock: FakeClock) -> Simulator:
    return Simulator(clock=sim_clock, start=SIM_START)


@pytest.fixture
async def running_simulator(
    socket_enabled: None, simulator: Simulator
) -> AsyncIterator[RunningSimulator]:
    async with serve(simulator) as running:
        yield running


@pytest.fixture
async def device_session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def load_fixture_json() -> Callable[[str], Any]:
    def load(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text(encoding="utf-8"))

    return load


# -- Home Assistant fixtures ------------------------------------------------------------------

INDEVOLT_SERIAL = "PowerFlex2000-12345678"
P1_SERIAL = "3c39e7aabbcc"


@pytest.fixture
def mock_config_entry(running_simulator: RunningSimulator) -> MockConfigEntry:
    """An entry pointing at the running simulator, every option at its default."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="CMS-SF2000 + P1 meter",
        unique_id=INDEVOLT_SERIAL,
        data={
            CONF_P1_HOST: f"127.0.0.1:{running_simulator.p1_port}",
            CONF_INDEVOLT_HOST: f"127.0.0.1:{running_simulator.indevolt_port}",
            CONF_INDEVOLT_PASSWORD: None,
            CONF_P1_SERIAL: P1_SERIAL,
            CONF_INDEVOLT_SERIAL: INDEVOLT_SERIAL,
            CONF_REQUEST_METHOD: "post",
        },
        options=dict(DEFAULT_OPTIONS),
    )


@pytest.fixture
async def init_integration(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
) -> MockConfigEntry:
    """Set up the entry against the simulator."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with Home Assistant's serializer (stable ids and timestamps)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)
