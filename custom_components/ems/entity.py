"""Base entities: one per device, each deciding its own availability."""

from __future__ import annotations

from typing import override

from homeassistant.const import ATTR_CONNECTIONS
from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo, format_mac
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import EmsCoordinator


def p1_device_info(coordinator: EmsCoordinator) -> DeviceInfo:
    """The P1 meter in the device registry."""
    device = coordinator.p1_device
    return DeviceInfo(
        identifiers={(DOMAIN, device.serial)},
        name=device.product_name or "P1 meter",
        connections={(CONNECTION_NETWORK_MAC, format_mac(device.serial))},
        manufacturer="HomeWizard",
        model=device.product_name or "P1 meter",
        model_id=device.product_type,
        serial_number=device.serial,
        sw_version=device.firmware_version,
        configuration_url=f"http://{coordinator.p1.host}:{coordinator.p1.port}",
    )


def battery_device_info(coordinator: EmsCoordinator) -> DeviceInfo:
    """The Indevolt battery inverter in the device registry."""
    info = coordinator.battery_info
    device_info = DeviceInfo(
        identifiers={(DOMAIN, info.serial)},
        name=f"Indevolt {info.model}" if info.model else "Indevolt battery",
        manufacturer="Indevolt",
        model=info.model,
        serial_number=info.serial,
        sw_version=info.firmware,
    )
    if info.mac:
        device_info[ATTR_CONNECTIONS] = {(CONNECTION_NETWORK_MAC, format_mac(info.mac))}
    return device_info


class EmsEntity(CoordinatorEntity[EmsCoordinator]):
    """An entity of this integration."""

    _attr_has_entity_name = True


class P1Entity(EmsEntity):
    """An entity fed by the P1 meter: available while the meter answers."""

    def __init__(self, coordinator: EmsCoordinator) -> None:
        """Attach the entity to the P1 device."""
        super().__init__(coordinator)
        self._attr_device_info = p1_device_info(coordinator)

    @property
    @override
    def available(self) -> bool:
        """Available while the last poll of the meter succeeded."""
        return super().available and self.coordinator.data.p1 is not None


class BatteryEntity(EmsEntity):
    """An entity fed by (or controlling) the Indevolt: available while it answers."""

    def __init__(self, coordinator: EmsCoordinator) -> None:
        """Attach the entity to the Indevolt device."""
        super().__init__(coordinator)
        self._attr_device_info = battery_device_info(coordinator)

    @property
    @override
    def available(self) -> bool:
        """Available while the last poll of the battery succeeded."""
        return super().available and self.coordinator.data.battery is not None


class SystemEntity(EmsEntity):
    """An entity about both devices together, shown on the battery's device."""

    def __init__(self, coordinator: EmsCoordinator, key: str) -> None:
        """Attach the entity to the battery device, unique per entry."""
        super().__init__(coordinator)
        self._attr_device_info = battery_device_info(coordinator)
        self._attr_unique_id = f"{coordinator.config_entry.unique_id}_{key}"
