"""The dynamic programme: backward induction over the SOC grid, whole or in a band."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .model import Problem
from .params import CHARGE, DISCHARGE, INF, MIN_POWER_W, IntArray


def solve(problem: Problem, switch_penalty_eur: float) -> tuple[NDArray[np.int16], IntArray]:
    """Backward induction; returns the decision of every state in every slot."""
    slots = len(problem.hours)
    points = len(problem.grid_percent)
    params = problem.params
    root = math.sqrt(params.round_trip_efficiency)
    actions = np.zeros((slots, 2, points), dtype=np.int16)
    start_moves = np.full(slots, -1, dtype=np.int64)

    nothing = np.zeros((slots, 1))
    idle = problem.objective(nothing, nothing)[:, 0]
    idle_empty = problem.objective(nothing, nothing, ends_empty=True)[:, 0]
    cost_c = problem.step_costs(charging=True)
    cost_d = problem.step_costs(charging=False)[:, ::-1].copy()
    # Discharging onto the minimum SOC excuses an excess: those moves get their own costs.
    empty_d = problem.step_costs(charging=False, ends_empty=True)
    low = problem.low_index
    reach = min(empty_d.shape[1], points - 1 - low)
    onto_low = low + np.arange(1, reach + 1)
    width_c, width_d = cost_c.shape[1], cost_d.shape[1]
    outside = problem.low_index > 0 or problem.high_index < points - 1
    penalty = problem.window_penalty(problem.grid_percent[None, :]) if outside else None

    # Charging k steps from i lands on i + k, discharging on i - k: each is a minimum over a
    # sliding window of the later values, padded with +inf where a step leaves the grid.
    buffer_c = np.full(points - 1 + width_c, INF)
    buffer_d = np.full(points - 1 + width_d, INF)
    windows_c = np.lib.stride_tricks.sliding_window_view(buffer_c, width_c)
    windows_d = np.lib.stride_tricks.sliding_window_view(buffer_d, width_d)
    totals_c = np.empty((points, width_c))
    totals_d = np.empty((points, width_d))
    rows_c = np.arange(points) * width_c
    rows_d = np.arange(points) * width_d

    # The start SOC is a state of its own: stay there, or move onto the grid in one slot.
    start_delta_kwh = (problem.grid_percent - problem.start_percent) * params.capacity_kwh / 100
    up = start_delta_kwh > 0
    hours = problem.hours[:, None]
    start_charge_w = np.maximum(start_delta_kwh, 0)[None, :] * 1000 / (root * hours)
    start_discharge_w = np.maximum(-start_delta_kwh, 0)[None, :] * 1000 * root / hours
    allowed = np.where(
        up,
        (start_charge_w >= MIN_POWER_W) & (start_charge_w <= params.max_charge_w + 1e-9),
        (start_discharge_w >= MIN_POWER_W) & (start_discharge_w <= params.max_discharge_w + 1e-9),
    )
    start_cost = problem.objective(start_charge_w, start_discharge_w)
    start_cost[:, : low + 1] = problem.objective(
        start_charge_w[:, : low + 1], start_discharge_w[:, : low + 1], ends_empty=True
    )
    start_cost[~allowed] = INF
    idle_at_start = idle_empty if problem.start_percent <= params.min_soc_percent else idle
    start_stay = idle_at_start + problem.window_penalty(np.asarray([[problem.start_percent]]))[:, 0]

    terminal = problem.end_penalty(problem.grid_percent)
    later_c = terminal
    later_d = terminal
    start_value = float(problem.end_penalty(np.asarray([problem.start_percent]))[0])
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
        for direction, keep in ((CHARGE, later_c), (DISCHARGE, later_d)):
            best = idle[slot] + keep
            best[: low + 1] = idle_empty[slot] + keep[: low + 1]
            candidate = best_c + (switch_penalty_eur if direction == DISCHARGE else 0.0)
            take_c = candidate < best
            best = np.where(take_c, candidate, best)
            candidate = best_d + (switch_penalty_eur if direction == CHARGE else 0.0)
            take_d = candidate < best
            best = np.where(take_d, candidate, best)
            actions[slot, direction] = np.where(take_d, step_d, np.where(take_c, step_c, 0))
            new_values.append(best)
        later_c, later_d = new_values
    return actions, start_moves


def path_positions(problem: Problem, actions: NDArray[np.int16], start_moves: IntArray) -> IntArray:
    """The grid index the decisions reach at each slot boundary; -1 at the start SOC."""
    slots = len(problem.hours)
    positions = np.full(slots + 1, -1, dtype=np.int64)
    position = -1
    direction = CHARGE
    for slot in range(slots):
        if position < 0:
            target = int(start_moves[slot])
            rising = target >= 0 and problem.grid_percent[target] > problem.start_percent
        else:
            target = position + int(actions[slot, direction, position])
            rising = target > position
        if target >= 0 and target != position:
            direction = CHARGE if rising else DISCHARGE
            position = target
        positions[slot + 1] = position
    return positions


def solve_band(
    problem: Problem, centers: IntArray, switch_penalty_eur: float, half_width: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Backward induction restricted to a band of grid points around a path.

    ``centers`` holds a grid index for the SOC at each slot boundary (slots + 1 of them).
    Returns the target index of every band state in every slot and direction (-1 where no
    finite-cost path goes on), each boundary's first band index and the start state's moves.
    """
    slots = len(problem.hours)
    points = len(problem.grid_percent)
    width = min(2 * half_width + 1, points)
    params = problem.params
    root = math.sqrt(params.round_trip_efficiency)
    low = problem.low_index
    band_low = np.clip(centers - half_width, 0, points - width).astype(np.int64)
    index = band_low[:, None] + np.arange(width)  # (slots + 1, width)
    shift = band_low[1:] - band_low[:-1]

    # A band point i at a slot's start reaches band point j at its end by j - i + shift
    # steps: the cost depends on the slot and on k = j - i + width - 1 only.
    steps = shift[:, None] + np.arange(1 - width, width)  # (slots, 2 * width - 1)
    per_c, fewest_c, most_c = problem.step_limits(charging=True)
    per_d, fewest_d, most_d = problem.step_limits(charging=False)
    count_c = np.maximum(steps, 0)
    count_d = np.maximum(-steps, 0)
    charge_w = np.minimum(count_c * per_c[:, None], params.max_charge_w)
    discharge_w = np.minimum(count_d * per_d[:, None], params.max_discharge_w)
    invalid = ((steps > 0) & ((count_c < fewest_c[:, None]) | (count_c > most_c[:, None]))) | (
        (steps < 0) & ((count_d < fewest_d[:, None]) | (count_d > most_d[:, None]))
    )
    cost = np.where(invalid, INF, problem.objective(charge_w, discharge_w))
    # Arrival columns: 0..width-1 arrive charging (last direction), width.. discharging.
    # segments[previous direction, arrival direction, k]; +inf where the pair is impossible.
    segments = np.full((slots, 2, 2, 2 * width - 1), INF)
    segments[:, CHARGE, CHARGE] = np.where(steps >= 0, cost, INF)
    segments[:, CHARGE, DISCHARGE] = np.where(steps < 0, cost + switch_penalty_eur, INF)
    segments[:, DISCHARGE, CHARGE] = np.where(steps > 0, cost + switch_penalty_eur, INF)
    segments[:, DISCHARGE, DISCHARGE] = np.where(steps <= 0, cost, INF)
    arrival = np.arange(2 * width)
    offsets = np.arange(width)[:, None]
    gather = (arrival // width) * (2 * width - 1) + arrival % width - offsets + width - 1
    # np.take keeps the result C-contiguous (fancy indexing would not): the loop reads it
    # slot by slot.
    totals_all = np.take(segments.reshape(slots, 2, -1), gather, axis=2)

    # Idling at (or below) the minimum SOC, or discharging onto it, excuses an excess.
    nothing = np.zeros((slots, 1))
    idle = problem.objective(nothing, nothing)[:, 0]
    idle_empty = problem.objective(nothing, nothing, ends_empty=True)[:, 0]
    slot_of, state_of = np.nonzero(index[:-1] <= low)
    stay_at = state_of - shift[slot_of]
    keep = (stay_at >= 0) & (stay_at < width)
    slot_of, state_of, stay_at = slot_of[keep], state_of[keep], stay_at[keep]
    for direction in (CHARGE, DISCHARGE):
        totals_all[slot_of, direction, state_of, direction * width + stay_at] = idle_empty[slot_of]
    slot_of, low_at = np.nonzero(index[1:] == low)
    step_of = low_at[:, None] + width - 1 - np.arange(width)  # k of every band point
    hit, state_of = np.nonzero(steps[slot_of[:, None], step_of] < 0)
    rows, step_of, low_at = slot_of[hit], step_of[hit, state_of], low_at[hit]
    emptying = np.where(invalid, INF, problem.objective(charge_w, discharge_w, ends_empty=True))[
        rows, step_of
    ]
    totals_all[rows, CHARGE, state_of, width + low_at] = emptying + switch_penalty_eur
    totals_all[rows, DISCHARGE, state_of, width + low_at] = emptying
    ends = problem.grid_percent[index]
    outside = problem.low_index > 0 or problem.high_index < points - 1
    penalty = problem.window_penalty(ends[1:]) if outside else None

    # The start SOC is a state of its own: stay there, or move into the band in one slot.
    start_delta_kwh = (ends[1:] - problem.start_percent) * params.capacity_kwh / 100
    up = start_delta_kwh > 0
    hours = problem.hours[:, None]
    start_charge_w = np.maximum(start_delta_kwh, 0) * 1000 / (root * hours)
    start_discharge_w = np.maximum(-start_delta_kwh, 0) * 1000 * root / hours
    allowed = np.where(
        up,
        (start_charge_w >= MIN_POWER_W) & (start_charge_w <= params.max_charge_w + 1e-9),
        (start_discharge_w >= MIN_POWER_W) & (start_discharge_w <= params.max_discharge_w + 1e-9),
    )
    start_cost = np.where(
        index[1:] <= low,
        problem.objective(start_charge_w, start_discharge_w, ends_empty=True),
        problem.objective(start_charge_w, start_discharge_w),
    )
    start_cost[~allowed] = INF
    # Arriving charging or discharging: the other half of the columns is impossible.
    start_cost = np.concatenate(
        (np.where(up, start_cost, INF), np.where(up, INF, start_cost)), axis=1
    )
    idle_at_start = idle_empty if problem.start_percent <= params.min_soc_percent else idle
    start_stay = idle_at_start + problem.window_penalty(np.asarray([[problem.start_percent]]))[:, 0]

    choices = np.empty((slots, 2, width), dtype=np.int64)
    values = np.empty((slots, 2, width))
    start_moves = np.full(slots, -1, dtype=np.int64)
    terminal = problem.end_penalty(ends[slots])
    later = np.concatenate((terminal, terminal))
    start_value = float(problem.end_penalty(np.asarray([problem.start_percent]))[0])
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
