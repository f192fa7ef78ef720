"""Benchmark of the planner against the perfect-foresight optimum (scipy HiGHS LP / MILP).

Run: ``scripts/bench`` (or ``python benchmarks/planner_bench.py``). Prints a markdown table and
exits 1 if a target of issue 6 is missed:

- value captured = (do-nothing - plan) / (do-nothing - optimum) >= 99 % on every case, or, where
  the optimum saves under 0.05 EUR, a plan costing at most 0.01 EUR more than the optimum;
- 48 h at 15 minutes (192 slots) planned in under 100 ms;
- at most 8 charge/discharge direction changes per day.

The optimum is an LP where the LP is exact (no negative price, export price <= import price),
else a MILP with one battery-direction binary per slot (plus a grid-direction binary per slot
where export pays more than import). Both relax the inverter's 50 W minimum power, so the
optimum is a lower bound and the value captured a conservative figure. Where the spread rule binds
((1 + spread) * efficiency > 1) the oracle carries the same virtual charging cost as the planner.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
import statistics
import sys
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "custom_components" / "ems" / "optimiser")
)

from planner import PEAK_PENALTY_EUR_PER_KWH, Plan, PlannerParams, plan_schedule
from planner_cases import Case, build_cases

VALUE_TARGET_PERCENT = 99.0
SMALL_SAVING_EUR = 0.05
SMALL_SAVING_TOLERANCE_EUR = 0.01
SOLVE_TARGET_MS = 100.0
CHANGES_TARGET_PER_DAY = 8.0


def energy_cost(case: Case, charge_w: np.ndarray, discharge_w: np.ndarray) -> float:
    """The issue's cost formula (penalties excluded)."""
    grid = case.load_w - case.pv_w + charge_w - discharge_w
    export = case.price_import if case.price_export is None else case.price_export
    hours = np.asarray(case.slot_hours)
    return float(
        np.sum(hours * (case.price_import * np.maximum(grid, 0) - export * np.maximum(-grid, 0)))
        / 1000
    )


def optimum(case: Case, params: PlannerParams) -> tuple[float, str]:
    """Perfect-foresight optimum of the same physics: (energy cost EUR, "LP" or "MILP")."""
    cost, kind, _, _ = optimum_schedule(case, params)
    return cost, kind


def optimum_schedule(
    case: Case, params: PlannerParams
) -> tuple[float, str, np.ndarray, np.ndarray]:
    """The optimum with its schedule: (cost EUR, "LP" or "MILP", charge W, discharge W)."""
    slots = len(case.slot_hours)
    hours = np.asarray(case.slot_hours)
    price_import = case.price_import
    price_export = case.price_import if case.price_export is None else case.price_export
    net = case.load_w - case.pv_w
    root = math.sqrt(params.round_trip_efficiency)
    capacity = params.capacity_kwh
    exact_lp = bool(np.all(price_import >= 0) and np.all(price_export >= 0))
    exact_lp = exact_lp and bool(np.all(price_export <= price_import))
    grid_binary = bool(np.any(price_export > price_import))
    spread = max(
        0.0, (1 + params.min_price_spread_percent / 100) * params.round_trip_efficiency - 1
    )
    # Variables per slot: charge, discharge, import, export, excess, soc_end, virtual, b, g.
    names = ["c", "d", "imp", "exp", "exc", "soc", "vir", "b", "g"]
    width = len(names)
    col = {name: index for index, name in enumerate(names)}
    count = width * slots
    objective = np.zeros(count)
    lower = np.zeros(count)
    upper = np.full(count, np.inf)
    integrality = np.zeros(count)
    big_w = 1e6
    rows = lil_matrix((6 * slots, count))
    row_low: list[float] = []
    row_high: list[float] = []
    start_kwh = case.initial_soc_percent * capacity / 100
    floor = (
        case.initial_soc_percent if case.end_soc_percent_min is None else case.end_soc_percent_min
    )
    floor = min(max(floor, params.min_soc_percent), params.max_soc_percent)
    row = 0
    for t in range(slots):
        base = width * t
        h = hours[t]
        objective[base + col["imp"]] = h * price_import[t] / 1000
        objective[base + col["exp"]] = -h * price_export[t] / 1000
        objective[base + col["exc"]] = h * PEAK_PENALTY_EUR_PER_KWH / 1000
        objective[base + col["vir"]] = spread
        upper[base + col["c"]] = params.max_charge_w
        upper[base + col["d"]] = params.max_discharge_w
        lower[base + col["soc"]] = params.min_soc_percent * capacity / 100
        upper[base + col["soc"]] = params.max_soc_percent * capacity / 100
        if t == slots - 1:
            lower[base + col["soc"]] = floor * capacity / 100
        for name in ("b", "g"):
            upper[base + col[name]] = 1
            integrality[base + col[name]] = 0 if exact_lp else 1
        # soc_end - soc_prev - h*(root*c - d/root)/1000 = 0
        rows[row, base + col["soc"]] = 1
        if t > 0:
            rows[row, base - width + col["soc"]] = -1
        rows[row, base + col["c"]] = -h * root / 1000
        rows[row, base + col["d"]] = h / root / 1000
        previous = start_kwh if t == 0 else 0.0
        row_low.append(previous)
        row_high.append(previous)
        row += 1
        # imp - exp - c + d = net
        rows[row, base + col["imp"]] = 1
        rows[row, base + col["exp"]] = -1
        rows[row, base + col["c"]] = -1
        rows[row, base + col["d"]] = 1
        row_low.append(net[t])
        row_high.append(net[t])
        row += 1
        # imp - exc <= peak
        rows[row, base + col["imp"]] = 1
        rows[row, base + col["exc"]] = -1
        row_low.append(-np.inf)
        row_high.append(params.max_grid_peak_w)
        row += 1
        # virtual >= h*(pi*imp - pe*exp)/1000 - idle cost: the spread rule's charging cost
        idle = h * (price_import[t] * max(net[t], 0) - price_export[t] * max(-net[t], 0)) / 1000
        rows[row, base + col["vir"]] = 1
        rows[row, base + col["imp"]] = -h * price_import[t] / 1000
        rows[row, base + col["exp"]] = h * price_export[t] / 1000
        row_low.append(-idle)
        row_high.append(np.inf)
        row += 1
        # direction binaries: c <= Cmax*b, d <= Dmax*(1-b)
        if not exact_lp:
            rows[row, base + col["c"]] = 1
            rows[row, base + col["b"]] = -params.max_charge_w
            row_low.append(-np.inf)
            row_high.append(0.0)
            row += 1
            rows[row, base + col["d"]] = 1
            rows[row, base + col["b"]] = params.max_discharge_w
            row_low.append(-np.inf)
            row_high.append(params.max_discharge_w)
            row += 1
        if grid_binary:
            upper[base + col["imp"]] = big_w
            upper[base + col["exp"]] = big_w
    if grid_binary:
        extra = lil_matrix((2 * slots, count))
        for t in range(slots):
            base = width * t
            extra[2 * t, base + col["imp"]] = 1
            extra[2 * t, base + col["g"]] = -big_w
            extra[2 * t + 1, base + col["exp"]] = 1
            extra[2 * t + 1, base + col["g"]] = big_w
        row_low += [-np.inf] * (2 * slots)
        row_high += [0.0, big_w] * slots
        from scipy.sparse import vstack

        matrix = vstack([rows[:row], extra]).tocsr()
    else:
        matrix = rows[:row].tocsr()
    result = milp(
        objective,
        constraints=LinearConstraint(matrix, np.asarray(row_low), np.asarray(row_high)),
        integrality=integrality,
        bounds=Bounds(lower, upper),
        options={"mip_rel_gap": 1e-7, "time_limit": 120},
    )
    if result.x is None:
        raise RuntimeError(f"{case.name}: oracle failed: {result.message}")
    solution = result.x.reshape(slots, width)
    charge, discharge = solution[:, col["c"]], solution[:, col["d"]]
    return energy_cost(case, charge, discharge), ("LP" if exact_lp else "MILP"), charge, discharge


def rule_baseline(case: Case, params: PlannerParams) -> float:
    """A simple rule: charge at full power in the cheapest quarter of each day's slots, cover the
    house load from the battery in the dearest quarter; SOC window respected."""
    slots = len(case.slot_hours)
    root = math.sqrt(params.round_trip_efficiency)
    low_q, high_q = np.quantile(case.price_import, [0.25, 0.75])
    soc_kwh = case.initial_soc_percent * params.capacity_kwh / 100
    low_kwh = params.min_soc_percent * params.capacity_kwh / 100
    high_kwh = params.max_soc_percent * params.capacity_kwh / 100
    charge = np.zeros(slots)
    discharge = np.zeros(slots)
    for t in range(slots):
        h = case.slot_hours[t]
        net = case.load_w[t] - case.pv_w[t]
        if case.price_import[t] <= low_q:
            power = min(params.max_charge_w, (high_kwh - soc_kwh) * 1000 / (root * h))
            if power >= 50:
                charge[t] = power
                soc_kwh += h * root * power / 1000
        elif case.price_import[t] >= high_q and net > 0:
            power = min(params.max_discharge_w, net, (soc_kwh - low_kwh) * 1000 * root / h)
            if power >= 50:
                discharge[t] = power
                soc_kwh -= h * power / root / 1000
    return energy_cost(case, charge, discharge)


def direction_changes_per_day(plan: Plan) -> float:
    """Charge <-> discharge reversals (idle slots in between do not reset), per 24 h."""
    changes = 0
    last = 0
    for slot in plan.slots:
        direction = 1 if slot.charge_w > 0 else -1 if slot.discharge_w > 0 else 0
        if direction and last and direction != last:
            changes += 1
        last = direction or last
    return changes / (sum(plan.slot_hours) / 24)


def check_physics(case: Case, plan: Plan) -> None:
    """Recompute the SOC from the plan's powers with the issue's formula; fail loudly if off."""
    params = plan.params
    root = math.sqrt(params.round_trip_efficiency)
    soc = case.initial_soc_percent
    for slot, h in zip(plan.slots, case.slot_hours, strict=True):
        assert slot.charge_w == 0 or slot.discharge_w == 0
        for power, limit in (
            (slot.charge_w, params.max_charge_w),
            (slot.discharge_w, params.max_discharge_w),
        ):
            assert power == 0 or 50 <= power <= limit, power
        soc = soc + 100 * h * (root * slot.charge_w - slot.discharge_w / root) / (
            1000 * params.capacity_kwh
        )
        assert abs(soc - slot.soc_percent_end) < 1e-9, (soc, slot.soc_percent_end)
        assert params.min_soc_percent <= slot.soc_percent_end <= params.max_soc_percent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="solves per case for the timing")
    args = parser.parse_args(argv)
    failures: list[str] = []
    print(
        "| case | slots | oracle | optimum EUR | plan EUR | do-nothing EUR | rule EUR "
        "| value captured | solve ms | changes/day |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for case in build_cases():
        params = PlannerParams.from_options(case.options)
        timings = []
        plan = None
        for _ in range(args.repeat):
            plan = plan_schedule(
                case.price_import,
                prices_export=case.price_export,
                load_w=case.load_w,
                pv_w=case.pv_w,
                slot_hours=case.slot_hours,
                params=params,
                initial_soc_percent=case.initial_soc_percent,
                end_soc_percent_min=case.end_soc_percent_min,
            )
            timings.append(plan.solve_ms)
        assert plan is not None
        check_physics(case, plan)
        started = time.perf_counter()
        best, oracle = optimum(case, params)
        del started
        zero = np.zeros(len(case.slot_hours))
        baseline = energy_cost(case, zero, zero)
        rule = rule_baseline(case, params)
        cost = energy_cost(case, *_powers(plan))
        saving = baseline - best
        if saving >= SMALL_SAVING_EUR:
            captured = 100 * (baseline - cost) / saving
            value = f"{captured:.2f} %"
            if captured < VALUE_TARGET_PERCENT:
                failures.append(f"{case.name}: value captured {captured:.2f} %")
        else:
            value = f"{cost - best:+.4f} EUR (small)"
            if cost - best > SMALL_SAVING_TOLERANCE_EUR:
                failures.append(f"{case.name}: {cost - best:.4f} EUR above a small optimum")
        solve_ms = statistics.median(timings)
        if len(case.slot_hours) >= 192 and solve_ms >= SOLVE_TARGET_MS:
            failures.append(f"{case.name}: solve {solve_ms:.1f} ms")
        changes = direction_changes_per_day(plan)
        if changes > CHANGES_TARGET_PER_DAY:
            failures.append(f"{case.name}: {changes:.1f} direction changes per day")
        if plan.violations:
            failures.append(f"{case.name}: violations {plan.violations}")
        print(
            f"| {case.name} | {len(case.slot_hours)} | {oracle} | {best:.4f} | {cost:.4f} "
            f"| {baseline:.4f} | {rule:.4f} | {value} | {solve_ms:.1f} | {changes:.1f} |"
        )
    if failures:
        print("\nTargets missed:\n" + "\n".join(f"- {failure}" for failure in failures))
        return 1
    print("\nAll targets met.")
    return 0


def _powers(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.asarray([slot.charge_w for slot in plan.slots]),
        np.asarray([slot.discharge_w for slot in plan.slots]),
    )


if __name__ == "__main__":
    sys.exit(main())
