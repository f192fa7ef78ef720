"""Number entities of the Indevolt's settings: backup SOC, feed-in, AC output and input limits."""

from __future__ import annotations

from typing import override

from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberMode
from homeassistant.const import PERCENTAGE, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .controller import BatteryController
from .coordinator import EmsCoordinator
from .device_settings import setting_range
from .devices.indevolt_registers import NUMBER_SETTINGS, DeviceSetting
from .runtime_data import EmsConfigEntry
from .setting_entity import SettingEntity, settings_present

# Writes are serialised by the controller anyway; one at a time keeps the UI honest.
PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create a number per setting this battery has."""
    coordinator, controller = entry.runtime_data.coordinator, entry.runtime_data.controller
    async_add_entities(
        SettingNumber(coordinator, controller, setting)
        for setting in settings_present(coordinator, NUMBER_SETTINGS)
    )


class SettingNumber(SettingEntity, NumberEntity):
    """A numeric setting; its range is the device's (a cluster's power limits are larger)."""

    _attr_mode = NumberMode.BOX

    def __init__(
        self, coordinator: EmsCoordinator, controller: BatteryController, setting: DeviceSetting
    ) -> None:
        """Describe the number: % for the backup SOC, W for the power limits."""
        super().__init__(coordinator, controller, setting)
        if setting.power_limit is None:
            self._attr_native_unit_of_measurement = PERCENTAGE
        else:
            self._attr_native_unit_of_measurement = UnitOfPower.WATT
            self._attr_device_class = NumberDeviceClass.POWER
        self._attr_native_step = setting.step

    def _range(self) -> tuple[int, int]:
        battery = self.coordinator.data.battery
        return setting_range(self.setting, battery, self.coordinator.indevolt.generation)

    @property
    @override
    def native_min_value(self) -> float:
        """The setting's minimum."""
        return self._range()[0]

    @property
    @override
    def native_max_value(self) -> float:
        """The setting's maximum on this device."""
        return self._range()[1]

    @property
    @override
    def native_value(self) -> float | None:
        """The value as last polled."""
        return self.polled_value

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Write the value through the controller."""
        await self.controller.async_write_setting(self.setting, round(value))
