"""Sensors: every Indevolt register, the P1 readings (p1_sensors.py), the derived values."""

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
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .battery_sensors import async_track_packs, device_sensors
from .const import CONF_INVERT_BATTERY_POWER
from .coordinator import EmsCoordinator, reported_keys
from .devices.indevolt import BatterySnapshot, BatteryState, WorkingMode
from .entity import BatteryEntity, P1Entity, SystemEntity
from .optimiser_sensor import optimiser_sensors
from .p1_sensors import P1_SENSORS, P1SensorDescription
from .reconciliation import ReconciliationStatus
from .runtime_data import EmsConfigEntry

PARALLEL_UPDATES = 0

WORKING_MODE_OPTIONS: Final = {
    WorkingMode.OUTDOOR_PORTABLE: "outdoor_portable",
    WorkingMode.SELF_CONSUMED: "self_consumed",
    WorkingMode.REALTIME: "realtime",
    WorkingMode.SCHEDULE: "schedule",
}
BATTERY_STATE_OPTIONS: Final = {
    BatteryState.STATIC: "static",
    BatteryState.CHARGING: "charging",
    BatteryState.DISCHARGING: "discharging",
}


@dataclass(frozen=True, kw_only=True)
class RegisterSensorDescription(SensorEntityDescription):
    """A sensor for one Indevolt register; `key` is the register number."""

    value_fn: Callable[[BatterySnapshot], StateType]


def _polled(coordinator: EmsCoordinator) -> bool:
    return coordinator.last_update_success


@dataclass(frozen=True, kw_only=True)
class DerivedSensorDescription(SensorEntityDescription):
    """A sensor computed from the coordinator's last epoch; `key` completes its unique id."""

    value_fn: Callable[[EmsCoordinator], StateType]
    available_fn: Callable[[EmsCoordinator], bool] = _polled


def _power(
    key: int,
    translation_key: str,
    value_fn: Callable[[BatterySnapshot], StateType],
    **kwargs: object,
) -> RegisterSensorDescription:
    return RegisterSensorDescription(
        key=str(key),
        translation_key=translation_key,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=value_fn,
        **kwargs,  # type: ignore[arg-type]
    )


def _energy(
    key: int, translation_key: str, value_fn: Callable[[BatterySnapshot], StateType]
) -> RegisterSensorDescription:
    return RegisterSensorDescription(
        key=str(key),
        translation_key=translation_key,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=value_fn,
    )


def _enum_value[T](options: dict[T, str], value: T | None) -> str | None:
    return None if value is None else options.get(value)


REGISTER_SENSORS: Final[tuple[RegisterSensorDescription, ...]] = (
    RegisterSensorDescription(
        key="7101",
        translation_key="working_mode",
        device_class=SensorDeviceClass.ENUM,
        options=list(WORKING_MODE_OPTIONS.values()),
        value_fn=lambda s: _enum_value(WORKING_MODE_OPTIONS, s.working_mode),
    ),
    _power(
        1664, "pv_input_power", lambda s: s.pv1_power_w, translation_placeholders={"input": "1"}
    ),
    _power(
        1665, "pv_input_power", lambda s: s.pv2_power_w, translation_placeholders={"input": "2"}
    ),
    _power(1501, "dc_output_power", lambda s: s.dc_output_power_w),
    _power(2108, "ac_output_power", lambda s: s.ac_output_power_w),
    _energy(1502, "daily_production", lambda s: s.daily_production_kwh),
    _energy(1505, "total_production", lambda s: s.cumulative_production_kwh),
    _power(2101, "ac_input_power", lambda s: s.ac_input_power_w),
    _energy(2107, "ac_input_energy", lambda s: s.ac_input_energy_kwh),
    _power(6000, "battery_power_register", lambda s: s.battery_power_w),
    RegisterSensorDescription(
        key="6001",
        translation_key="battery_state",
        device_class=SensorDeviceClass.ENUM,
        options=list(BATTERY_STATE_OPTIONS.values()),
        value_fn=lambda s: _enum_value(BATTERY_STATE_OPTIONS, s.battery_state),
    ),
    RegisterSensorDescription(
        key="6002",
        translation_key="state_of_charge",
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda s: s.soc_percent,
    ),
    _energy(6004, "daily_charge_energy", lambda s: s.daily_charge_kwh),
    _energy(6005, "daily_discharge_energy", lambda s: s.daily_discharge_kwh),
    _energy(6006, "total_charge_energy", lambda s: s.total_charge_kwh),
    _energy(6007, "total_discharge_energy", lambda s: s.total_discharge_kwh),
    _power(11016, "meter_power", lambda s: s.meter_power_w),
    RegisterSensorDescription(
        key="6105",
        translation_key="backup_soc",
        native_unit_of_measurement=PERCENTAGE,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda s: s.backup_soc_percent,
    ),
    RegisterSensorDescription(
        key="142",
        translation_key="rated_capacity",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        entity_category=EntityCategory.DIAGNOSTIC,
        suggested_display_precision=2,
        value_fn=lambda s: s.rated_capacity_kwh,
    ),
)


def _battery_power_w(coordinator: EmsCoordinator) -> float | None:
    """Register 6000 in the Energy dashboard's convention: positive = discharging.

    6000 is positive while charging on the devices we know; a device with the other sign is
    handled by the `invert_battery_power` option.
    """
    battery = coordinator.data.battery
    if battery is None or battery.battery_power_w is None:
        return None
    if coordinator.config_entry.options.get(CONF_INVERT_BATTERY_POWER, False):
        return battery.battery_power_w
    return -battery.battery_power_w


def _reconciliation_status(coordinator: EmsCoordinator) -> str:
    """The status of the last poll (`no_data` when the last poll failed)."""
    if not coordinator.last_update_success or coordinator.data is None:
        return ReconciliationStatus.NO_DATA.value
    return coordinator.data.reconciliation.status.value


DERIVED_SENSORS: Final[tuple[DerivedSensorDescription, ...]] = (
    DerivedSensorDescription(
        key="battery_power",
        translation_key="battery_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_battery_power_w,
        available_fn=lambda c: c.last_update_success and c.data.battery is not None,
    ),
    DerivedSensorDescription(
        # P1 active_power_w minus register 11016, raw; unavailable when either is missing.
        key="grid_power_difference",
        translation_key="grid_power_difference",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda c: c.data.reconciliation.difference_w,
        available_fn=lambda c: (
            c.last_update_success and c.data.reconciliation.difference_w is not None
        ),
    ),
    DerivedSensorDescription(
        # Always available: a missing input is a status of its own.
        key="reconciliation_status",
        translation_key="reconciliation_status",
        device_class=SensorDeviceClass.ENUM,
        options=[status.value for status in ReconciliationStatus],
        value_fn=_reconciliation_status,
        available_fn=lambda _: True,
    ),
    DerivedSensorDescription(
        # Seconds since register 11016 last changed (the device sends no timestamp).
        key="meter_power_age",
        translation_key="meter_power_age",
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda c: c.data.reconciliation.meter_age_s,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EmsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the register sensors, the P1 sensors the meter reports, and the derived ones.

    While the meter is down at start, its sensors are those of the keys it reported last time;
    a key it starts reporting later gets its sensor then.
    """
    coordinator = entry.runtime_data.coordinator
    p1 = coordinator.data.p1
    added_p1_keys: set[str] = set()

    def new_p1_sensors(keys: list[str]) -> list[P1Sensor]:
        new = [
            P1Sensor(coordinator, description)
            for description in P1_SENSORS
            if description.key in keys and description.key not in added_p1_keys
        ]
        added_p1_keys.update(sensor.entity_description.key for sensor in new)
        return new

    @callback
    def add_new_p1_sensors() -> None:
        if (data := coordinator.data.p1) is not None and (
            new := new_p1_sensors(reported_keys(data))
        ):
            async_add_entities(new)

    entities: list[SensorEntity] = [
        RegisterSensor(coordinator, description) for description in REGISTER_SENSORS
    ]
    entities.extend(new_p1_sensors(coordinator.stored_p1_keys if p1 is None else reported_keys(p1)))
    entities.extend(DerivedSensor(coordinator, description) for description in DERIVED_SENSORS)
    entities.extend(optimiser_sensors(entry))
    entities.extend(device_sensors(coordinator))
    async_add_entities(entities)
    entry.async_on_unload(coordinator.async_add_listener(add_new_p1_sensors))
    async_track_packs(entry, async_add_entities)


class RegisterSensor(BatteryEntity, SensorEntity):
    """One Indevolt register; state unknown while the firmware does not report it."""

    entity_description: RegisterSensorDescription

    def __init__(self, coordinator: EmsCoordinator, description: RegisterSensorDescription) -> None:
        """Describe the register sensor."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    @override
    def native_value(self) -> StateType:
        """The register's value, None when absent."""
        battery = self.coordinator.data.battery
        return None if battery is None else self.entity_description.value_fn(battery)


class P1Sensor(P1Entity, SensorEntity):
    """One P1 reading, under its literal v1 key."""

    entity_description: P1SensorDescription

    def __init__(self, coordinator: EmsCoordinator, description: P1SensorDescription) -> None:
        """Describe the P1 sensor."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    @override
    def native_value(self) -> StateType:
        """The reading; None when the meter stopped reporting the key."""
        p1 = self.coordinator.data.p1
        if p1 is None:
            return None
        if self.entity_description.value_fn is not None:
            return self.entity_description.value_fn(p1)
        return p1.values.get(self.entity_description.key)


class DerivedSensor(SystemEntity, SensorEntity):
    """A value computed from the last epoch, on the battery's device."""

    entity_description: DerivedSensorDescription

    def __init__(self, coordinator: EmsCoordinator, description: DerivedSensorDescription) -> None:
        """Describe the derived sensor."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    @override
    def available(self) -> bool:
        """As the description says (by default: while the last epoch succeeded)."""
        return self.entity_description.available_fn(self.coordinator)

    @property
    @override
    def native_value(self) -> StateType:
        """The computed value."""
        return self.entity_description.value_fn(self.coordinator)
