"""More of the Indevolt as sensors: grid, PV strings, bypass, cluster, command readback, packs.

The descriptions follow core's `indevolt` integration (units, classes, which are disabled by
default); each is created for the generations that have its register. Battery packs are devices
of their own (via the inverter), created for the packs whose serial the device reports; a pack
that stops being reported is removed from the device registry with its entities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfTemperature,
)
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .const import DOMAIN
from .coordinator import EmsCoordinator
from .device_readback import ReadbackStatus
from .devices.indevolt_registers import (
    BATTERY_PACKS,
    BOTH_GENERATIONS,
    GENERATION_1,
    ONLY_GENERATION_2,
    REG_GEN1_MOS_TEMPERATURES,
    REG_PV_CURRENTS,
    REG_PV_VOLTAGES,
    BatteryPack,
)
from .devices.indevolt_snapshot import BatterySnapshot, RealtimeAction
from .entity import BatteryEntity, battery_device_info
from .runtime_data import EmsConfigEntry

CLUSTER_ROLES: Final = {1000: "main", 1001: "sub", 1002: "standalone"}
REALTIME_ACTIONS: Final = {
    RealtimeAction.STOP: "standby",
    RealtimeAction.CHARGE: "charge",
    RealtimeAction.DISCHARGE: "discharge",
}


@dataclass(frozen=True, kw_only=True)
class DeviceSensorDescription(SensorEntityDescription):
    """A sensor of one register (`key`), for the generations that have it."""

    register: int
    generations: frozenset[int] = BOTH_GENERATIONS
    value_fn: Callable[[BatterySnapshot, int], StateType] | None = None


def _measurement(
    register: int,
    translation_key: str,
    unit: str,
    device_class: SensorDeviceClass,
    precision: int,
    *,
    key: str | None = None,
    **kwargs: object,
) -> DeviceSensorDescription:
    return DeviceSensorDescription(
        key=key or str(register),
        register=register,
        translation_key=translation_key,
        native_unit_of_measurement=unit,
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=precision,
        **kwargs,  # type: ignore[arg-type]
    )


def _enum(options: dict[int, str]) -> Callable[[BatterySnapshot, int], StateType]:
    def value(snapshot: BatterySnapshot, register: int) -> StateType:
        code = snapshot.code(register)
        return None if code is None else options.get(code)

    return value


def _realtime_action(snapshot: BatterySnapshot, register: int) -> StateType:
    readback = snapshot.realtime_readback
    return None if readback is None else REALTIME_ACTIONS.get(RealtimeAction(readback.action))


_V, _A, _W = UnitOfElectricPotential.VOLT, UnitOfElectricCurrent.AMPERE, UnitOfPower.WATT
_TEMPERATURE = UnitOfTemperature.CELSIUS


def _pv_string(number: int) -> tuple[DeviceSensorDescription, ...]:
    generations = BOTH_GENERATIONS if number <= 2 else ONLY_GENERATION_2
    placeholders = {"input": str(number)}
    voltage, current = REG_PV_VOLTAGES[number - 1], REG_PV_CURRENTS[number - 1]
    return (
        _measurement(
            voltage, "pv_input_voltage", _V, SensorDeviceClass.VOLTAGE, 1,
            generations=generations, translation_placeholders=placeholders,
            entity_registry_enabled_default=False,
        ),
        _measurement(
            current, "pv_input_current", _A, SensorDeviceClass.CURRENT, 2,
            generations=generations, translation_placeholders=placeholders,
            entity_registry_enabled_default=False,
        ),
    )  # fmt: skip


DEVICE_SENSORS: Final[tuple[DeviceSensorDescription, ...]] = (
    _measurement(667, "bypass_power", _W, SensorDeviceClass.POWER, 0),
    DeviceSensorDescription(
        key="2104",
        register=2104,
        translation_key="total_ac_output_energy",
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
    ),
    DeviceSensorDescription(
        key="2105",
        register=2105,
        translation_key="off_grid_output_energy",
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
    ),
    _measurement(
        2600, "grid_voltage", _V, SensorDeviceClass.VOLTAGE, 1,
        generations=ONLY_GENERATION_2, entity_registry_enabled_default=False,
    ),
    _measurement(
        2612, "grid_frequency", UnitOfFrequency.HERTZ, SensorDeviceClass.FREQUENCY, 2,
        generations=ONLY_GENERATION_2, entity_registry_enabled_default=False,
    ),
    *(
        _measurement(
            register, "pv_input_power", _W, SensorDeviceClass.POWER, 0,
            generations=ONLY_GENERATION_2,
            translation_placeholders={"input": str(number)}, entity_registry_enabled_default=False,
        )
        for number, register in ((3, 1666), (4, 1667))
    ),
    *(description for number in (1, 2, 3, 4) for description in _pv_string(number)),
    *(
        _measurement(
            register, key, _TEMPERATURE, SensorDeviceClass.TEMPERATURE, 1,
            generations=frozenset({GENERATION_1}), entity_registry_enabled_default=False,
            entity_category=EntityCategory.DIAGNOSTIC,
        )
        for register, key in zip(
            REG_GEN1_MOS_TEMPERATURES,
            ("mos_temperature_charge", "mos_temperature_discharge"),
            strict=True,
        )
    ),
    DeviceSensorDescription(
        key="606",
        register=606,
        translation_key="cluster_role",
        device_class=SensorDeviceClass.ENUM,
        options=list(CLUSTER_ROLES.values()),
        value_fn=_enum(CLUSTER_ROLES),
        entity_registry_enabled_default=False,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    DeviceSensorDescription(
        key="6107",
        register=6107,
        translation_key="realtime_command",
        device_class=SensorDeviceClass.ENUM,
        options=list(REALTIME_ACTIONS.values()),
        value_fn=_realtime_action,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    DeviceSensorDescription(
        key="6108",
        register=6108,
        translation_key="realtime_target_soc",
        native_unit_of_measurement=PERCENTAGE,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    _measurement(
        6109, "realtime_power", _W, SensorDeviceClass.POWER, 0,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    _measurement(
        114, "max_charge_power", _W, SensorDeviceClass.POWER, 0,
        generations=ONLY_GENERATION_2, entity_category=EntityCategory.DIAGNOSTIC,
    ),
    _measurement(
        115, "max_discharge_power", _W, SensorDeviceClass.POWER, 0,
        generations=ONLY_GENERATION_2, entity_category=EntityCategory.DIAGNOSTIC,
    ),
)  # fmt: skip


def _pack_descriptions(pack: BatteryPack) -> tuple[DeviceSensorDescription, ...]:
    def key(register: int) -> str:
        return f"pack_{pack.number}_{register}"

    descriptions = [
        DeviceSensorDescription(
            key=key(pack.serial),
            register=pack.serial,
            translation_key="pack_serial",
            value_fn=lambda snapshot, register: snapshot.value(register),
            entity_registry_enabled_default=False,
            entity_category=EntityCategory.DIAGNOSTIC,
        ),
        _measurement(
            pack.soc, "pack_soc", PERCENTAGE, SensorDeviceClass.BATTERY, 0,
            key=key(pack.soc),
        ),
        _measurement(
            pack.temperature, "pack_temperature", _TEMPERATURE, SensorDeviceClass.TEMPERATURE,
            1, key=key(pack.temperature),
        ),
        _measurement(
            pack.voltage, "pack_voltage", _V, SensorDeviceClass.VOLTAGE, 2,
            key=key(pack.voltage), entity_registry_enabled_default=False,
        ),
        _measurement(
            pack.current, "pack_current", _A, SensorDeviceClass.CURRENT, 2,
            key=key(pack.current), entity_registry_enabled_default=False,
        ),
    ]  # fmt: skip
    if pack.mos_temperature is not None:
        descriptions.append(
            _measurement(
                pack.mos_temperature,
                "pack_mos_temperature",
                _TEMPERATURE,
                SensorDeviceClass.TEMPERATURE,
                1,
                key=key(pack.mos_temperature),
                entity_registry_enabled_default=False,
                entity_category=EntityCategory.DIAGNOSTIC,
            )
        )
    return tuple(descriptions)


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
                for description in _pack_descriptions(pack)
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
