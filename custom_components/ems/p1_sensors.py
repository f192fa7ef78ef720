"""The P1 meter's sensor descriptions, one per v1 key under its literal name."""

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
    UnitOfVolume,
)
from homeassistant.helpers.typing import StateType

from .devices.p1 import P1Data


@dataclass(frozen=True, kw_only=True)
class P1SensorDescription(SensorEntityDescription):
    """A sensor for one P1 v1 key; `key` is the literal JSON key."""

    value_fn: Callable[[P1Data], StateType] | None = None


def _p1_power(
    key: str, translation_key: str | None = None, phase: str | None = None
) -> P1SensorDescription:
    return P1SensorDescription(
        key=key,
        translation_key=translation_key,
        translation_placeholders=None if phase is None else {"phase": phase},
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
    )


def _p1_energy(key: str, translation_key: str, tariff: str | None = None) -> P1SensorDescription:
    return P1SensorDescription(
        key=key,
        translation_key=translation_key,
        translation_placeholders=None if tariff is None else {"tariff": tariff},
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
    )


def _p1_phase(
    key: str, translation_key: str, phase: str, device_class: SensorDeviceClass, unit: str
) -> P1SensorDescription:
    return P1SensorDescription(
        key=key,
        translation_key=translation_key,
        translation_placeholders={"phase": phase},
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=unit,
        entity_registry_enabled_default=False,
    )


def _p1_counter(key: str, translation_key: str, phase: str | None = None) -> P1SensorDescription:
    return P1SensorDescription(
        key=key,
        translation_key=translation_key,
        translation_placeholders=None if phase is None else {"phase": phase},
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
    )


PHASES: Final = ("1", "2", "3")
TARIFFS: Final = ("1", "2", "3", "4")

P1_SENSORS: Final[tuple[P1SensorDescription, ...]] = (
    _p1_power("active_power_w", "grid_power"),
    *(_p1_power(f"active_power_l{p}_w", "grid_power_phase", p) for p in PHASES),
    *(
        _p1_phase(
            f"active_voltage_l{p}_v",
            "voltage_phase",
            p,
            SensorDeviceClass.VOLTAGE,
            UnitOfElectricPotential.VOLT,
        )
        for p in PHASES
    ),
    *(
        _p1_phase(
            f"active_current_l{p}_a",
            "current_phase",
            p,
            SensorDeviceClass.CURRENT,
            UnitOfElectricCurrent.AMPERE,
        )
        for p in PHASES
    ),
    P1SensorDescription(
        key="active_frequency_hz",
        translation_key="frequency",
        device_class=SensorDeviceClass.FREQUENCY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfFrequency.HERTZ,
        entity_registry_enabled_default=False,
    ),
    _p1_energy("total_power_import_kwh", "energy_import"),
    *(_p1_energy(f"total_power_import_t{t}_kwh", "energy_import_tariff", t) for t in TARIFFS),
    _p1_energy("total_power_export_kwh", "energy_export"),
    *(_p1_energy(f"total_power_export_t{t}_kwh", "energy_export_tariff", t) for t in TARIFFS),
    P1SensorDescription(
        key="active_tariff",
        translation_key="active_tariff",
        device_class=SensorDeviceClass.ENUM,
        options=list(TARIFFS),
        value_fn=lambda data: None if (t := data.values.get("active_tariff")) is None else str(t),
    ),
    _p1_power("active_power_average_w", "quarter_average_power"),
    _p1_power("montly_power_peak_w", "monthly_power_peak"),
    P1SensorDescription(
        key="total_gas_m3",
        translation_key="gas",
        device_class=SensorDeviceClass.GAS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
        suggested_display_precision=3,
    ),
    *(_p1_counter(f"voltage_sag_l{p}_count", "voltage_sag_count", p) for p in PHASES),
    *(_p1_counter(f"voltage_swell_l{p}_count", "voltage_swell_count", p) for p in PHASES),
    _p1_counter("any_power_fail_count", "power_failures"),
    _p1_counter("long_power_fail_count", "long_power_failures"),
    P1SensorDescription(
        key="wifi_strength",
        translation_key="wifi_strength",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    P1SensorDescription(
        key="smr_version",
        translation_key="smr_version",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    P1SensorDescription(
        key="meter_model",
        translation_key="meter_model",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
)
