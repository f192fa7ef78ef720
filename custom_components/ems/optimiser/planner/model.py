"""The planning problem: input checks, the discretised SOC grid and the cost model.

See the package docstring for the model; the solvers are in dynamic_programme.py and
refinement.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
import math

import numpy as np

from .params import (
    END_PENALTY_EUR_PER_KWH,
    GRID_POINTS_MAX,
    GRID_POINTS_MIN,
    INF,
    MIN_POWER_W,
    PEAK_PENALTY_EUR_PER_KWH,
    THROUGHPUT_TIE_EUR_PER_KWH,
    UNEXCUSED_PEAK_PENALTY_EUR_PER_KWH,
    WINDOW_PENALTY_EUR_PER_KWH_H,
    WORK_BUDGET,
    FloatArray,
    IntArray,
    PlannerInputError,
    PlannerParams,
    as_number,
)


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
    number = as_number(name, value)
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
class Problem:
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
    ) -> Problem:
        """Check the inputs and lay the SOC grid over the window (and a start outside it)."""
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
            spread_factor=params.spread_factor,
            peak_reference_w=peak_reference_w,
            shavable=shavable,
        )

    def refined(self, factor: int) -> Problem:
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
        fewest = np.asarray([fewest_steps(float(value)) for value in per_step_w])
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
        cost[(steps[None, :] < fewest[:, None]) | (steps[None, :] > most[:, None])] = INF
        return cost

    def idle_cost_eur(self) -> float:
        """Energy cost of leaving the battery idle all along."""
        return float(self.energy_cost(self.net_w[:, None]).sum())


def fewest_steps(per_step_w: float) -> int:
    """The fewest grid steps whose power reaches the inverter's minimum power."""
    steps = max(1, math.ceil(MIN_POWER_W / per_step_w))
    return steps if steps * per_step_w >= MIN_POWER_W else steps + 1
