"""One device's trouble never stops the other: dead at start, refusing the password, slow,
or failing in a way the client did not foresee."""

from __future__ import annotations

import asyncio
import itertools
import logging
import statistics
import time
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import CONF_P1_KEYS, CONF_POLL_INTERVAL
from ems_simulator import RunningSimulator

SOC = "sensor.indevolt_cms_sf2000_state_of_charge"
GRID = "sensor.p1_meter_grid_power"


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def _restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def _available(hass: HomeAssistant, entity_id: str) -> bool:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state != STATE_UNAVAILABLE


async def test_dead_p1_at_start_loads_with_the_battery(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    """The P1 sensors come from the keys stored at the last poll, unavailable until it answers."""
    entry = init_integration
    assert "active_power_w" in entry.data[CONF_P1_KEYS]
    running_simulator.simulator.p1_faults.off = True
    await _restart(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert _available(hass, SOC)
    assert not _available(hass, GRID)

    running_simulator.simulator.p1_faults.off = False
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _available(hass, GRID)


async def test_dead_p1_without_stored_keys_adds_its_sensors_when_it_answers(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    running_simulator.simulator.p1_faults.http_status = 500
    await _setup(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(GRID) is None
    running_simulator.simulator.p1_faults.http_status = None
    await mock_config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _available(hass, GRID)


async def test_dead_battery_at_start_loads_with_the_p1(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    entry = init_integration
    running_simulator.simulator.indevolt_faults.off = True
    await _restart(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert _available(hass, GRID)
    assert not _available(hass, SOC)

    running_simulator.simulator.indevolt_faults.off = False
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _available(hass, SOC)
    assert entry.runtime_data.coordinator.battery_info is not None


async def test_both_dead_at_start_retries(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    running_simulator.simulator.p1_faults.off = True
    running_simulator.simulator.indevolt_faults.http_status = 500
    await _setup(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_password_required_at_start_loads_the_p1_and_starts_reauth(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    running_simulator.simulator.indevolt_faults.password = "secret"
    await _setup(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert _available(hass, GRID)
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_password_required_with_p1_dead_fails_auth(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    running_simulator.simulator.indevolt_faults.password = "secret"
    running_simulator.simulator.p1_faults.off = True
    await _setup(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_password_revoked_while_running_keeps_polling(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    """One re-authentication flow; the P1 stays live; the battery returns by itself."""
    coordinator = init_integration.runtime_data.coordinator
    faults = running_simulator.simulator.indevolt_faults
    faults.password = "secret"
    for _ in range(3):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert coordinator.last_update_success
    assert _available(hass, GRID)
    assert not _available(hass, SOC)
    # Polling goes on by itself (a ConfigEntryAuthFailed would have stopped the schedule).
    requests = len(running_simulator.simulator.requests)
    faults.password = None
    await coordinator._handle_refresh_interval()  # what the scheduled timer calls
    await hass.async_block_till_done()
    assert coordinator._unsub_refresh is not None
    assert len(running_simulator.simulator.requests) > requests
    assert _available(hass, SOC)


async def test_unexpected_error_of_one_device_is_that_devices_failure(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A RecursionError (deeply nested JSON) is not a DeviceError: still only the P1's failure."""
    coordinator = init_integration.runtime_data.coordinator
    caplog.set_level(logging.DEBUG, logger="custom_components.ems")
    with patch.object(
        coordinator.p1, "get_data", side_effect=RecursionError("maximum recursion depth")
    ):
        for _ in range(3):
            await coordinator.async_refresh()
            await hass.async_block_till_done()
        assert coordinator.last_update_success
        assert _available(hass, SOC)
        assert not _available(hass, GRID)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "unexpected RecursionError" in errors[0].getMessage()
    assert errors[0].exc_info is None
    assert sum(r.exc_info is not None for r in caplog.records) == 1
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _available(hass, GRID)
    assert caplog.text.count("is available again") == 1


@pytest.mark.parametrize("fault", ["timeout", "latency_s"])
async def test_slow_device_does_not_stretch_the_cadence(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    fault: str,
) -> None:
    """With a 1 s interval and the Indevolt answering after 0.7 s (or never, cut at its 0.8 s
    timeout), the P1 is still read every second, not every 1.7-1.8 s."""
    hass.config_entries.async_update_entry(
        init_integration, options={**init_integration.options, CONF_POLL_INTERVAL: 1}
    )
    await hass.async_block_till_done()
    faults = running_simulator.simulator.indevolt_faults
    if fault == "timeout":
        faults.timeout = True
    else:
        faults.latency_s = 0.7
    # Start the schedule at the new interval (the one in place counts the old 5 s).
    await init_integration.runtime_data.coordinator.async_refresh()
    requests = running_simulator.simulator.requests
    seen = len(requests)
    p1_times: list[float] = []
    deadline = time.monotonic() + 4.5
    while time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        for record in requests[seen:]:
            if record.device == "p1":
                p1_times.append(time.monotonic())
        seen = len(requests)
    gaps = [later - earlier for earlier, later in itertools.pairwise(p1_times)]
    assert len(gaps) >= 3
    assert statistics.median(gaps) < 1.3, gaps


async def test_a_cancelled_read_is_not_a_device_failure(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cancelled read abandons the epoch (nothing published); the P1 is not "unavailable"."""
    coordinator = init_integration.runtime_data.coordinator
    before = coordinator.data
    with patch.object(coordinator.p1, "get_data", side_effect=asyncio.CancelledError):
        await coordinator.async_refresh()
    assert coordinator.data is before
    assert "is unavailable" not in caplog.text


async def test_a_reading_garbled_at_the_first_poll_still_gets_its_sensor(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    """The meter reports the key, with a value that is no reading: the sensor exists, unknown."""
    running_simulator.simulator.p1_faults.raw_values = {"active_power_w": "NaN"}
    await _setup(hass, mock_config_entry)
    assert "active_power_w" in mock_config_entry.data[CONF_P1_KEYS]
    state = hass.states.get(GRID)
    assert state is not None
    assert state.state == STATE_UNKNOWN
    running_simulator.simulator.p1_faults.raw_values = {}
    await mock_config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _available(hass, GRID)
    assert hass.states.get(GRID).state != STATE_UNKNOWN  # type: ignore[union-attr]
