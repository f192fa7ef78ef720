"""Refinement: a finer solve in a band around the coarse path, followed to exact setpoints."""

from __future__ import annotations

from collections.abc import Sequence
import math
import time

import numpy as np
from numpy.typing import NDArray

from .dynamic_programme import path_positions, solve, solve_band
from .model import Problem
from .params import (
    CHARGE,
    DISCHARGE,
    MIN_POWER_W,
    REFINE_HALF_WIDTH,
    VIOLATION_END_SOC,
    VIOLATION_OUTSIDE_WINDOW,
    VIOLATION_PEAK_EXCEEDED,
    VIOLATION_START_OUTSIDE_WINDOW,
    IntArray,
    PlannedSlot,
    PlannerParams,
)
from .plan import Plan, Policy


def refined_plan(coarse: Problem, fine: Problem, switch_penalty_eur: float, started: float) -> Plan:
    """Solve on the ``coarse`` grid, refine in a band around its path on ``fine``, follow it.

    The coarse path is inside the band, so the refined plan's objective is never worse.
    """
    actions, start_moves = solve(coarse, switch_penalty_eur)
    factor = round(coarse.step_percent / fine.step_percent)
    positions = path_positions(coarse, actions, start_moves)
    start_index = round((coarse.start_percent - float(fine.grid_percent[0])) / fine.step_percent)
    start_index = min(max(start_index, 0), len(fine.grid_percent) - 1)
    centers = np.where(positions >= 0, positions * factor, start_index)
    band_targets, band_low, fine_moves = solve_band(
        fine, centers, switch_penalty_eur, REFINE_HALF_WIDTH * factor
    )
    planned, directions, at_start = follow(fine, band_targets, band_low, fine_moves)
    policy = Policy(
        actions=actions,
        band_targets=band_targets,
        band_low=band_low[:-1],
        start_moves=fine_moves,
        start_soc_percent=coarse.start_percent,
        grid_low_percent=float(coarse.grid_percent[0]),
        step_percent=coarse.step_percent,
        step_kwh=coarse.step_kwh,
        fine_step_percent=fine.step_percent,
        fine_step_kwh=fine.step_kwh,
        directions=directions,
        at_start=at_start,
    )
    return Plan(
        slots=tuple(planned),
        cost_eur=math.fsum(slot.cost_eur for slot in planned),
        violations=violations(fine, planned),
        solve_ms=(time.perf_counter() - started) * 1000,
        params=coarse.params,
        slot_hours=tuple(float(hours) for hours in coarse.hours),
        _policy=policy,
    )


def follow(
    problem: Problem, band_targets: IntArray, band_low: IntArray, start_moves: IntArray
) -> tuple[list[PlannedSlot], IntArray, NDArray[np.bool_]]:
    """Follow the band decisions forward from the start and turn them into exact setpoints.

    Returns the slots, the last direction before each slot and whether it starts at the
    start SOC.
    """
    params = problem.params
    slots = len(problem.hours)
    root = math.sqrt(params.round_trip_efficiency)
    directions = np.full(slots, -1, dtype=np.int64)
    at_start = np.zeros(slots, dtype=np.bool_)
    planned: list[PlannedSlot] = []
    position = -1  # -1: still at the start SOC
    direction = -1
    soc = problem.start_percent
    for slot in range(slots):
        hours = float(problem.hours[slot])
        directions[slot] = direction
        if position < 0:
            at_start[slot] = True
            target = int(start_moves[slot])
        else:
            band = position - int(band_low[slot])
            target = int(band_targets[slot, max(direction, CHARGE), band])
        if target < 0 or target == position:
            charge_w = discharge_w = 0.0
            soc_end = soc
        else:
            charge_w, discharge_w, soc_end = exact_setpoint(
                soc, float(problem.grid_percent[target]), hours, params, root
            )
            direction = CHARGE if charge_w > 0 else DISCHARGE
            position = target
        grid_w = float(problem.net_w[slot]) + charge_w - discharge_w
        cost = (
            hours
            * (
                float(problem.price_import[slot]) * max(grid_w, 0.0)
                - float(problem.price_export[slot]) * max(-grid_w, 0.0)
            )
            / 1000
        )
        planned.append(PlannedSlot(charge_w, discharge_w, soc, soc_end, grid_w, cost))
        soc = soc_end
    return planned, directions, at_start


def violations(problem: Problem, planned: Sequence[PlannedSlot]) -> tuple[str, ...]:
    """The soft constraints (``VIOLATION_*``) a planned schedule does not meet."""
    params = problem.params
    low, high = params.min_soc_percent, params.max_soc_percent
    found: list[str] = []
    if not low <= problem.start_percent <= high:
        found.append(VIOLATION_START_OUTSIDE_WINDOW)
        if any(not low <= slot.soc_percent_end <= high for slot in planned):
            found.append(VIOLATION_OUTSIDE_WINDOW)
    # An excess is excused where the load alone needs more than full discharge can shave, or
    # where the battery is empty (the rule); anything else is a violation.
    for slot, net_w in zip(planned, problem.net_w, strict=True):
        if (
            slot.grid_w > params.max_grid_peak_w + 1e-6
            and net_w - params.max_discharge_w <= params.max_grid_peak_w
            and slot.soc_percent_end > low + 1e-6
        ):
            found.append(VIOLATION_PEAK_EXCEEDED)
            break
    if planned[-1].soc_percent_end < problem.floor_percent - 1e-6:
        found.append(VIOLATION_END_SOC)
    return tuple(found)


def exact_setpoint(
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
