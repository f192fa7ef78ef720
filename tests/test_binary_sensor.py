"""The meter connection (register 7120) and the reconciliation without a meter, over HTTP."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from ems_simulator import RunningSimulator

from .conftest import FakeClock

METER = "binary_sensor.indevolt_cms_sf2000_meter_connected"
STATUS = "sensor.indevolt_cms_sf2000_grid_reconciliation"
DIFFERENCE = "sensor.indevolt_cms_sf2000_grid_power_difference"


async def _poll(entry: MockConfigEntry, sim_clock: FakeClock, seconds: float = 5.0) -> None:
    sim_clock.advance(seconds)
    await entry.runtime_data.coordinator.async_refresh()


async def test_meter_connected_is_a_diagnostic_connectivity_sensor(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    state = hass.states.get(METER)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["device_class"] == "connectivity"
    entity = entity_registry.async_get(METER)
    assert entity is not None
    assert entity.entity_category is EntityCategory.DIAGNOSTIC
    assert entity.unique_id == f"{init_integration.unique_id}_7120"


async def test_no_meter_is_no_ct_not_a_mismatch(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    sim_clock: FakeClock,
) -> None:
    model = running_simulator.simulator.model
    # An empty battery and no sun: the house draws from the grid, which the P1 meter sees.
    model.pv_peak_w = 0.0
    model.energy_wh = model.capacity_kwh * 1000 * model.backup_soc_percent / 100
    running_simulator.simulator.device.meter_connected = False
    for _ in range(4):
        await _poll(init_integration, sim_clock)
    assert hass.states.get(METER).state == STATE_OFF
    assert hass.states.get(STATUS).state == "no_ct"
    # No comparison without a meter, so no difference either.
    assert hass.states.get(DIFFERENCE).state == STATE_UNAVAILABLE

    running_simulator.simulator.device.meter_connected = True
    await _poll(init_integration, sim_clock)
    assert hass.states.get(METER).state == STATE_ON
    assert hass.states.get(STATUS).state == "ok"


async def test_meter_state_unknown_without_register(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    sim_clock: FakeClock,
) -> None:
    running_simulator.simulator.indevolt_faults.missing_registers = {7120}
    await _poll(init_integration, sim_clock)
    assert hass.states.get(METER).state == "unknown"
