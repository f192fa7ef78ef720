"""The optimiser's switches: on/off and dry run; both off by default, restored after a restart."""

from __future__ import annotations

from typing import Any, override

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import STATE_ON, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .optimiser_sensor import OptimiserEntity
from .runtime_data import EmsConfigEntry
from .setting_switch import setting_switches

# The switches only flip flags and, when switched off, queue one write through the controller.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the dry-run switch first, so a restored dry run is in place before the optimiser."""
    async_add_entities([OptimiserDryRunSwitch(entry), OptimiserSwitch(entry)])
    runtime = entry.runtime_data
    async_add_entities(setting_switches(runtime.coordinator, runtime.controller))


class OptimiserSwitch(OptimiserEntity, SwitchEntity, RestoreEntity):
    """The optimiser: on = plan, follow the plan and shave peaks; off = self-consumption."""

    _attr_translation_key = "optimiser"

    def __init__(self, entry: EmsConfigEntry) -> None:
        """Describe the switch."""
        super().__init__(entry, "optimiser")

    @override
    async def async_added_to_hass(self) -> None:
        """Switch the optimiser on again if it was on before the restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state == STATE_ON:
            await self.optimiser.async_set_enabled(True)

    @property
    @override
    def is_on(self) -> bool:
        """Whether the optimiser runs."""
        return self.optimiser.enabled

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Start the optimiser."""
        await self.optimiser.async_set_enabled(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop the optimiser and give the battery back to self-consumption."""
        await self.optimiser.async_set_enabled(False)


class OptimiserDryRunSwitch(OptimiserEntity, SwitchEntity, RestoreEntity):
    """Dry run: the optimiser plans and logs its commands but sends none."""

    _attr_translation_key = "optimiser_dry_run"
    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, entry: EmsConfigEntry) -> None:
        """Describe the switch."""
        super().__init__(entry, "optimiser_dry_run")

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the dry run from before the restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state == STATE_ON:
            await self.optimiser.async_set_dry_run(True)

    @property
    @override
    def is_on(self) -> bool:
        """Whether the optimiser only plans and logs."""
        return self.optimiser.dry_run

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Plan and log only."""
        await self.optimiser.async_set_dry_run(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Send commands again."""
        await self.optimiser.async_set_dry_run(False)
