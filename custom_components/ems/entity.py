"""Base entities: one per device, each deciding its own availability."""

from __future__ import annotations

from typing import override

from homeassistant.const import ATTR_CONNECTIONS
from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo, format_mac
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import EmsCoordinator


def p1_device_info(coordinator: EmsCoordinator) -> DeviceInfo:
    """The P1 meter in the device registry, keyed on the serial stored at set-up.

    While the meter has not answered since set-up, only what is stored is given: the registry
    keeps the name, model and firmware of the last time it did.
    """
    serial = coordinator.p1_serial
    device_info = DeviceInfo(
        identifiers={(DOMAIN, serial)},
        connections={(CONNECTION_NETWORK_MAC, format_mac(serial))},
        manufacturer="HomeWizard",
        serial_number=serial,
        configuration_url=f"http://{coordinator.p1.host}:{coordinator.p1.port}",
    )
    if (device := coordinator.p1_device) is not None:
        device_info["name"] = device_info["model"] = device.product_name or "P1 meter"
        device_info["model_id"] = device.product_type
        device_info["sw_version"] = device.firmware_version
    return device_info


def battery_device_info(coordinator: EmsCoordinator) -> DeviceInfo:
    """The Indevolt battery inverter in the device registry, keyed on the entry's unique id.

    The serial the device reports can change (register 0 missing after a firmware update):
    the identifier must not. While it has not answered since set-up, only what is stored is
    given, as for the meter.
    """
    device_info = DeviceInfo(
        identifiers={(DOMAIN, coordinator.battery_serial)}, manufacturer="Indevolt"
    )
    if (info := coordinator.battery_info) is not None:
        device_info["name"] = f"Indevolt {info.model}" if info.model else "Indevolt battery"
        device_info["model"] = info.model
        device_info["serial_number"] = info.serial
        device_info["sw_version"] = info.firmware
        if info.mac:
            device_info[ATTR_CONNECTIONS] = {(CONNECTION_NETWORK_MAC, format_mac(info.mac))}
    return device_info


class EmsEntity(CoordinatorEntity[EmsCoordinator]):
    """An entity of this integration."""

    _attr_has_entity_name = True


class P1Entity(EmsEntity):
    """An entity fed by the P1 meter: available while the meter answers."""

    def __init__(self, coordinator: EmsCoordinator, key: str) -> None:
        """Attach the entity to the P1 device; unique id `<stored P1 serial>_<key>`."""
        super().__init__(coordinator)
        self._attr_device_info = p1_device_info(coordinator)
        self._attr_unique_id = f"{coordinator.p1_serial}_{key}"

    @property
    @override
    def available(self) -> bool:
        """Available while the last poll of the meter succeeded."""
        return super().available and self.coordinator.data.p1 is not None


class BatteryEntity(EmsEntity):
    """An entity fed by (or controlling) the Indevolt: available while it answers."""

    def __init__(self, coordinator: EmsCoordinator, key: str) -> None:
        """Attach the entity to the Indevolt device; unique id `<entry unique id>_<key>`."""
        super().__init__(coordinator)
        self._attr_device_info = battery_device_info(coordinator)
        self._attr_unique_id = f"{coordinator.battery_serial}_{key}"

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
        self._attr_unique_id = f"{coordinator.battery_serial}_{key}"
