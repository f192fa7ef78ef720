"""Identity: ids keyed on what the entry stored, migrated without losing history, and a
different battery at the entry's address refused."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN
from custom_components.ems.repair_issues import ISSUE_DIFFERENT_BATTERY
from ems_simulator import RunningSimulator

from .conftest import INDEVOLT_SERIAL, P1_SERIAL

OTHER_SERIAL = "PowerFlex2000-99999999"


def _writes(running_simulator: RunningSimulator) -> list[str]:
    return [r.path for r in running_simulator.simulator.requests if "SetData" in r.path]


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{ISSUE_DIFFERENT_BATTERY}_{entry.entry_id}")


async def test_migration_keeps_entity_ids_and_device(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Entities registered under a serial read at an earlier set-up (here the MAC fallback)
    are re-keyed on the entry's unique id: same entity id, so the same history."""
    entry = mock_config_entry
    entry.add_to_hass(hass)
    assert (entry.version, entry.minor_version) == (1, 1)
    old_battery = "7C3E82EF997F"
    soc = entity_registry.async_get_or_create(
        "sensor", DOMAIN, f"{old_battery}_6002", config_entry=entry, suggested_object_id="old_soc"
    )
    power = entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{old_battery}_battery_power",
        config_entry=entry,
        suggested_object_id="old_battery_power",
    )
    grid = entity_registry.async_get_or_create(
        "sensor", DOMAIN, f"{P1_SERIAL}_active_power_w", config_entry=entry
    )
    device = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, old_battery)},
        manufacturer="Indevolt",
        name="Indevolt CMS-SF2000",
    )

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert entry.minor_version == 2
    for entity, key in ((soc, "6002"), (power, "battery_power")):
        unique_id = f"{INDEVOLT_SERIAL}_{key}"
        assert entity_registry.async_get_entity_id("sensor", DOMAIN, unique_id) == entity.entity_id
        state = hass.states.get(entity.entity_id)
        assert state is not None and state.state not in ("unavailable", "unknown")
    assert entity_registry.async_get(grid.entity_id).unique_id == f"{P1_SERIAL}_active_power_w"
    battery = device_registry.async_get_device_by_identifier(
        (DOMAIN, INDEVOLT_SERIAL), entry.entry_id
    )
    assert battery is not None and battery.id == device.id


async def test_serial_from_the_mac_creates_no_new_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    entity_registry: er.EntityRegistry,
) -> None:
    """Register 0 missing after a firmware update: the serial falls back to the MAC. Not a
    different battery, and no `_2` duplicates."""
    entry = init_integration
    before = {
        e.entity_id for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    running_simulator.simulator.indevolt_faults.missing_registers = {0}
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator.battery_info.serial == "7C3E82EF997F"
    after = {
        e.entity_id for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert after == before
    assert _issue(hass, entry) is None


async def test_different_battery_is_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    """Another battery answers at the address (DHCP gave it the old one's): not commanded."""
    entry = init_integration
    simulator = running_simulator.simulator
    simulator.config_sn = OTHER_SERIAL
    simulator.requests.clear()
    assert not await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert _writes(running_simulator) == []
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders["serial"] == OTHER_SERIAL

    simulator.config_sn = ""
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert _issue(hass, entry) is None


async def test_different_battery_after_a_dead_start_is_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    entry = init_integration
    simulator = running_simulator.simulator
    simulator.indevolt_faults.off = True
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    simulator.indevolt_faults.off = False
    simulator.config_sn = OTHER_SERIAL
    simulator.requests.clear()
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert _issue(hass, entry) is not None
    assert not [r for r in simulator.requests if r.device == "indevolt" and "GetData" in r.path]
    assert _writes(running_simulator) == []


async def test_migration_leaves_a_duplicate_and_other_entities_alone(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A `_2` duplicate from a fallback serial cannot take the original's id: the original keeps
    its entity id and history; entities that were never serial-keyed are not touched."""
    entry = mock_config_entry
    entry.add_to_hass(hass)
    original = entity_registry.async_get_or_create(
        "sensor", DOMAIN, f"{INDEVOLT_SERIAL}_6002", config_entry=entry
    )
    duplicate = entity_registry.async_get_or_create(
        "sensor", DOMAIN, "7C3E82EF997F_6002", config_entry=entry
    )
    select = entity_registry.async_get_or_create(
        "select", DOMAIN, f"{INDEVOLT_SERIAL}_working_mode", config_entry=entry
    )
    status = entity_registry.async_get_or_create(
        "sensor", DOMAIN, f"{INDEVOLT_SERIAL}_optimiser_status", config_entry=entry
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entity_registry.async_get(original.entity_id).unique_id == original.unique_id
    assert entity_registry.async_get(duplicate.entity_id).unique_id == duplicate.unique_id
    assert entity_registry.async_get(select.entity_id).unique_id == select.unique_id
    assert entity_registry.async_get(status.entity_id).unique_id == status.unique_id
