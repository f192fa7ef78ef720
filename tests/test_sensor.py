"""Sensors: every register and P1 reading with its unit and classes (snapshot), and the values."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.ems.const import CONF_INVERT_BATTERY_POWER
from custom_components.ems.devices.indevolt import DESIGN_REGISTERS
from ems_simulator import RunningSimulator

from .conftest import INDEVOLT_SERIAL, P1_SERIAL

BATTERY = "sensor.indevolt_cms_sf2000"


@pytest.fixture(autouse=True)
def only_sensors():
    with patch("custom_components.ems.PLATFORMS", [Platform.SENSOR]):
        yield


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_sensor_snapshot(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    # Home Assistant 2026.11 adds `compat_name` to registry entries (a user's name as it was
    # before the registry's 1.24 migration; None for an entity created since), and the snapshot
    # plugin writes every field: left out, one snapshot holds for 2026.10 and 2026.11.
    entries = snapshot.with_defaults(exclude=props("compat_name"))
    await snapshot_platform(hass, entity_registry, entries, init_integration.entry_id)


async def test_every_design_register_has_a_sensor(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    running_simulator: RunningSimulator,
) -> None:
    registers = running_simulator.simulator.model.registers(INDEVOLT_SERIAL)
    for register in DESIGN_REGISTERS:
        entity_id = entity_registry.async_get_entity_id(
            "sensor", "ems", f"{INDEVOLT_SERIAL}_{register}"
        )
        assert entity_id is not None, register
        state = hass.states.get(entity_id)
        assert state is not None
        if register in (7101, 6001):
            continue
        expected = registers[register] / 1000 if register == 1505 else registers[register]
        assert float(state.state) == pytest.approx(expected), register


async def test_enum_and_energy_sensors(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    assert hass.states.get(f"{BATTERY}_working_mode").state == "self_consumed"
    assert hass.states.get(f"{BATTERY}_battery_state").state in {
        "static",
        "charging",
        "discharging",
    }
    total = hass.states.get(f"{BATTERY}_total_charged_energy")
    assert total.attributes["state_class"] == "total_increasing"
    assert total.attributes["device_class"] == "energy"
    assert total.attributes["unit_of_measurement"] == "kWh"


async def test_difference_is_p1_minus_meter(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    data = init_integration.runtime_data.coordinator.data
    difference = hass.states.get(f"{BATTERY}_grid_power_difference")
    assert float(difference.state) == pytest.approx(
        data.p1.active_power_w - data.battery.meter_power_w
    )
    assert hass.states.get(f"{BATTERY}_grid_reconciliation").state == "ok"


async def test_battery_power_in_energy_dashboard_convention(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    register = coordinator.data.battery.battery_power_w
    assert float(hass.states.get(f"{BATTERY}_battery_power").state) == -register
    hass.config_entries.async_update_entry(
        init_integration, options={**init_integration.options, CONF_INVERT_BATTERY_POWER: True}
    )
    await hass.async_block_till_done()
    assert float(hass.states.get(f"{BATTERY}_battery_power").state) == register


async def test_missing_registers_are_unknown_not_errors(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    running_simulator.simulator.indevolt_faults.missing_registers = {6002, 7101, 6000}
    await init_integration.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(f"{BATTERY}_state_of_charge").state == STATE_UNKNOWN
    assert hass.states.get(f"{BATTERY}_working_mode").state == STATE_UNKNOWN
    assert hass.states.get(f"{BATTERY}_battery_power").state == STATE_UNKNOWN


async def test_unknown_enum_code_is_unknown(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    with patch.dict(running_simulator.simulator.model.__dict__):
        original = running_simulator.simulator.model.registers

        def registers(serial: str) -> dict[int, float | int | str]:
            return {**original(serial), 7101: 9, 6001: 1234}

        running_simulator.simulator.model.registers = registers
        await init_integration.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()
    assert hass.states.get(f"{BATTERY}_working_mode").state == STATE_UNKNOWN
    assert hass.states.get(f"{BATTERY}_battery_state").state == STATE_UNKNOWN


async def test_string_numbers_are_normalised(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    running_simulator.simulator.indevolt_faults.string_numbers = True
    await init_integration.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert float(hass.states.get(f"{BATTERY}_state_of_charge").state) == 50
    assert hass.states.get(f"{BATTERY}_battery_state").state != STATE_UNKNOWN


async def test_p1_sensors_keyed_on_v1_names(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    for key in (
        "active_power_w",
        "montly_power_peak_w",
        "total_gas_m3",
        "total_power_import_t1_kwh",
    ):
        assert entity_registry.async_get_entity_id("sensor", "ems", f"{P1_SERIAL}_{key}"), key
    # Keys the meter does not send (a 1-phase meter has no l2/l3) are not created.
    p1_values = init_integration.runtime_data.coordinator.data.p1.values
    for key in ("active_power_l3_w", "total_power_import_t4_kwh"):
        created = entity_registry.async_get_entity_id("sensor", "ems", f"{P1_SERIAL}_{key}")
        assert (created is not None) == (key in p1_values)
