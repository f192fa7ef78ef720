"""The Stop button."""

from __future__ import annotations

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from ems_simulator import RunningSimulator

from .conftest import INDEVOLT_SERIAL
from .test_services import writes

ENTITY_ID = "button.indevolt_cms_sf2000_stop"


async def test_stop_button(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    entity_registry: er.EntityRegistry,
) -> None:
    entry = entity_registry.async_get(ENTITY_ID)
    assert entry is not None
    assert entry.unique_id == f"{INDEVOLT_SERIAL}_stop"
    sim = running_simulator.simulator
    sim.requests.clear()
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: ENTITY_ID}, blocking=True
    )
    assert writes(sim) == [(47005, [4]), (47015, [0, 0, 0])]
    controller = init_integration.runtime_data.controller
    assert controller.forced_command is not None
    assert controller.forced_command.deadline is None
