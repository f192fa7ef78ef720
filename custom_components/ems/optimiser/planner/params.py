"""The planner's parameters, tuning constants, input errors and the planned slot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

type FloatArray = NDArray[np.float64]
type IntArray = NDArray[np.int64]

MIN_POWER_W: Final = 50.0
"""The smallest non-zero power the inverter accepts (PowerFlex2000 real-time mode)."""

SWITCH_PENALTY_EUR: Final = 0.001
"""Objective cost of reversing direction (charge <-> discharge), against flip-flopping."""

CALM_SWITCH_PENALTY_EUR: Final = 0.004
"""The switching penalty of a second solve, made when the first reverses too often."""

CALM_CHANGES_PER_DAY: Final = 8.0
"""Direction changes per day above which a calmer plan is tried."""

CALM_COST_SHARE: Final = 0.003
"""Share of the first plan's saving (versus doing nothing) a calmer plan may give up."""

THROUGHPUT_TIE_EUR_PER_KWH: Final = 1e-5
"""A negligible cost per kWh moved, so that ties resolve to doing nothing."""

PEAK_PENALTY_EUR_PER_KWH: Final = 1e4
"""Objective cost per kWh imported above the desired peak."""

UNEXCUSED_PEAK_PENALTY_EUR_PER_KWH: Final = 1e5
"""Extra cost per kWh above the peak in a slot that full discharge could have shaved and that
does not end with the battery at its minimum: battery energy goes to the earliest excess first."""

END_PENALTY_EUR_PER_KWH: Final = 100.0
"""Objective cost per kWh the end SOC falls short of its floor."""

WINDOW_PENALTY_EUR_PER_KWH_H: Final = 100.0
"""Objective cost per kWh outside the SOC window, per hour spent there."""

WORK_BUDGET: Final = 6e6
"""Grid points x actions x slots the solver may evaluate; sets the SOC grid's resolution."""

REFINE_FACTOR: Final = 8
"""Fine grid steps per coarse step in the refinement pass."""

REFINE_HALF_WIDTH: Final = 3
"""Coarse steps the refined trajectory may depart from the coarse one, either way."""

GRID_POINTS_MIN: Final = 100
GRID_POINTS_MAX: Final = 1500

VIOLATION_START_OUTSIDE_WINDOW: Final = "start_outside_soc_window"
VIOLATION_OUTSIDE_WINDOW: Final = "soc_outside_window"
VIOLATION_PEAK_EXCEEDED: Final = "grid_peak_exceeded"
VIOLATION_END_SOC: Final = "end_soc_below_floor"

CHARGE: Final = 0
DISCHARGE: Final = 1
INF: Final = math.inf


class PlannerInputError(ValueError):
    """An option or an input series the planner cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class PlannerParams:
    """Battery and grid parameters of the planner (the options of the original design)."""

    capacity_kwh: float = 12.0
    min_soc_percent: float = 10.0
    max_soc_percent: float = 100.0
    max_charge_w: float = 2400.0
    max_discharge_w: float = 2400.0
    max_grid_peak_w: float = 4000.0
    min_price_spread_percent: float = 25.0
    round_trip_efficiency: float = 0.80

    def __post_init__(self) -> None:
        """Reject values that make no physical sense."""
        _check_range("battery_rated_capacity_kwh", self.capacity_kwh, 0.1, 1000.0)
        _check_range("battery_min_soc_percent", self.min_soc_percent, 0.0, 99.0)
        _check_range("battery_max_soc_percent", self.max_soc_percent, 1.0, 100.0)
        if self.max_soc_percent - self.min_soc_percent < 1.0:
            raise PlannerInputError(
                "battery_max_soc_percent must exceed battery_min_soc_percent by at least 1 "
                f"(got {self.min_soc_percent:g}..{self.max_soc_percent:g})"
            )
        _check_range("battery_max_charge_power_w", self.max_charge_w, MIN_POWER_W, 100_000.0)
        _check_range("battery_max_discharge_power_w", self.max_discharge_w, MIN_POWER_W, 100_000.0)
        _check_range("battery_max_desired_grid_peak_w", self.max_grid_peak_w, 0.0, 1_000_000.0)
        _check_range("battery_min_price_spread_percent", self.min_price_spread_percent, 0.0, 1000.0)
        _check_range("battery_round_trip_efficiency", self.round_trip_efficiency, 0.5, 1.0)

    @property
    def spread_factor(self) -> float:
        """The virtual cost per EUR a charged kWh costs, so a cycle pays the minimum spread.

        ``(1 + spread) * eta - 1`` where that is positive: the losses alone already demand a
        spread of ``1 / eta - 1`` (the package docstring's spread rule).
        """
        return max(0.0, (1 + self.min_price_spread_percent / 100) * self.round_trip_efficiency - 1)

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> PlannerParams:
        """Build parameters from option keys; missing keys take the original design's values.

        Keys the planner does not use are ignored, so a whole options mapping can be passed.
        Raises :class:`PlannerInputError` for a value that is not a number or is out of range.
        """
        values: dict[str, float] = {}
        for key, field in _OPTION_FIELDS.items():
            if key in options:
                values[field] = as_number(key, options[key])
        return cls(**values)


_OPTION_FIELDS: Final = {
    "battery_rated_capacity_kwh": "capacity_kwh",
    "battery_min_soc_percent": "min_soc_percent",
    "battery_max_soc_percent": "max_soc_percent",
    "battery_max_charge_power_w": "max_charge_w",
    "battery_max_discharge_power_w": "max_discharge_w",
    "battery_max_desired_grid_peak_w": "max_grid_peak_w",
    "battery_min_price_spread_percent": "min_price_spread_percent",
    "battery_round_trip_efficiency": "round_trip_efficiency",
}


def as_number(name: str, value: object) -> float:
    """``value`` as a finite float; :class:`PlannerInputError` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlannerInputError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise PlannerInputError(f"{name} must be finite, got {value!r}")
    return number


def _check_range(name: str, value: float, low: float, high: float) -> None:
    number = as_number(name, value)
    if not low <= number <= high:
        raise PlannerInputError(f"{name} must be between {low:g} and {high:g}, got {number:g}")


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """One slot of a plan: the battery setpoint and its consequences."""

    charge_w: float
    discharge_w: float
    soc_percent_start: float
    soc_percent_end: float
    grid_w: float
    cost_eur: float
