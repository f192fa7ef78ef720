"""The device settings as entities (numbers, switches): shown as polled, written by the controller.

A setting's entity exists for the generations that have it and, when the battery answered at
set-up, only if it reports the setting's read register (the bypass socket exists on some models
only). A write goes through the controller (validated, serialised, logged, read back); the
entity shows the value the next poll reads, never an optimistic one.
"""

from __future__ import annotations

from homeassistant.const import EntityCategory

from .controller import BatteryController
from .coordinator import EmsCoordinator
from .devices.indevolt_registers import DeviceSetting
from .entity import BatteryEntity


def settings_present(
    coordinator: EmsCoordinator, settings: tuple[DeviceSetting, ...]
) -> list[DeviceSetting]:
    """The settings of `settings` this battery has."""
    generation = coordinator.indevolt.generation
    battery = coordinator.data.battery if coordinator.data is not None else None
    return [
        setting
        for setting in settings
        if generation in setting.generations
        and (battery is None or setting.read_register in battery.registers)
    ]


class SettingEntity(BatteryEntity):
    """One device setting on the battery's device, in the configuration section."""

    _attr_entity_category = EntityCategory.CONFIG

    def __init__(
        self, coordinator: EmsCoordinator, controller: BatteryController, setting: DeviceSetting
    ) -> None:
        """Attach the entity to the battery device; unique id `<entry unique id>_<key>`."""
        super().__init__(coordinator, setting.key)
        self.controller = controller
        self.setting = setting
        self._attr_translation_key = setting.key

    @property
    def polled_value(self) -> float | None:
        """The setting's read register as last polled, None when absent."""
        battery = self.coordinator.data.battery
        return None if battery is None else battery.number(self.setting.read_register)
