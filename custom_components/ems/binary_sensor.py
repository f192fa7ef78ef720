"""Binary sensors of the battery: whether a meter (the grid CT) is connected to it (7120)."""

from __future__ import annotations

from typing import override

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import EmsCoordinator
from .devices.indevolt_registers import REG_METER_CONNECTION
from .entity import BatteryEntity
from .runtime_data import EmsConfigEntry

# Read-only: the coordinator polls.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the meter connection sensor."""
    async_add_entities([MeterConnectedBinarySensor(entry.runtime_data.coordinator)])


class MeterConnectedBinarySensor(BatteryEntity, BinarySensorEntity):
    """On while the battery reports its meter connected; without one, the grid CT reads nothing.

    Enabled by default (core `indevolt` hides it): it explains the reconciliation's `no_ct`.
    """

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "meter_connected"

    def __init__(self, coordinator: EmsCoordinator) -> None:
        """Keyed on the register, as the register sensors are."""
        super().__init__(coordinator, str(REG_METER_CONNECTION))

    @property
    @override
    def is_on(self) -> bool | None:
        """Register 7120; None (unknown) when absent or an unknown code."""
        battery = self.coordinator.data.battery
        return None if battery is None else battery.meter_connected
