"""The working-mode select: shows register 7101, writes 47005 through the controller."""

from __future__ import annotations

from typing import override

from homeassistant.components.select import SelectEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import EmsCoordinator
from .entity import BatteryEntity
from .runtime_data import EmsConfigEntry
from .services import MODE_OPTIONS

# Writes are serialised by the controller anyway; one at a time keeps the UI honest.
PARALLEL_UPDATES = 1

_MODE_TO_OPTION = {mode: option for option, mode in MODE_OPTIONS.items()}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the working-mode select."""
    async_add_entities([WorkingModeSelect(entry.runtime_data.coordinator)])


class WorkingModeSelect(BatteryEntity, SelectEntity):
    """Self-consumption, real-time control or schedule; unknown in outdoor-portable mode."""

    _attr_translation_key = "working_mode"
    _attr_options = list(MODE_OPTIONS)  # noqa: RUF012

    def __init__(self, coordinator: EmsCoordinator) -> None:
        """Attach the select to the battery device, unique per entry."""
        super().__init__(coordinator, "working_mode")

    @property
    @override
    def current_option(self) -> str | None:
        """The last polled 7101, or the mode written since; None for a mode not offered."""
        mode = self.coordinator.known_working_mode
        return None if mode is None else _MODE_TO_OPTION.get(mode)

    @override
    async def async_select_option(self, option: str) -> None:
        """Write the mode (real-time mode counts as forced and is undone like a charge)."""
        await self.coordinator.config_entry.runtime_data.controller.async_set_working_mode(
            MODE_OPTIONS[option]
        )
