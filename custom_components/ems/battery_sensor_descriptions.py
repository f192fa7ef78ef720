"""What the Indevolt's register sensors are: units, classes, generations (battery_sensors.py).

The descriptions follow core's `indevolt` integration (units, classes, precision, which are
disabled by default); each is created for the generations that have its register.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
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
    UnitOfTime,
)
from homeassistant.helpers.typing import StateType

from .devices.indevolt_registers import (
    BOTH_GENERATIONS,
    GENERATION_1,
    ONLY_GENERATION_2,
    REG_GEN1_MOS_TEMPERATURES,
    REG_GEN1_PACK_TEMPERATURES,
    REG_PV_CURRENTS,
    REG_PV_VOLTAGES,
    BatteryPack,
)
from .devices.indevolt_snapshot import BatterySnapshot, BatteryState, RealtimeAction

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


def _while(state: BatteryState) -> Callable[[BatterySnapshot, int], StateType]:
    """The register's value while the battery is in `state` (as core: unknown otherwise)."""

    def value(snapshot: BatterySnapshot, register: int) -> StateType:
        return snapshot.number(register) if snapshot.battery_state_code == state else None

    return value


_V, _A, _W = UnitOfElectricPotential.VOLT, UnitOfElectricCurrent.AMPERE, UnitOfPower.WATT
_TEMPERATURE = UnitOfTemperature.CELSIUS
_GEN_1 = frozenset({GENERATION_1})


def _diagnostic_temperature(
    register: int,
    translation_key: str,
    generations: frozenset[int],
    placeholders: dict[str, str] | None = None,
) -> DeviceSensorDescription:
    return _measurement(
        register, translation_key, _TEMPERATURE, SensorDeviceClass.TEMPERATURE, 1,
        generations=generations, entity_registry_enabled_default=False,
        entity_category=EntityCategory.DIAGNOSTIC, translation_placeholders=placeholders,
    )  # fmt: skip


def _remaining_time(
    register: int, translation_key: str, state: BatteryState
) -> DeviceSensorDescription:
    return _measurement(
        register, translation_key, UnitOfTime.MINUTES, SensorDeviceClass.DURATION, 0,
        generations=ONLY_GENERATION_2, entity_registry_enabled_default=False,
        value_fn=_while(state),
    )  # fmt: skip


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
        _diagnostic_temperature(register, key, _GEN_1)
        for register, key in zip(
            REG_GEN1_MOS_TEMPERATURES,
            ("mos_temperature_charge", "mos_temperature_discharge"),
            strict=True,
        )
    ),
    _diagnostic_temperature(7600, "inverter_temperature", _GEN_1),
    *(
        _diagnostic_temperature(
            register, "gen1_pack_temperature", _GEN_1, {"number": str(number)},
        )
        for number, register in enumerate(REG_GEN1_PACK_TEMPERATURES, start=1)
    ),
    _diagnostic_temperature(11005, "transformer_temperature", ONLY_GENERATION_2),
    _remaining_time(11019, "remaining_charging_time", BatteryState.CHARGING),
    _remaining_time(11020, "remaining_discharging_time", BatteryState.DISCHARGING),
    DeviceSensorDescription(
        key="8646",
        register=8646,
        translation_key="equivalent_full_cycles",
        generations=ONLY_GENERATION_2,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    DeviceSensorDescription(
        key="11034",
        register=11034,
        translation_key="bypass_input_energy",
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
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


def pack_descriptions(pack: BatteryPack) -> tuple[DeviceSensorDescription, ...]:
    """The sensors of one battery pack, on the pack's own device."""

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
    descriptions.append(
        DeviceSensorDescription(
            key=key(pack.cycles),
            register=pack.cycles,
            translation_key="pack_cycles",
            state_class=SensorStateClass.TOTAL_INCREASING,
            entity_registry_enabled_default=False,
            entity_category=EntityCategory.DIAGNOSTIC,
        )
    )
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
