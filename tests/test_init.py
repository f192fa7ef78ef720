"""Setting up, polling and unloading an entry against the simulator."""

from __future__ import annotations

import asyncio
import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import CONF_POLL_INTERVAL, DOMAIN
from custom_components.ems.coordinator import device_timeout_s
from ems_simulator import RunningSimulator

from .conftest import INDEVOLT_SERIAL, P1_SERIAL


async def test_setup_and_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator.data.battery is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_two_devices_registered(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    entry_id = init_integration.entry_id
    p1 = device_registry.async_get_device_by_identifier((DOMAIN, P1_SERIAL), entry_id)
    battery = device_registry.async_get_device_by_identifier((DOMAIN, INDEVOLT_SERIAL), entry_id)
    assert p1 is not None and battery is not None
    assert p1.manufacturer == "HomeWizard"
    assert p1.model_id == "HWE-P1"
    assert p1.serial_number == P1_SERIAL
    assert battery.manufacturer == "Indevolt"
    assert battery.model == "CMS-SF2000"
    assert battery.serial_number == INDEVOLT_SERIAL
    assert battery.sw_version == "T1.4.06_ROOD. 072_M4801_0000002C"
    assert (dr.CONNECTION_NETWORK_MAC, "7c:3e:82:ef:99:7f") in battery.connections


async def test_password_revoked_while_running_starts_reauth(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    running_simulator.simulator.indevolt_faults.password = "secret"
    await init_integration.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_both_devices_polled_in_the_same_epoch(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    """Both requests are in flight together: neither waits for the other's reply."""
    simulator = running_simulator.simulator
    simulator.p1_faults.latency_s = 0.3
    simulator.indevolt_faults.latency_s = 0.3
    simulator.requests.clear()
    refresh = hass.async_create_task(init_integration.runtime_data.coordinator.async_refresh())
    while len(simulator.requests) < 2:
        await asyncio.sleep(0.01)
    in_flight = [r for r in simulator.requests if r.status is None]
    assert {r.device for r in in_flight} == {"p1", "indevolt"}
    await refresh


async def test_one_device_failing_leaves_the_other_live(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    simulator = running_simulator.simulator
    soc = "sensor.indevolt_cms_sf2000_state_of_charge"
    grid = "sensor.p1_meter_grid_power"
    assert hass.states.get(soc).state != "unavailable"

    simulator.indevolt_faults.off = True
    caplog.set_level(logging.INFO)
    for _ in range(3):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert hass.states.get(soc).state == "unavailable"
    assert hass.states.get(grid).state != "unavailable"
    assert hass.states.get("sensor.indevolt_cms_sf2000_grid_reconciliation").state == "no_data"
    assert (
        hass.states.get("sensor.indevolt_cms_sf2000_grid_power_difference").state == "unavailable"
    )
    assert caplog.text.count("is unavailable") == 1

    simulator.indevolt_faults.off = False
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(soc).state != "unavailable"
    assert caplog.text.count("is available again") == 1

    simulator.p1_faults.off = True
    simulator.indevolt_faults.off = True
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert not coordinator.last_update_success
    assert hass.states.get(soc).state == "unavailable"
    assert hass.states.get(grid).state == "unavailable"
    assert hass.states.get("sensor.indevolt_cms_sf2000_grid_reconciliation").state == "no_data"


async def test_options_apply_without_reload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    hass.config_entries.async_update_entry(
        init_integration,
        options={
            **init_integration.options,
            CONF_POLL_INTERVAL: 10,
            "indevolt_request_method": "get",
        },
    )
    await hass.async_block_till_done()
    assert init_integration.runtime_data.coordinator is coordinator
    assert coordinator.update_interval is not None
    assert coordinator.update_interval.total_seconds() == 10
    assert coordinator.indevolt.method == "get"
    assert coordinator.p1.timeout_s == device_timeout_s(10)


async def test_every_entity_name_is_translated(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    from .test_hassfest_rules import _json

    english, dutch = _json("translations/en.json"), _json("translations/nl.json")
    entries = er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    assert entries
    for entry in entries:
        assert entry.translation_key, entry.entity_id
        assert entry.translation_key in english["entity"][entry.domain], entry.entity_id
        assert entry.translation_key in dutch["entity"][entry.domain], entry.entity_id
