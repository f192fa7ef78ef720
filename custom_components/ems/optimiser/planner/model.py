"""Battery schedule planner: exact dynamic programming over a discretised SOC grid.

Pure code: no Home Assistant imports and no imports of the integration package, so it runs in an
executor job, in ``scripts/plan`` and in the benchmark alike. numpy is the only dependency.

Model (all slots in input order; ``h`` = slot length in hours, ``eta`` = round-trip efficiency)::

    soc_percent(t+1) = soc_percent(t)
                       + 100*h*(sqrt(eta)*charge_w - discharge_w/sqrt(eta)) / (1000*capacity_kwh)
    grid_w  = load_w - pv_w + charge_w - discharge_w
    cost    = sum h*(import_price*max(grid_w, 0) - export_price*max(-grid_w, 0)) / 1000

The state of the dynamic programme is an index on a uniform SOC grid whose first and last points
are exactly the SOC window's limits, plus the direction of the last non-idle action (for the
switching penalty). Actions are whole grid steps, so the energy a schedule claims is exactly the
energy the physics gives: the power of an action is derived from its SOC step, never the other way
round. The grid step is chosen per problem so that the maximum charge and discharge powers are
(almost exactly) whole numbers of steps - the "last partial step" would otherwise cost up to one
step of energy in every power-limited slot.

Refinement: whole coarse steps cannot express partial powers (charging exactly the PV surplus,
discharging exactly the load when export pays less than import). The coarse solve is therefore
followed by a second one on a grid eight times finer, restricted to a band of three coarse steps
either side of the coarse path. The coarse path lies inside the band, so the refined plan is never
worse in the objective; the band keeps it cheap. The schedule comes from the refined solve;
:meth:`Plan.policy_action` uses its decisions inside the band and the coarse ones elsewhere.

Everything the user can ask for that may be impossible is a soft penalty, so the planner never
returns "infeasible": a grid import above the desired peak, an end SOC below the floor and a SOC
outside the window (only possible when the start is outside it) each cost far more than any price
difference, and :attr:`Plan.violations` names whatever could not be met.

Peak: importing above ``battery_max_desired_grid_peak_w`` costs a large penalty per kWh, and a
far larger one in a slot that full discharge could have shaved unless the slot ends with the
battery at its minimum SOC - the issue's rule, so battery energy goes to the earliest excess first.

Flip-flopping: each charge <-> discharge reversal costs a small penalty. When a plan still reverses
more than eight times a day it is solved again with a larger penalty, and the calmer plan is kept
if it gives up at most 0.3 % of the saving.

Spread rule: ``battery_min_price_spread_percent`` (s) means a charge/discharge cycle is only worth
making when the effective discharge price exceeds the effective charge price by s percent.
Losses alone already demand ``p_dis > p_chg / eta``; where ``(1 + s) * eta > 1`` the planner adds
a virtual cost of ``((1 + s) * eta - 1)`` times the effective (marginal) cost of every kWh it
charges at a positive price, which makes a cycle worthwhile exactly when
``p_dis > (1 + s) * p_chg``. With the defaults (25 %, eta 0.80) the factor is zero: the losses are
already a 25 % spread. Virtual costs and penalties steer the plan; :attr:`Plan.cost_eur` is the
plain energy cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
import math
import time
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

_CHARGE: Final = 0
_DISCHARGE: Final = 1
_INF: Final = math.inf


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

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> PlannerParams:
        """Build parameters from option keys; missing keys take the original design's values.

        Keys the planner does not use are ignored, so a whole options mapping can be passed.
        Raises :class:`PlannerInputError` for a value that is not a number or is out of range.
        """
        values: dict[str, float] = {}
        for key, field in _OPTION_FIELDS.items():
            if key in options:
                values[field] = _as_number(key, options[key])
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


def _as_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlannerInputError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise PlannerInputError(f"{name} must be finite, got {value!r}")
    return number


def _check_range(name: str, value: float, low: float, high: float) -> None:
    number = _as_number(name, value)
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


@dataclass(frozen=True, slots=True, eq=False)
class _Policy:
    """Everything :meth:`Plan.policy_action` needs: the solver's decision for every state.

    The refined solve decides in a band of fine grid points around the plan; the coarse solve
    decides everywhere else.
    """

    actions: NDArray[np.int16]  # (slots, 2 directions, coarse points): signed coarse SOC steps
    band_targets: IntArray  # (slots, 2 directions, band width): fine target, -1 = unreachable
    band_low: IntArray  # (slots,): fine grid index of each slot's first band point
    start_moves: IntArray  # (slots,): fine target index from the start SOC, -1 = stay
    start_soc_percent: float
    grid_low_percent: float  # SOC of grid index 0 (coarse and fine)
    step_percent: float  # coarse
    step_kwh: float  # coarse
    fine_step_percent: float
    fine_step_kwh: float
    directions: IntArray  # (slots,): last direction before each slot, -1 = none yet
    at_start: NDArray[np.bool_]  # (slots,): the plan still sits at the start SOC


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """A planned schedule plus the policy to follow it from any measured SOC."""

    slots: tuple[PlannedSlot, ...]
    cost_eur: float
    """Energy cost of the schedule in EUR (penalties and virtual costs excluded)."""
    violations: tuple[str, ...]
    """Soft constraints the plan could not meet (``VIOLATION_*``); empty when all hold."""
    solve_ms: float
    params: PlannerParams
    slot_hours: tuple[float, ...]
    _policy: _Policy

    @property
    def violated(self) -> bool:
        """Whether any soft constraint could not be met."""
        return bool(self.violations)

    def policy_action(self, slot_index: int, measured_soc_percent: float) -> tuple[float, float]:
        """Return ``(charge_w, discharge_w)`` for a measured SOC during a slot, without re-solving.

        The answer is the solver's optimal action from the grid state nearest the measured SOC
        (with the plan's last direction): the refined solve's near the plan, the coarse solve's
        elsewhere. It is limited so that the SOC stays inside the window during the rest of the
        slot; a power below the inverter's minimum becomes 0.
        """
        policy = self._policy
        if not 0 <= slot_index < len(self.slots):
            raise IndexError(f"slot_index {slot_index} outside 0..{len(self.slots) - 1}")
        if not math.isfinite(measured_soc_percent):
            raise PlannerInputError(f"measured SOC must be finite, got {measured_soc_percent!r}")
        params = self.params
        hours = self.slot_hours[slot_index]
        root = math.sqrt(params.round_trip_efficiency)
        if policy.at_start[slot_index] and (
            abs(measured_soc_percent - policy.start_soc_percent) < policy.step_percent / 2
        ):
            target = int(policy.start_moves[slot_index])
            if target < 0:
                return 0.0, 0.0
            target_percent = policy.grid_low_percent + target * policy.fine_step_percent
            delta_kwh = (target_percent - policy.start_soc_percent) * params.capacity_kwh / 100
        else:
            direction = max(int(policy.directions[slot_index]), _CHARGE)
            offset = measured_soc_percent - policy.grid_low_percent
            fine = round(offset / policy.fine_step_percent)
            band = fine - int(policy.band_low[slot_index])
            width = policy.band_targets.shape[2]
            target = (
                int(policy.band_targets[slot_index, direction, band]) if 0 <= band < width else -1
            )
            if target >= 0:
                delta_kwh = (target - fine) * policy.fine_step_kwh
            else:
                # Far from the plan: the coarse solve's decision from the nearest coarse point.
                points = policy.actions.shape[2]
                index = min(max(round(offset / policy.step_percent), 0), points - 1)
                delta_kwh = int(policy.actions[slot_index, direction, index]) * policy.step_kwh
        if delta_kwh > 0:
            room_kwh = (params.max_soc_percent - measured_soc_percent) * params.capacity_kwh / 100
            power_w = min(delta_kwh, room_kwh) * 1000 / (root * hours)
            power_w = min(power_w, params.max_charge_w)
            return (power_w, 0.0) if power_w >= MIN_POWER_W else (0.0, 0.0)
        if delta_kwh < 0:
            room_kwh = (measured_soc_percent - params.min_soc_percent) * params.capacity_kwh / 100
            power_w = min(-delta_kwh, room_kwh) * 1000 * root / hours
            power_w = min(power_w, params.max_discharge_w)
            return (0.0, power_w) if power_w >= MIN_POWER_W else (0.0, 0.0)
        return 0.0, 0.0


def plan_schedule(
    prices_import: Sequence[float],
    *,
    prices_export: Sequence[float] | None = None,
    load_w: Sequence[float] | None = None,
    pv_w: Sequence[float] | None = None,
    slot_hours: float | Sequence[float],
    params: PlannerParams,
    initial_soc_percent: float,
    end_soc_percent_min: float | None = None,
) -> Plan:
    """Plan the battery for the given slots at the minimum energy cost.

    ``prices_import``/``prices_export`` in EUR/kWh (export defaults to import), ``load_w`` and
    ``pv_w`` average watts per slot (default 0), ``slot_hours`` one length for all slots or one
    per slot. ``end_soc_percent_min`` defaults to the initial SOC and is clamped to the window.
    Pure and CPU-bound: call it from an executor job. Raises :class:`PlannerInputError` for input
    it cannot use; never fails for lack of a feasible schedule (see :attr:`Plan.violations`).
    """
    started = time.perf_counter()
    problem = _Problem.build(
        prices_import,
        prices_export=prices_export,
        load_w=load_w,
        pv_w=pv_w,
        slot_hours=slot_hours,
        params=params,
        initial_soc_percent=initial_soc_percent,
        end_soc_percent_min=end_soc_percent_min,
    )
    fine = problem.refined(REFINE_FACTOR)
    plan = problem.plan(fine, SWITCH_PENALTY_EUR, started)
    if _changes_per_day(plan) <= CALM_CHANGES_PER_DAY:
        return plan
    # Many reversals: a calmer plan is preferred when it costs next to nothing more.
    calm = problem.plan(fine, CALM_SWITCH_PENALTY_EUR, started)
    saving = max(problem.idle_cost_eur() - plan.cost_eur, 0.0)
    if calm.violations == plan.violations and (
        calm.cost_eur <= plan.cost_eur + CALM_COST_SHARE * saving
    ):
        return calm
    return replace(plan, solve_ms=calm.solve_ms)


def _changes_per_day(plan: Plan) -> float:
    """Charge <-> discharge reversals per 24 hours (idle slots in between do not count)."""
    changes = 0
    last = 0
    for slot in plan.slots:
        direction = 1 if slot.charge_w > 0 else -1 if slot.discharge_w > 0 else 0
        if direction and last and direction != last:
            changes += 1
        last = direction or last
    return changes * 24 / sum(plan.slot_hours)


def _series(name: str, values: Sequence[float] | None, count: int, default: float) -> FloatArray:
    if values is None:
        return np.full(count, default, dtype=np.float64)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise PlannerInputError(f"{name} must be numbers") from err
    if array.shape != (count,):
        raise PlannerInputError(f"{name} must have {count} values, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise PlannerInputError(f"{name} must be finite numbers")
    return array


def _peak_reference(
    params: PlannerParams, net_w: FloatArray, hours: FloatArray, step_percent: float
) -> tuple[FloatArray, FloatArray]:
    """The import an excess is measured from, and where full discharge can shave the peak.

    The deepest discharge on the grid can fall a few watts short of the power limit; an excess is
    measured from what the grid can reach, so the start state (which can move by any amount)
    gains nothing from the last partial step.
    """
    root = math.sqrt(params.round_trip_efficiency)
    step_w = step_percent * params.capacity_kwh / 100 * 1000 * root / hours
    deepest_w = np.floor(params.max_discharge_w / step_w + 1e-9) * step_w
    reference_w = np.maximum(params.max_grid_peak_w, net_w - deepest_w)
    return reference_w, (net_w - deepest_w <= params.max_grid_peak_w).astype(np.float64)


def _percent(name: str, value: float) -> float:
    number = _as_number(name, value)
    if not 0.0 <= number <= 100.0:
        raise PlannerInputError(f"{name} must be between 0 and 100, got {number:g}")
    return number


def _choose_grid_points(
    window_kwh: float, charge_kwh: float, discharge_kwh: float, slots: int
) -> int:
    """Grid points of the SOC window.

    As many as the work budget allows, tuned so that the per-slot maximum charge and discharge
    energies are (nearly) whole numbers of steps.
    """
    per_point = slots * (charge_kwh + discharge_kwh) / window_kwh
    base = math.sqrt(WORK_BUDGET / per_point) / 1.15
    base = min(max(base, GRID_POINTS_MIN), GRID_POINTS_MAX)
    candidates = np.arange(int(base), int(base * 1.3) + 1, dtype=np.float64)
    steps_charge = charge_kwh * candidates / window_kwh
    steps_discharge = discharge_kwh * candidates / window_kwh
    # Energy share lost by rounding each maximum down to whole steps (a 1e-9 guard for floats).
    loss = (steps_charge - np.floor(steps_charge + 1e-9)) / steps_charge + (
        steps_discharge - np.floor(steps_discharge + 1e-9)
    ) / steps_discharge
    return int(candidates[int(np.argmin(loss + 1e-4 * candidates / base))])


@dataclass(slots=True)
class _Problem:
    """The discretised problem: grid, per-slot data and the cost model."""

    params: PlannerParams
    price_import: FloatArray
    price_export: FloatArray
    net_w: FloatArray
    hours: FloatArray
    start_percent: float
    floor_percent: float
    step_kwh: float
    step_percent: float
    low_index: int  # grid index of min_soc_percent
    high_index: int  # grid index of max_soc_percent
    grid_percent: FloatArray
    spread_factor: float
    peak_reference_w: FloatArray  # the peak, or the least import full discharge can reach
    shavable: FloatArray  # 1.0 where full discharge can keep the slot under the peak

    @classmethod
    def build(
        cls,
        prices_import: Sequence[float],
        *,
        prices_export: Sequence[float] | None,
        load_w: Sequence[float] | None,
        pv_w: Sequence[float] | None,
        slot_hours: float | Sequence[float],
        params: PlannerParams,
        initial_soc_percent: float,
        end_soc_percent_min: float | None,
    ) -> _Problem:
        count = len(prices_import)
        if count == 0:
            raise PlannerInputError("at least one price slot is needed")
        price_import = _series("prices_import", prices_import, count, 0.0)
        price_export = (
            price_import.copy()
            if prices_export is None
            else _series("prices_export", prices_export, count, 0.0)
        )
        load = _series("load_w", load_w, count, 0.0)
        pv = _series("pv_w", pv_w, count, 0.0)
        if isinstance(slot_hours, int | float):
            hours = _series("slot_hours", [slot_hours] * count, count, 0.0)
        else:
            hours = _series("slot_hours", slot_hours, count, 0.0)
        if not np.all(hours > 0):
            raise PlannerInputError("slot_hours must be positive")
        start = _percent("initial_soc_percent", initial_soc_percent)
        floor = start if end_soc_percent_min is None else end_soc_percent_min
        floor = _percent("end_soc_percent_min", floor)
        low, high = params.min_soc_percent, params.max_soc_percent
        floor = min(max(floor, low), high)

        root = math.sqrt(params.round_trip_efficiency)
        window_kwh = (high - low) * params.capacity_kwh / 100
        reference_h = float(np.sort(hours)[count // 2])
        points = _choose_grid_points(
            window_kwh,
            params.max_charge_w * root * reference_h / 1000,
            params.max_discharge_w / root * reference_h / 1000,
            count,
        )
        step_percent = (high - low) / points
        # Extend the grid beyond the window only as far as a start outside it needs.
        below = math.floor((low - start) / step_percent + 1e-9) if start < low else 0
        above = math.floor((start - high) / step_percent + 1e-9) if start > high else 0
        offsets = np.arange(-below, points + above + 1, dtype=np.float64)
        grid_percent = low + offsets * step_percent
        grid_percent[below] = low
        grid_percent[below + points] = high
        net_w = load - pv
        peak_reference_w, shavable = _peak_reference(params, net_w, hours, step_percent)
        return cls(
            params=params,
            price_import=price_import,
            price_export=price_export,
            net_w=net_w,
            hours=hours,
            start_percent=start,
            floor_percent=floor,
            step_kwh=step_percent * params.capacity_kwh / 100,
            step_percent=step_percent,
            low_index=below,
            high_index=below + points,
            grid_percent=grid_percent,
            spread_factor=max(
                0.0,
                (1 + params.min_price_spread_percent / 100) * params.round_trip_efficiency - 1,
            ),
            peak_reference_w=peak_reference_w,
            shavable=shavable,
        )

    def refined(self, factor: int) -> _Problem:
        """The same problem on a grid ``factor`` times finer; coarse index i is fine i*factor."""
        params = self.params
        step_percent = self.step_percent / factor
        low, high = self.low_index * factor, self.high_index * factor
        offsets = np.arange(-low, (len(self.grid_percent) - 1) * factor - low + 1)
        grid_percent = params.min_soc_percent + offsets * step_percent
        grid_percent[low] = params.min_soc_percent
        grid_percent[high] = params.max_soc_percent
        peak_reference_w, shavable = _peak_reference(params, self.net_w, self.hours, step_percent)
        return replace(
            self,
            step_kwh=step_percent * params.capacity_kwh / 100,
            step_percent=step_percent,
            low_index=low,
            high_index=high,
            grid_percent=grid_percent.astype(np.float64),
            peak_reference_w=peak_reference_w,
            shavable=shavable,
        )

    # -- cost model ------------------------------------------------------------------------
    # Slot data broadcast against actions: shape (slots, 1) against (slots, actions).

    def energy_cost(self, grid_w: FloatArray) -> FloatArray:
        """Plain energy cost in EUR of a grid power held for each slot (rows = slots)."""
        cost = (
            self.hours[:, None]
            * (
                self.price_import[:, None] * np.maximum(grid_w, 0.0)
                - self.price_export[:, None] * np.maximum(-grid_w, 0.0)
            )
            / 1000
        )
        return np.asarray(cost, dtype=np.float64)

    def objective(
        self, charge_w: FloatArray, discharge_w: FloatArray, *, ends_empty: bool = False
    ) -> FloatArray:
        """Objective cost of actions (rows = slots): energy cost, penalties and virtual costs.

        ``ends_empty``: the actions end at (or below) the minimum SOC, which excuses an excess.
        """
        hours = self.hours[:, None]
        grid_w = self.net_w[:, None] + charge_w - discharge_w
        energy = self.energy_cost(grid_w)
        excess_kwh = np.maximum(grid_w - self.peak_reference_w[:, None], 0.0) * hours / 1000
        cost = energy + PEAK_PENALTY_EUR_PER_KWH * excess_kwh
        if not ends_empty:
            cost += UNEXCUSED_PEAK_PENALTY_EUR_PER_KWH * excess_kwh * self.shavable[:, None]
        cost += THROUGHPUT_TIE_EUR_PER_KWH * (charge_w + discharge_w) * hours / 1000
        if self.spread_factor > 0:
            marginal = np.maximum(energy - self.energy_cost(self.net_w[:, None]), 0.0)
            cost += self.spread_factor * np.where(charge_w > 0, marginal, 0.0)
        return cost

    def window_penalty(self, soc_percent: FloatArray) -> FloatArray:
        """Penalty for ending each slot at these SOCs (non-zero only outside the window)."""
        outside = np.maximum(self.params.min_soc_percent - soc_percent, 0.0) + np.maximum(
            soc_percent - self.params.max_soc_percent, 0.0
        )
        kwh_hours = self.hours[:, None] * outside * self.params.capacity_kwh / 100
        return np.asarray(WINDOW_PENALTY_EUR_PER_KWH_H * kwh_hours, dtype=np.float64)

    def end_penalty(self, soc_percent: FloatArray) -> FloatArray:
        """Penalty for ending the horizon at these SOCs (non-zero below the floor)."""
        # A floor between grid points is met by the next point up: compare with a tolerance,
        # and charge at least one step's worth for any shortfall so no point sits just below.
        shortfall = np.maximum(self.floor_percent - soc_percent - 1e-9, 0.0)
        kwh = shortfall * self.params.capacity_kwh / 100 + np.where(shortfall > 0, self.step_kwh, 0)
        return np.asarray(END_PENALTY_EUR_PER_KWH * kwh, dtype=np.float64)

    def step_limits(self, *, charging: bool) -> tuple[FloatArray, IntArray, IntArray]:
        """Power of one grid step in each slot, and the fewest and most steps allowed."""
        params = self.params
        root = math.sqrt(params.round_trip_efficiency)
        if charging:
            per_step_w = self.step_kwh * 1000 / (root * self.hours)
            limit = params.max_charge_w
        else:
            per_step_w = self.step_kwh * 1000 * root / self.hours
            limit = params.max_discharge_w
        most = np.floor(limit / per_step_w + 1e-9).astype(np.int64)
        fewest = np.asarray([_fewest_steps(float(value)) for value in per_step_w])
        return per_step_w, fewest, most

    def step_costs(self, *, charging: bool, ends_empty: bool = False) -> FloatArray:
        """Objective cost of moving k = 1..K grid steps in each slot; +inf where not allowed."""
        params = self.params
        per_step_w, fewest, most = self.step_limits(charging=charging)
        limit = params.max_charge_w if charging else params.max_discharge_w
        steps = np.arange(1, max(int(most.max()), 1) + 1)
        power_w = np.minimum(steps[None, :] * per_step_w[:, None], limit)
        zero = np.zeros_like(power_w)
        if charging:
            cost = self.objective(power_w, zero, ends_empty=ends_empty)
        else:
            cost = self.objective(zero, power_w, ends_empty=ends_empty)
        cost[(steps[None, :] < fewest[:, None]) | (steps[None, :] > most[:, None])] = _INF
        return cost

    # -- solver ----------------------------------------------------------------------------

    def idle_cost_eur(self) -> float:
        """Energy cost of leaving the battery idle all along."""
        return float(self.energy_cost(self.net_w[:, None]).sum())

    def solve(self, switch_penalty_eur: float) -> tuple[NDArray[np.int16], IntArray]:
        """Backward induction; returns the decision of every state in every slot."""
        slots = len(self.hours)
        points = len(self.grid_percent)
        params = self.params
        root = math.sqrt(params.round_trip_efficiency)
        actions = np.zeros((slots, 2, points), dtype=np.int16)
        start_moves = np.full(slots, -1, dtype=np.int64)

        nothing = np.zeros((slots, 1))
        idle = self.objective(nothing, nothing)[:, 0]
        idle_empty = self.objective(nothing, nothing, ends_empty=True)[:, 0]
        cost_c = self.step_costs(charging=True)
        cost_d = self.step_costs(charging=False)[:, ::-1].copy()
        # Discharging onto the minimum SOC excuses an excess: those moves get their own costs.
        empty_d = self.step_costs(charging=False, ends_empty=True)
        low = self.low_index
        reach = min(empty_d.shape[1], points - 1 - low)
        onto_low = low + np.arange(1, reach + 1)
        width_c, width_d = cost_c.shape[1], cost_d.shape[1]
        outside = self.low_index > 0 or self.high_index < points - 1
        penalty = self.window_penalty(self.grid_percent[None, :]) if outside else None

        # Charging k steps from i lands on i + k, discharging on i - k: each is a minimum over a
        # sliding window of the later values, padded with +inf where a step leaves the grid.
        buffer_c = np.full(points - 1 + width_c, _INF)
        buffer_d = np.full(points - 1 + width_d, _INF)
        windows_c = np.lib.stride_tricks.sliding_window_view(buffer_c, width_c)
        windows_d = np.lib.stride_tricks.sliding_window_view(buffer_d, width_d)
        totals_c = np.empty((points, width_c))
        totals_d = np.empty((points, width_d))
        rows_c = np.arange(points) * width_c
        rows_d = np.arange(points) * width_d

        # The start SOC is a state of its own: stay there, or move onto the grid in one slot.
        start_delta_kwh = (self.grid_percent - self.start_percent) * params.capacity_kwh / 100
        up = start_delta_kwh > 0
        hours = self.hours[:, None]
        start_charge_w = np.maximum(start_delta_kwh, 0)[None, :] * 1000 / (root * hours)
        start_discharge_w = np.maximum(-start_delta_kwh, 0)[None, :] * 1000 * root / hours
        allowed = np.where(
            up,
            (start_charge_w >= MIN_POWER_W) & (start_charge_w <= params.max_charge_w + 1e-9),
            (start_discharge_w >= MIN_POWER_W)
            & (start_discharge_w <= params.max_discharge_w + 1e-9),
        )
        start_cost = self.objective(start_charge_w, start_discharge_w)
        start_cost[:, : low + 1] = self.objective(
            start_charge_w[:, : low + 1], start_discharge_w[:, : low + 1], ends_empty=True
        )
        start_cost[~allowed] = _INF
        idle_at_start = idle_empty if self.start_percent <= params.min_soc_percent else idle
        start_stay = idle_at_start + self.window_penalty(np.asarray([[self.start_percent]]))[:, 0]

        terminal = self.end_penalty(self.grid_percent)
        later_c = terminal
        later_d = terminal
        start_value = float(self.end_penalty(np.asarray([self.start_percent]))[0])
        for slot in range(slots - 1, -1, -1):
            if penalty is not None:
                later_c = later_c + penalty[slot]
                later_d = later_d + penalty[slot]
            buffer_c[: points - 1] = later_c[1:]
            np.add(windows_c, cost_c[slot], out=totals_c)
            arg_c = totals_c.argmin(axis=1)
            best_c = totals_c.ravel()[rows_c + arg_c]
            buffer_d[width_d:] = later_d[:-1]
            np.add(windows_d, cost_d[slot], out=totals_d)
            arg_d = totals_d.argmin(axis=1)
            best_d = totals_d.ravel()[rows_d + arg_d]
            emptying = empty_d[slot, :reach] + later_d[low]
            better = emptying < best_d[onto_low]
            best_d[onto_low] = np.where(better, emptying, best_d[onto_low])
            arg_d[onto_low] = np.where(better, width_d - 1 - np.arange(reach), arg_d[onto_low])
            step_c = (arg_c + 1).astype(np.int16)
            step_d = (arg_d - width_d).astype(np.int16)

            moves = start_cost[slot] + np.where(up, later_c, later_d)
            target = int(moves.argmin())
            stay = float(start_stay[slot]) + start_value
            if moves[target] < stay:
                start_moves[slot] = target
                start_value = float(moves[target])
            else:
                start_value = stay

            new_values = []
            for direction, keep in ((_CHARGE, later_c), (_DISCHARGE, later_d)):
                best = idle[slot] + keep
                best[: low + 1] = idle_empty[slot] + keep[: low + 1]
                candidate = best_c + (switch_penalty_eur if direction == _DISCHARGE else 0.0)
                take_c = candidate < best
                best = np.where(take_c, candidate, best)
                candidate = best_d + (switch_penalty_eur if direction == _CHARGE else 0.0)
                take_d = candidate < best
                best = np.where(take_d, candidate, best)
                actions[slot, direction] = np.where(take_d, step_d, np.where(take_c, step_c, 0))
                new_values.append(best)
            later_c, later_d = new_values
        return actions, start_moves

    def plan(self, fine: _Problem, switch_penalty_eur: float, started: float) -> Plan:
        """Solve on this (coarse) grid, refine in a band around its path on ``fine``, follow it.

        The coarse path is inside the band, so the refined plan's objective is never worse.
        """
        actions, start_moves = self.solve(switch_penalty_eur)
        factor = round(self.step_percent / fine.step_percent)
        positions = self.positions(actions, start_moves)
        start_index = round((self.start_percent - float(fine.grid_percent[0])) / fine.step_percent)
        start_index = min(max(start_index, 0), len(fine.grid_percent) - 1)
        centers = np.where(positions >= 0, positions * factor, start_index)
        band_targets, band_low, fine_moves = fine.solve_band(
            centers, switch_penalty_eur, REFINE_HALF_WIDTH * factor
        )
        planned, directions, at_start = fine.follow(band_targets, band_low, fine_moves)
        policy = _Policy(
            actions=actions,
            band_targets=band_targets,
            band_low=band_low[:-1],
            start_moves=fine_moves,
            start_soc_percent=self.start_percent,
            grid_low_percent=float(self.grid_percent[0]),
            step_percent=self.step_percent,
            step_kwh=self.step_kwh,
            fine_step_percent=fine.step_percent,
            fine_step_kwh=fine.step_kwh,
            directions=directions,
            at_start=at_start,
        )
        return Plan(
            slots=tuple(planned),
            cost_eur=math.fsum(slot.cost_eur for slot in planned),
            violations=fine._violations(planned),
            solve_ms=(time.perf_counter() - started) * 1000,
            params=self.params,
            slot_hours=tuple(float(hours) for hours in self.hours),
            _policy=policy,
        )

    def positions(self, actions: NDArray[np.int16], start_moves: IntArray) -> IntArray:
        """The grid index the decisions reach at each slot boundary; -1 at the start SOC."""
        slots = len(self.hours)
        positions = np.full(slots + 1, -1, dtype=np.int64)
        position = -1
        direction = _CHARGE
        for slot in range(slots):
            if position < 0:
                target = int(start_moves[slot])
                rising = target >= 0 and self.grid_percent[target] > self.start_percent
            else:
                target = position + int(actions[slot, direction, position])
                rising = target > position
            if target >= 0 and target != position:
                direction = _CHARGE if rising else _DISCHARGE
                position = target
            positions[slot + 1] = position
        return positions

    def solve_band(
        self, centers: IntArray, switch_penalty_eur: float, half_width: int
    ) -> tuple[IntArray, IntArray, IntArray]:
        """Backward induction restricted to a band of grid points around a path.

        ``centers`` holds a grid index for the SOC at each slot boundary (slots + 1 of them).
        Returns the target index of every band state in every slot and direction (-1 where no
        finite-cost path goes on), each boundary's first band index and the start state's moves.
        """
        slots = len(self.hours)
        points = len(self.grid_percent)
        width = min(2 * half_width + 1, points)
        params = self.params
        root = math.sqrt(params.round_trip_efficiency)
        low = self.low_index
        band_low = np.clip(centers - half_width, 0, points - width).astype(np.int64)
        index = band_low[:, None] + np.arange(width)  # (slots + 1, width)
        shift = band_low[1:] - band_low[:-1]

        # A band point i at a slot's start reaches band point j at its end by j - i + shift
        # steps: the cost depends on the slot and on k = j - i + width - 1 only.
        steps = shift[:, None] + np.arange(1 - width, width)  # (slots, 2 * width - 1)
        per_c, fewest_c, most_c = self.step_limits(charging=True)
        per_d, fewest_d, most_d = self.step_limits(charging=False)
        count_c = np.maximum(steps, 0)
        count_d = np.maximum(-steps, 0)
        charge_w = np.minimum(count_c * per_c[:, None], params.max_charge_w)
        discharge_w = np.minimum(count_d * per_d[:, None], params.max_discharge_w)
        invalid = ((steps > 0) & ((count_c < fewest_c[:, None]) | (count_c > most_c[:, None]))) | (
            (steps < 0) & ((count_d < fewest_d[:, None]) | (count_d > most_d[:, None]))
        )
        cost = np.where(invalid, _INF, self.objective(charge_w, discharge_w))
        # Arrival columns: 0..width-1 arrive charging (last direction), width.. discharging.
        # segments[previous direction, arrival direction, k]; +inf where the pair is impossible.
        segments = np.full((slots, 2, 2, 2 * width - 1), _INF)
        segments[:, _CHARGE, _CHARGE] = np.where(steps >= 0, cost, _INF)
        segments[:, _CHARGE, _DISCHARGE] = np.where(steps < 0, cost + switch_penalty_eur, _INF)
        segments[:, _DISCHARGE, _CHARGE] = np.where(steps > 0, cost + switch_penalty_eur, _INF)
        segments[:, _DISCHARGE, _DISCHARGE] = np.where(steps <= 0, cost, _INF)
        arrival = np.arange(2 * width)
        offsets = np.arange(width)[:, None]
        gather = (arrival // width) * (2 * width - 1) + arrival % width - offsets + width - 1
        # np.take keeps the result C-contiguous (fancy indexing would not): the loop reads it
        # slot by slot.
        totals_all = np.take(segments.reshape(slots, 2, -1), gather, axis=2)

        # Idling at (or below) the minimum SOC, or discharging onto it, excuses an excess.
        nothing = np.zeros((slots, 1))
        idle = self.objective(nothing, nothing)[:, 0]
        idle_empty = self.objective(nothing, nothing, ends_empty=True)[:, 0]
        slot_of, state_of = np.nonzero(index[:-1] <= low)
        stay_at = state_of - shift[slot_of]
        keep = (stay_at >= 0) & (stay_at < width)
        slot_of, state_of, stay_at = slot_of[keep], state_of[keep], stay_at[keep]
        for direction in (_CHARGE, _DISCHARGE):
            totals_all[slot_of, direction, state_of, direction * width + stay_at] = idle_empty[
                slot_of
            ]
        slot_of, low_at = np.nonzero(index[1:] == low)
        step_of = low_at[:, None] + width - 1 - np.arange(width)  # k of every band point
        hit, state_of = np.nonzero(steps[slot_of[:, None], step_of] < 0)
        rows, step_of, low_at = slot_of[hit], step_of[hit, state_of], low_at[hit]
        emptying = np.where(invalid, _INF, self.objective(charge_w, discharge_w, ends_empty=True))[
            rows, step_of
        ]
        totals_all[rows, _CHARGE, state_of, width + low_at] = emptying + switch_penalty_eur
        totals_all[rows, _DISCHARGE, state_of, width + low_at] = emptying
        ends = self.grid_percent[index]
        outside = self.low_index > 0 or self.high_index < points - 1
        penalty = self.window_penalty(ends[1:]) if outside else None

        # The start SOC is a state of its own: stay there, or move into the band in one slot.
        start_delta_kwh = (ends[1:] - self.start_percent) * params.capacity_kwh / 100
        up = start_delta_kwh > 0
        hours = self.hours[:, None]
        start_charge_w = np.maximum(start_delta_kwh, 0) * 1000 / (root * hours)
        start_discharge_w = np.maximum(-start_delta_kwh, 0) * 1000 * root / hours
        allowed = np.where(
            up,
            (start_charge_w >= MIN_POWER_W) & (start_charge_w <= params.max_charge_w + 1e-9),
            (start_discharge_w >= MIN_POWER_W)
            & (start_discharge_w <= params.max_discharge_w + 1e-9),
        )
        start_cost = np.where(
            index[1:] <= low,
            self.objective(start_charge_w, start_discharge_w, ends_empty=True),
            self.objective(start_charge_w, start_discharge_w),
        )
        start_cost[~allowed] = _INF
        # Arriving charging or discharging: the other half of the columns is impossible.
        start_cost = np.concatenate(
            (np.where(up, start_cost, _INF), np.where(up, _INF, start_cost)), axis=1
        )
        idle_at_start = idle_empty if self.start_percent <= params.min_soc_percent else idle
        start_stay = idle_at_start + self.window_penalty(np.asarray([[self.start_percent]]))[:, 0]

        choices = np.empty((slots, 2, width), dtype=np.int64)
        values = np.empty((slots, 2, width))
        start_moves = np.full(slots, -1, dtype=np.int64)
        terminal = self.end_penalty(ends[slots])
        later = np.concatenate((terminal, terminal))
        start_value = float(self.end_penalty(np.asarray([self.start_percent]))[0])
        rows = np.arange(2 * width)
        for slot in range(slots - 1, -1, -1):
            if penalty is not None:
                later = later + np.tile(penalty[slot], 2)
            moves = start_cost[slot] + later
            best_move = int(moves.argmin())
            stay = float(start_stay[slot]) + start_value
            if moves[best_move] < stay:
                start_moves[slot] = index[slot + 1, best_move % width]
                start_value = float(moves[best_move])
            else:
                start_value = stay
            totals = (totals_all[slot] + later).reshape(2 * width, 2 * width)
            best = totals.argmin(axis=1)
            choices[slot] = best.reshape(2, width)
            later = totals[rows, best]
            values[slot] = later.reshape(2, width)
        targets = np.take_along_axis(index[1:, None, :], choices % width, axis=2)
        band_targets = np.where(np.isfinite(values), targets, -1)
        return band_targets, band_low, start_moves

    def follow(
        self, band_targets: IntArray, band_low: IntArray, start_moves: IntArray
    ) -> tuple[list[PlannedSlot], IntArray, NDArray[np.bool_]]:
        """Follow the band decisions forward from the start and turn them into exact setpoints.

        Returns the slots, the last direction before each slot and whether it starts at the
        start SOC.
        """
        params = self.params
        slots = len(self.hours)
        root = math.sqrt(params.round_trip_efficiency)
        directions = np.full(slots, -1, dtype=np.int64)
        at_start = np.zeros(slots, dtype=np.bool_)
        planned: list[PlannedSlot] = []
        position = -1  # -1: still at the start SOC
        direction = -1
        soc = self.start_percent
        for slot in range(slots):
            hours = float(self.hours[slot])
            directions[slot] = direction
            if position < 0:
                at_start[slot] = True
                target = int(start_moves[slot])
            else:
                band = position - int(band_low[slot])
                target = int(band_targets[slot, max(direction, _CHARGE), band])
            if target < 0 or target == position:
                charge_w = discharge_w = 0.0
                soc_end = soc
            else:
                charge_w, discharge_w, soc_end = _exact_setpoint(
                    soc, float(self.grid_percent[target]), hours, params, root
                )
                direction = _CHARGE if charge_w > 0 else _DISCHARGE
                position = target
            grid_w = float(self.net_w[slot]) + charge_w - discharge_w
            cost = (
                hours
                * (
                    float(self.price_import[slot]) * max(grid_w, 0.0)
                    - float(self.price_export[slot]) * max(-grid_w, 0.0)
                )
                / 1000
            )
            planned.append(PlannedSlot(charge_w, discharge_w, soc, soc_end, grid_w, cost))
            soc = soc_end
        return planned, directions, at_start

    def _violations(self, planned: Sequence[PlannedSlot]) -> tuple[str, ...]:
        params = self.params
        low, high = params.min_soc_percent, params.max_soc_percent
        found: list[str] = []
        if not low <= self.start_percent <= high:
            found.append(VIOLATION_START_OUTSIDE_WINDOW)
            if any(not low <= slot.soc_percent_end <= high for slot in planned):
                found.append(VIOLATION_OUTSIDE_WINDOW)
        # An excess is excused where the load alone needs more than full discharge can shave, or
        # where the battery is empty (the rule); anything else is a violation.
        for slot, net_w in zip(planned, self.net_w, strict=True):
            if (
                slot.grid_w > params.max_grid_peak_w + 1e-6
                and net_w - params.max_discharge_w <= params.max_grid_peak_w
                and slot.soc_percent_end > low + 1e-6
            ):
                found.append(VIOLATION_PEAK_EXCEEDED)
                break
        if planned[-1].soc_percent_end < self.floor_percent - 1e-6:
            found.append(VIOLATION_END_SOC)
        return tuple(found)


def _fewest_steps(per_step_w: float) -> int:
    """The fewest grid steps whose power reaches the inverter's minimum power."""
    steps = max(1, math.ceil(MIN_POWER_W / per_step_w))
    return steps if steps * per_step_w >= MIN_POWER_W else steps + 1


def _exact_setpoint(
    soc_percent: float, target_percent: float, hours: float, params: PlannerParams, root: float
) -> tuple[float, float, float]:
    """Powers that move the SOC from ``soc_percent`` to ``target_percent`` under the physics.

    The returned SOC is computed with the model's formula from the returned powers, so anyone
    recomputing it gets the same number; the powers are nudged by a few ulps where needed so the
    SOC lands exactly on the target (or on its safe side) and the powers stay within the limits.
    """
    capacity = params.capacity_kwh
    if target_percent > soc_percent:
        power = (target_percent - soc_percent) * 1000 * capacity / (100 * hours * root)
        limit = params.max_charge_w
    else:
        power = (soc_percent - target_percent) * 1000 * capacity * root / (100 * hours)
        limit = params.max_discharge_w
    charging = target_percent > soc_percent
    power = min(max(power, MIN_POWER_W), limit)

    def result(value: float) -> float:
        charge, discharge = (value, 0.0) if charging else (0.0, value)
        return soc_percent + 100 * hours * (root * charge - discharge / root) / (1000 * capacity)

    def beyond(value: float) -> bool:
        return value > target_percent if charging else value < target_percent

    for _ in range(64):
        soc_end = result(power)
        if soc_end == target_percent:
            break
        if beyond(soc_end):
            smaller = math.nextafter(power, -math.inf)
            if smaller < MIN_POWER_W:
                break
            power = smaller
            continue
        larger = math.nextafter(power, math.inf)
        if larger > limit or beyond(result(larger)):
            break
        power = larger
    soc_end = result(power)
    return (power, 0.0, soc_end) if charging else (0.0, power, soc_end)
