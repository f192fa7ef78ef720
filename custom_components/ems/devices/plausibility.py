"""Which readings are trustworthy: one table of plausible ranges per P1 key and Indevolt register.

A reading under a key with a rule is kept only when it is a finite number, within the range and,
for codes and counters, whole. Under a key without a rule anything is kept (new firmware adds
keys), except a number that is not finite (`NaN`, `Infinity`, `1e400`): no device means that.
A rejected reading is dropped, so callers see it as absent (the sensor unknown), and its key is
reported (`P1Data.invalid_keys`, `BatterySnapshot.invalid_registers`).

The ranges are wide on purpose: they tell garbage from readings, they are not alarm limits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
import logging
import math
from typing import Final

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Bounds:
    """A closed range of plausible values; `whole` for codes, counters and the tariff."""

    low: float
    high: float
    whole: bool = False


# Where the bounds come from:
# - Grid power: a 3x80 A connection (the largest small-user connection in NL/BE) is ~55 kW;
#   100 kW leaves room for 3x125 A. A phase: 125 A at 280 V is 35 kW. Currents: 200 A.
# - Battery-side powers: one PowerFlex2000 does 2.4 kW, but clusters of Indevolts report their
#   sum: 50 kW. The vendor documents no sign for several, so both signs pass.
# - Voltages: 0..300 V (230 V +10 % is 253 V; a dead phase reads 0). Frequency: 45..65 Hz.
# - SOC and backup SOC: 0..100 % (a percentage of the battery).
# - Energies and volumes are meter totals: never negative; the upper bound (10^9 kWh, or 10^12
#   Wh for register 1505) only catches garbage, a DSMR register holds 6 digits.
# - Rated capacity: 0..1000 kWh (a cluster of many 2 kWh-15 kWh units).
# - Tariff: 1..4 (DSMR defines four). Codes (mode, state, flags): whole, within a 16-bit
#   register. Counters: whole and not negative. Wi-Fi strength: 0..100 %.
GRID_POWER_W: Final = Bounds(-100_000, 100_000)
PHASE_POWER_W: Final = Bounds(-35_000, 35_000)
PHASE_CURRENT_A: Final = Bounds(-200, 200)
DEMAND_W: Final = Bounds(0, 100_000)
BATTERY_SIDE_POWER_W: Final = Bounds(-50_000, 50_000)
VOLTAGE_V: Final = Bounds(0, 300)
FREQUENCY_HZ: Final = Bounds(45, 65)
PERCENT: Final = Bounds(0, 100)
# PV strings: up to 60 V open-circuit per module input on these micro-inverters, 0..20 A; a
# pack: 0..100 V, -100..100 A; a temperature sensor: -40..120 °C (an NTC's range).
PV_VOLTAGE_V: Final = Bounds(0, 150)
PV_CURRENT_A: Final = Bounds(0, 30)
PACK_VOLTAGE_V: Final = Bounds(0, 100)
PACK_CURRENT_A: Final = Bounds(-100, 100)
TEMPERATURE_C: Final = Bounds(-40, 120)
ENERGY_KWH: Final = Bounds(0, 1e9)
ENERGY_WH: Final = Bounds(0, 1e12)
CAPACITY_KWH: Final = Bounds(0, 1000)
TARIFF: Final = Bounds(1, 4, whole=True)
CODE: Final = Bounds(0, 65_535, whole=True)
COUNTER: Final = Bounds(0, 1e9, whole=True)
# Equivalent full cycles may be fractional; a remaining time in minutes is not negative.
CYCLES: Final = Bounds(0, 1e6)
MINUTES: Final = Bounds(0, 1e6)
# yymmddhhmmss as a number.
METER_TIMESTAMP: Final = Bounds(0, 999_999_999_999, whole=True)

_PHASES = (1, 2, 3)
_TARIFFS = (1, 2, 3, 4)

P1_BOUNDS: Final[Mapping[str, Bounds]] = {
    "active_power_w": GRID_POWER_W,
    **{f"active_power_l{phase}_w": PHASE_POWER_W for phase in _PHASES},
    **{f"active_voltage_l{phase}_v": VOLTAGE_V for phase in _PHASES},
    **{f"active_current_l{phase}_a": PHASE_CURRENT_A for phase in _PHASES},
    "active_frequency_hz": FREQUENCY_HZ,
    "active_power_average_w": DEMAND_W,
    "montly_power_peak_w": DEMAND_W,
    "montly_power_peak_timestamp": METER_TIMESTAMP,
    "total_power_import_kwh": ENERGY_KWH,
    "total_power_export_kwh": ENERGY_KWH,
    **{f"total_power_import_t{tariff}_kwh": ENERGY_KWH for tariff in _TARIFFS},
    **{f"total_power_export_t{tariff}_kwh": ENERGY_KWH for tariff in _TARIFFS},
    "active_tariff": TARIFF,
    "total_gas_m3": ENERGY_KWH,  # a volume, with the same "meter total" bounds
    "gas_timestamp": METER_TIMESTAMP,
    **{f"voltage_sag_l{phase}_count": COUNTER for phase in _PHASES},
    **{f"voltage_swell_l{phase}_count": COUNTER for phase in _PHASES},
    "any_power_fail_count": COUNTER,
    "long_power_fail_count": COUNTER,
    "wifi_strength": PERCENT,
}

# Register numbers as in indevolt.py (not imported: that module imports this one).
INDEVOLT_BOUNDS: Final[Mapping[int, Bounds]] = {
    142: CAPACITY_KWH,
    1501: BATTERY_SIDE_POWER_W,  # DC output
    1502: ENERGY_KWH,  # daily production
    1505: ENERGY_WH,  # cumulative production, Wh
    **dict.fromkeys((1664, 1665, 1666, 1667), BATTERY_SIDE_POWER_W),  # PV inputs
    2101: BATTERY_SIDE_POWER_W,  # AC input
    2107: ENERGY_KWH,
    2108: BATTERY_SIDE_POWER_W,  # AC output
    2618: CODE,  # grid charging
    6000: BATTERY_SIDE_POWER_W,  # battery
    6001: CODE,  # battery state
    6002: PERCENT,  # SOC
    **dict.fromkeys((6004, 6005, 6006, 6007), ENERGY_KWH),  # charged / discharged
    6105: PERCENT,  # backup SOC
    7101: CODE,  # working mode
    7120: CODE,  # meter connection
    11016: GRID_POWER_W,  # grid CT
    21028: GRID_POWER_W,  # grid CT, generation 1
    **dict.fromkeys((114, 115, 667, 6109, 11009, 11010, 11011), BATTERY_SIDE_POWER_W),
    **dict.fromkeys((2104, 2105), ENERGY_KWH),  # AC output, off-grid output
    **dict.fromkeys((606, 680, 6107), CODE),  # cluster role, bypass, real-time command
    6108: PERCENT,  # real-time target SOC
    2600: VOLTAGE_V,  # grid voltage
    2612: FREQUENCY_HZ,  # grid frequency
    **dict.fromkeys((1600, 1601, 1602, 1603), PV_VOLTAGE_V),
    **dict.fromkeys((1632, 1633, 1634, 1635), PV_CURRENT_A),
    **dict.fromkeys((9000, 9016, 9035, 9054, 9149, 9202), PERCENT),  # pack SOC
    **dict.fromkeys((9004, 9020, 9039, 9058, 9153, 9206), PACK_VOLTAGE_V),
    **dict.fromkeys((9013, 19173, 19174, 19175, 19176, 19177), PACK_CURRENT_A),
    **dict.fromkeys(
        (9012, 9030, 9049, 9068, 9163, 9216, 11042, 9085, 9101, 9117, 9133, 7638, 7639),
        TEMPERATURE_C,
    ),
    **dict.fromkeys((7600, 7605, 7620, 7621, 11005), TEMPERATURE_C),  # gen 1, transformer
    7171: CODE,  # LED light
    8646: CYCLES,  # equivalent full cycles
    **dict.fromkeys((9003, 9019, 9038, 9057, 9152, 9205), CYCLES),  # cycles of each pack
    **dict.fromkeys((11019, 11020), MINUTES),  # remaining charging / discharging time
    11034: ENERGY_WH,  # bypass input energy
}

# The external meters of the P1 reply (gas, water, heat) report totals.
EXTERNAL_VALUE: Final = Bounds(0, 1e12)


def _as_float(value: float) -> float:
    """`value` as a float; an int too large for one counts as infinite."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def rejection(value: object, bounds: Bounds | None) -> str | None:
    """Why `value` is not a plausible reading under `bounds`, or None when it is one.

    `bounds` None: no rule for the key, only a non-finite number is rejected.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None if bounds is None else "not a number"
    number = _as_float(value)
    if not math.isfinite(number):
        return "not a finite number"
    if bounds is None:
        return None
    if not bounds.low <= number <= bounds.high:
        return f"{number:g} is outside {bounds.low:g}..{bounds.high:g}"
    if bounds.whole and not number.is_integer():
        return f"{number:g} is not a whole number"
    return None


def plausible_number(value: object, bounds: Bounds) -> float | None:
    """`value` when it is a plausible number under `bounds`, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if rejection(value, bounds) is None else None


def split_plausible[K, V](
    values: Mapping[K, V], bounds: Mapping[K, Bounds]
) -> tuple[dict[K, V], dict[K, str]]:
    """Split `values` into the plausible ones and `{key: reason}` for the rejected ones."""
    kept: dict[K, V] = {}
    rejected: dict[K, str] = {}
    for key, value in values.items():
        reason = rejection(value, bounds.get(key))
        if reason is None:
            kept[key] = value
        else:
            rejected[key] = reason
    return kept, rejected


class RejectionLog[K]:
    """Logs one warning when a key's readings start being rejected, one line when they recover.

    One instance per device client: an episode is per device and key. A key that stops being
    sent keeps its episode open; the next valid reading of it ends the episode.
    """

    def __init__(self, describe: Callable[[K], str]) -> None:
        """`describe(key)` names a key in the log, e.g. "P1 meter reading active_power_w"."""
        self._describe = describe
        self._rejected: set[K] = set()

    def update(self, rejected: Mapping[K, str], valid: Collection[K]) -> None:
        """Note one reply: `rejected` readings with their reasons, `valid` keys read fine."""
        for key, reason in rejected.items():
            if key not in self._rejected:
                self._rejected.add(key)
                _LOGGER.warning(
                    "%s rejected (%s): unknown until a valid value arrives",
                    self._describe(key),
                    reason,
                )
        for key in self._rejected.intersection(valid):
            self._rejected.discard(key)
            _LOGGER.info("%s is valid again", self._describe(key))
