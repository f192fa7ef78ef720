"""More of the Indevolt as sensors: grid, PV strings, bypass, cluster, command readback, packs.

The descriptions (battery_sensor_descriptions.py) follow core's `indevolt` integration; each is
created for the generations that have its register. Battery packs are devices
of their own (via the inverter), created for the packs whose serial the device reports; a pack
that stops being reported is removed from the device registry with its entities.
"""

from __future__ import annotations

from typing import override

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .battery_sensor_descriptions import (
    DEVICE_SENSORS,
    DeviceSensorDescription,
    pack_descriptions,
)
from .const import DOMAIN
from .coordinator import EmsCoordinator
from .device_readback import ReadbackStatus
from .devices.indevolt_registers import BATTERY_PACKS, GENERATION_1, BatteryPack
from .entity import BatteryEntity, battery_device_info
from .runtime_data import EmsConfigEntry


def pack_identifier(coordinator: EmsCoordinator, pack: BatteryPack) -> tuple[str, str]:
    """The device registry identifier of a battery pack."""
    return (DOMAIN, f"{coordinator.battery_serial}_pack_{pack.number}")


def device_sensors(coordinator: EmsCoordinator) -> list[SensorEntity]:
    """The register sensors of this battery's generation, and the command readback sensor."""
    generation = coordinator.indevolt.generation
    entities: list[SensorEntity] = [
        DeviceSensor(coordinator, description)
        for description in DEVICE_SENSORS
        if generation in description.generations
    ]
    entities.append(CommandReadbackSensor(coordinator))
    return entities


@callback
def async_track_packs(
    entry: EmsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the sensors of each pack the device reports; remove a pack that is gone."""
    coordinator = entry.runtime_data.coordinator
    device_registry = dr.async_get(coordinator.hass)
    # The inverter's device, which the packs hang off (its own entities may not be added yet).
    inverter = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id, **battery_device_info(coordinator)
    )
    added: set[int] = set()

    @callback
    def follow_packs() -> None:
        battery = coordinator.data.battery if coordinator.data is not None else None
        if battery is None or coordinator.indevolt.generation == GENERATION_1:
            return
        present = {pack.number: pack for pack in battery.packs_present}
        new = [pack for number, pack in present.items() if number not in added]
        if new:
            added.update(pack.number for pack in new)
            async_add_entities(
                PackSensor(coordinator, inverter.id, pack, description)
                for pack in new
                for description in pack_descriptions(pack)
            )
        for pack in BATTERY_PACKS:
            if pack.number in present:
                continue
            added.discard(pack.number)
            device = device_registry.async_get_device_by_identifier(
                pack_identifier(coordinator, pack), entry.entry_id
            )
            if device is not None:
                device_registry.async_update_device(
                    device.id, remove_config_entry_id=entry.entry_id
                )

    follow_packs()
    entry.async_on_unload(coordinator.async_add_listener(follow_packs))


class DeviceSensor(BatteryEntity, SensorEntity):
    """One register of the Indevolt on its device."""

    entity_description: DeviceSensorDescription

    def __init__(self, coordinator: EmsCoordinator, description: DeviceSensorDescription) -> None:
        """Describe the sensor."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    @override
    def native_value(self) -> StateType:
        """The register's value, None when absent."""
        battery = self.coordinator.data.battery
        if battery is None:
            return None
        description = self.entity_description
        if description.value_fn is not None:
            return description.value_fn(battery, description.register)
        return battery.number(description.register)


class PackSensor(DeviceSensor):
    """One register of a battery pack, on the pack's own device."""

    def __init__(
        self,
        coordinator: EmsCoordinator,
        inverter_device_id: str,
        pack: BatteryPack,
        description: DeviceSensorDescription,
    ) -> None:
        """Attach the sensor to the pack's device (via the inverter)."""
        super().__init__(coordinator, description)
        battery = coordinator.data.battery
        serial = None if battery is None else battery.value(pack.serial)
        self._attr_device_info = DeviceInfo(
            identifiers={pack_identifier(coordinator, pack)},
            via_device_id=inverter_device_id,
            manufacturer="Indevolt",
            translation_key="main_pack" if pack.number == 0 else "pack",
            translation_placeholders={"number": str(pack.number)},
            serial_number=None if serial is None else str(serial),
        )


class CommandReadbackSensor(BatteryEntity, SensorEntity):
    """Whether the device holds the last real-time command ems sent (6107-6109)."""

    _attr_translation_key = "command_readback"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = [status.value for status in ReadbackStatus]  # noqa: RUF012
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, coordinator: EmsCoordinator) -> None:
        """Describe the sensor."""
        super().__init__(coordinator, "command_readback")

    @property
    @override
    def native_value(self) -> str:
        """none, pending, confirmed or mismatch."""
        return self.coordinator.readback.status.value
