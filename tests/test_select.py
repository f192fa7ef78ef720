"""The working-mode select."""

from __future__ import annotations

from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from ems_simulator import RunningSimulator, Simulator

from .conftest import INDEVOLT_SERIAL
from .test_services import writes

ENTITY_ID = "select.indevolt_cms_sf2000_working_mode"


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


async def select(hass: HomeAssistant, option: str) -> None:
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: ENTITY_ID, ATTR_OPTION: option},
        blocking=True,
    )


async def test_select_entity(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    entry = entity_registry.async_get(ENTITY_ID)
    assert entry is not None
    assert entry.unique_id == f"{INDEVOLT_SERIAL}_working_mode"
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.state == "self_consumed"
    assert state.attributes["options"] == ["self_consumed", "realtime", "schedule"]


@pytest.mark.parametrize(("option", "value"), [("realtime", 4), ("schedule", 5)])
async def test_select_writes_the_mode(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    option: str,
    value: int,
) -> None:
    sim.requests.clear()
    await select(hass, option)
    assert writes(sim) == [(47005, [value])]
    assert hass.states.get(ENTITY_ID).state == option


async def test_outdoor_portable_is_unknown(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.model.mode = 0
    await init_integration.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_ID).state == STATE_UNKNOWN


async def test_select_error(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.indevolt_faults.reject_commands = True
    with pytest.raises(HomeAssistantError) as err:
        await select(hass, "schedule")
    assert err.value.translation_key == "command_rejected"
    assert hass.states.get(ENTITY_ID).state == "self_consumed"
