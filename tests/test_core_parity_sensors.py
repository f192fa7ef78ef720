"""The sensors core `indevolt` has beyond the design's registers, read over HTTP from the simulator.

Cycles, bypass input energy, remaining charging / discharging time, transformer temperature
(generation 2) and the generation-1 inverter and pack temperatures: the units, classes and
enabled-by-default choices of core, the values the simulated device sends, and a slow
register read only at slow polls.
"""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.devices.indevolt_registers import (
    FAST_REGISTERS_BY_GENERATION,
    SLOW_REGISTERS_BY_GENERATION,
)
from ems_simulator import DeviceSettings, RunningSimulator, Simulator
from ems_simulator.indevolt_device import device_registers

from .conftest import INDEVOLT_SERIAL, SIM_START, FakeClock

GEN_2 = "sensor.indevolt_cms_sf2000_"
GEN_1 = "sensor.indevolt_cms_bk1600_"


@pytest.fixture(autouse=True)
def only_sensors():
    with patch("custom_components.ems.PLATFORMS", [Platform.SENSOR]):
        yield


@pytest.fixture
def device() -> DeviceSettings:
    return DeviceSettings()


@pytest.fixture
def simulator(sim_clock: FakeClock, device: DeviceSettings) -> Simulator:
    return Simulator(clock=sim_clock, start=SIM_START, device=device)


def _registers(sim: Simulator) -> dict[int, float | int | str]:
    """What the simulated device sends now (its clock moves only when a test moves it)."""
    return device_registers(sim.model, sim.device, INDEVOLT_SERIAL)


def _entity_id(entity_registry: er.EntityRegistry, register: int) -> str:
    entity_id = entity_registry.async_get_entity_id(
        "sensor", "ems", f"{INDEVOLT_SERIAL}_{register}"
    )
    assert entity_id is not None, register
    return entity_id


@pytest.mark.parametrize(
    ("register", "unit", "device_class", "state_class"),
    [
        (8646, "cycles", None, "total_increasing"),
        (11034, "Wh", "energy", "total_increasing"),
        (11019, "min", "duration", "measurement"),
        (11020, "min", "duration", "measurement"),
        (11005, "°C", "temperature", "measurement"),
    ],
)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_generation_2_sensors_follow_core(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    *,
    register: int,
    unit: str,
    device_class: str | None,
    state_class: str,
) -> None:
    state = hass.states.get(_entity_id(entity_registry, register))
    assert state.attributes.get("unit_of_measurement") == unit
    assert state.attributes.get("device_class") == device_class
    assert state.attributes["state_class"] == state_class


async def test_rarely_used_sensors_are_disabled_by_default(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    for register in (8646, 11019, 11020, 11005):
        entry = entity_registry.async_get(_entity_id(entity_registry, register))
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION, register
    assert hass.states.get(_entity_id(entity_registry, 11034)) is not None


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_values_are_the_devices(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    running_simulator: RunningSimulator,
) -> None:
    sent = _registers(running_simulator.simulator)
    for register in (8646, 11034, 11005):
        state = hass.states.get(_entity_id(entity_registry, register))
        assert float(state.state) == pytest.approx(float(sent[register])), register


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_remaining_time_only_in_its_direction(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    running_simulator: RunningSimulator,
    sim_clock: FakeClock,
) -> None:
    """As core: the time to full while charging, to empty while discharging, else unknown."""
    coordinator = init_integration.runtime_data.coordinator
    controller = init_integration.runtime_data.controller
    charging, discharging = (
        _entity_id(entity_registry, 11019),
        _entity_id(entity_registry, 11020),
    )
    assert hass.states.get(charging).state == "unknown"  # the battery is idle
    for command, shown, hidden in (
        (controller.async_charge, charging, discharging),
        (controller.async_discharge, discharging, charging),
    ):
        await command(1000)
        sim_clock.advance(15)
        # Every slow register is read within 5 polls (tests/test_indevolt_poll_plan.py).
        for _ in range(5):
            await coordinator.async_refresh()
        await hass.async_block_till_done()
        register = 11019 if shown == charging else 11020
        minutes = _registers(running_simulator.simulator)[register]
        assert int(minutes) > 0
        assert float(hass.states.get(shown).state) == float(minutes)
        assert hass.states.get(hidden).state == "unknown"


@pytest.mark.parametrize("device", [DeviceSettings(generation=1)])
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_generation_1_temperatures(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    running_simulator: RunningSimulator,
) -> None:
    sent = _registers(running_simulator.simulator)
    for register in (7600, 7605, 7620, 7621):
        state = hass.states.get(_entity_id(entity_registry, register))
        assert float(state.state) == sent[register], register
        assert state.attributes["device_class"] == "temperature"
        assert entity_registry.async_get(state.entity_id).entity_category == "diagnostic"
    assert hass.states.get(GEN_1 + "battery_pack_2_temperature") is not None
    assert hass.states.get(GEN_2 + "transformer_temperature") is None
    for register in (8646, 11005, 11019, 11020):
        assert (
            entity_registry.async_get_entity_id("sensor", "ems", f"{INDEVOLT_SERIAL}_{register}")
            is None
        )


@pytest.mark.parametrize("generation", [1, 2])
def test_new_registers_are_slow(generation: int) -> None:
    """Slow-changing registers do not add to the one request of a fast poll."""
    new = {7600, 7605, 7620, 7621, 7171, 8646, 11005, 11019, 11020, 11034}
    assert not new & set(FAST_REGISTERS_BY_GENERATION[generation])
    assert len(FAST_REGISTERS_BY_GENERATION[generation]) <= 50
    expected = {11034} | (
        {7600, 7605, 7620, 7621} if generation == 1 else new - {7600, 7605, 7620, 7621}
    )
    assert expected <= set(SLOW_REGISTERS_BY_GENERATION[generation])


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_each_pack_reports_its_cycles(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    running_simulator: RunningSimulator,
) -> None:
    """Main pack 9003, extension pack 1 9019 (indevolt-api MAIN_CYCLES, PACK_n_CYCLES)."""
    sent = _registers(running_simulator.simulator)
    for number, register in ((0, 9003), (1, 9019)):
        entity_id = entity_registry.async_get_entity_id(
            "sensor", "ems", f"{INDEVOLT_SERIAL}_pack_{number}_{register}"
        )
        assert entity_id is not None, register
        entry = entity_registry.async_get(entity_id)
        assert entry is not None
        assert entry.entity_category is EntityCategory.DIAGNOSTIC
        state = hass.states.get(entity_id)
        assert state is not None
        assert float(state.state) == float(sent[register])
        assert state.attributes["state_class"] == "total_increasing"
