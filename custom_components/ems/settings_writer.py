"""The battery's settings writes: validated, serialised with the polls, logged and read back.

Backup SOC, feed-in limit, max AC output, inverter input limit, grid charging, bypass and LED.
Each write holds the coordinator's battery lock (the one the polls and the controller's commands
hold), so it never interleaves with a poll or a mode switch; the next poll reads it back.
"""

from __future__ import annotations

from homeassistant.exceptions import HomeAssistantError

from .command_validation import ControlAction, device_error
from .const import DOMAIN, LOGGER
from .control_store import CommandSource
from .coordinator import EmsCoordinator
from .device_settings import check_setting, device_power_limit_w
from .devices.errors import DeviceError
from .devices.indevolt import BatterySnapshot
from .devices.indevolt_registers import (
    BACKUP_SOC,
    BYPASS,
    FEED_IN_LIMIT,
    GRID_CHARGING,
    INVERTER_INPUT_LIMIT,
    LED,
    MAX_AC_OUTPUT,
    DeviceSetting,
    PowerLimit,
)


class DeviceSettingsWriter:
    """Writes one entry's Indevolt settings until `_closed` (the controller's shutdown)."""

    def __init__(self, coordinator: EmsCoordinator) -> None:
        """Write through `coordinator`'s client, under its battery lock."""
        self._coordinator = coordinator
        self._closed = False

    async def async_set_backup_soc(self, percent: int) -> None:
        """Write the backup SOC (1142; read 6105), the floor the battery never goes below."""
        await self.async_write_setting(BACKUP_SOC, percent)

    async def async_set_feed_in_limit(self, power_w: int) -> None:
        """Write the feed-in (export) limit (1146; read 11010); 0 exports nothing."""
        await self.async_write_setting(FEED_IN_LIMIT, power_w)

    async def async_set_max_ac_output(self, power_w: int) -> None:
        """Write the maximum AC output power (1147; read 11011)."""
        await self.async_write_setting(MAX_AC_OUTPUT, power_w)

    async def async_set_inverter_input_limit(self, power_w: int) -> None:
        """Write the inverter input (AC charge) limit (1138; read 11009)."""
        await self.async_write_setting(INVERTER_INPUT_LIMIT, power_w)

    async def async_set_grid_charging(self, allowed: bool) -> None:
        """Allow or forbid charging from the grid (1143; read 2618)."""
        await self.async_write_setting(GRID_CHARGING, int(allowed))

    async def async_set_bypass(self, enabled: bool) -> None:
        """Switch the bypass (off-grid) socket (7266; read 680)."""
        await self.async_write_setting(BYPASS, int(enabled))

    async def async_set_led(self, enabled: bool) -> None:
        """Switch the LED light ring (7265; read 7171)."""
        await self.async_write_setting(LED, int(enabled))

    async def async_write_setting(
        self, setting: DeviceSetting, value: int, *, source: CommandSource = CommandSource.USER
    ) -> None:
        """Validate `value` against the device, write it, and read it back at the next poll.

        Raises ServiceValidationError (nothing sent) or HomeAssistantError (device failure).
        """
        coordinator = self._coordinator
        generation = coordinator.indevolt.generation
        check_setting(setting, value, self._battery(), generation)
        self._ensure_open()
        async with coordinator.battery_lock:
            self._ensure_open()  # shutdown may have begun while this waited for the lock
            try:
                await coordinator.indevolt.write_setting(setting.write_register, value)
            except DeviceError as err:
                raise device_error(err, ControlAction.SET_SETTING) from err
            coordinator.readback.note_setting(setting, value, coordinator.battery_reads)
            coordinator.indevolt.refresh_slow_registers()
        LOGGER.info("Battery setting %s = %s (%s)", setting.key, value, source)
        await coordinator.async_request_refresh()

    def device_power_limit_w(self, kind: PowerLimit) -> int:
        """The device's (cluster's) charge or discharge limit, W, as last read."""
        return device_power_limit_w(self._battery(), kind, self._coordinator.indevolt.generation)

    def _battery(self) -> BatterySnapshot | None:
        data = self._coordinator.data
        return None if data is None else data.battery

    def _ensure_open(self) -> None:
        if self._closed:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="shutting_down")
