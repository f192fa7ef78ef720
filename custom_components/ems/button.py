"""The Stop button: hold the battery idle (real-time standby) until something restores it."""

from __future__ import annotations

from typing import override

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import EmsCoordinator
from .entity import BatteryEntity
from .runtime_data import EmsConfigEntry

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the Stop button."""
    async_add_entities([StopButton(entry.runtime_data.coordinator)])


class StopButton(BatteryEntity, ButtonEntity):
    """Same as `ems.stop` without a duration: standby until restored."""

    _attr_translation_key = "stop"

    def __init__(self, coordinator: EmsCoordinator) -> None:
        """Attach the button to the battery device, unique per entry."""
        super().__init__(coordinator, "stop")

    @override
    async def async_press(self) -> None:
        """Put the battery in real-time standby."""
        await self.coordinator.config_entry.runtime_data.controller.async_stop()
