"""Switch entities of the Indevolt's settings: grid charging allowed, the bypass socket."""

from __future__ import annotations

from typing import Any, override

from homeassistant.components.switch import SwitchEntity

from .controller import BatteryController
from .coordinator import EmsCoordinator
from .devices.indevolt_registers import SWITCH_SETTINGS
from .setting_entity import SettingEntity, settings_present


def setting_switches(
    coordinator: EmsCoordinator, controller: BatteryController
) -> list[SettingSwitch]:
    """A switch per on/off setting this battery has."""
    return [
        SettingSwitch(coordinator, controller, setting)
        for setting in settings_present(coordinator, SWITCH_SETTINGS)
    ]


class SettingSwitch(SettingEntity, SwitchEntity):
    """An on/off setting, written 1 / 0 and read back as the device reports it."""

    @property
    @override
    def is_on(self) -> bool | None:
        """On or off as last polled; None for a value that is neither."""
        value = self.polled_value
        if value == self.setting.on_value:
            return True
        if value == self.setting.off_value:
            return False
        return None

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Write 1 through the controller."""
        await self.controller.async_write_setting(self.setting, 1)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Write 0 through the controller."""
        await self.controller.async_write_setting(self.setting, 0)
