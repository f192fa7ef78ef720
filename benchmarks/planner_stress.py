"""Stress the planner on random, harsher cases than scripts/bench, against the same optimum.

Random capacity, powers, efficiency (0.75-0.95), spread, peak limit, SOC window and start SOC;
export at the import price, import - 0.10 EUR/kWh or half the import price; noisy duck-curve
prices, load spikes, PV on half the cases; 24, 96 or 192 slots. For each case it prints the
value captured ((do-nothing - plan) / (do-nothing - optimum)) and the worst one last.

Run: ``python benchmarks/planner_stress.py --seed 7 --cases 20`` (with the test requirements,
e.g. ``/opt/py314-ha/bin/py314-exec "$PWD" python benchmarks/planner_stress.py``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sys

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "custom_components" / "ems" / "optimiser")
)

from planner import PlannerParams, plan_schedule
from planner_bench import (
    SMALL_SAVING_EUR,
    SMALL_SAVING_TOLERANCE_EUR,
    VALUE_TARGET_PERCENT,
    energy_cost,
    optimum_schedule,
)
from planner_cases import Case


def random_case(rng: np.random.Generator) -> tuple[Case, PlannerParams]:
    """One random case and the options to plan it with."""
    slots = int(rng.choice([96, 192, 24]))
    slot_h = 1.0 if slots == 24 else 0.25
    hours = (np.arange(slots) * slot_h) % 24
    midday = ((hours >= 11) & (hours < 15)) * rng.uniform(0.5, 1.8)
    price = 0.22 + 0.08 * np.cos((hours - 19) / 24 * 2 * np.pi) - 0.15 * midday
    price = price + rng.normal(0, rng.choice([0.0, 0.01, 0.02]), slots)
    export_kind = rng.integers(0, 3)
    export = None if export_kind == 0 else (price - 0.1 if export_kind == 1 else price * 0.5)
    spikes = (rng.random(slots) < 0.05) * rng.uniform(3000, 6000, slots)
    load = 300 + 400 * rng.random(slots) + spikes
    pv = np.maximum(0, 3000 * np.sin((hours - 6) / 14 * np.pi)) * (rng.random() < 0.5)
    params = PlannerParams(
        capacity_kwh=float(rng.uniform(4, 20)),
        max_charge_w=float(rng.choice([800, 1200, 2400])),
        max_discharge_w=float(rng.choice([800, 1800, 2400])),
        round_trip_efficiency=float(rng.uniform(0.75, 0.95)),
        min_price_spread_percent=float(rng.choice([0, 10, 25])),
        max_grid_peak_w=float(rng.choice([2500, 4000, 6000])),
        min_soc_percent=float(rng.choice([5, 10, 20])),
        max_soc_percent=float(rng.choice([90, 100])),
    )
    start_soc = float(rng.uniform(params.min_soc_percent, params.max_soc_percent))
    begin = datetime(2026, 5, 1, tzinfo=UTC)
    starts = tuple(begin + timedelta(hours=slot_h * i) for i in range(slots))
    case = Case("random", starts, (slot_h,) * slots, price, export, load, pv, {}, start_soc)
    return case, params


def main() -> int:
    """Print one line per case and the worst value captured; exit 1 when a case misses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    worst = 100.0
    missed = 0
    for index in range(args.cases):
        case, params = random_case(rng)
        plan = plan_schedule(
            case.price_import,
            prices_export=case.price_export,
            load_w=case.load_w,
            pv_w=case.pv_w,
            slot_hours=case.slot_hours,
            params=params,
            initial_soc_percent=case.initial_soc_percent,
        )
        charge = np.array([slot.charge_w for slot in plan.slots])
        discharge = np.array([slot.discharge_w for slot in plan.slots])
        cost = energy_cost(case, charge, discharge)
        idle = energy_cost(case, 0 * charge, 0 * discharge)
        best, oracle, _, _ = optimum_schedule(case, params)
        if idle - best < SMALL_SAVING_EUR:
            ok = cost <= best + SMALL_SAVING_TOLERANCE_EUR
            value = "small saving"
        else:
            captured = (idle - cost) / (idle - best) * 100
            worst = min(worst, captured)
            ok = captured >= VALUE_TARGET_PERCENT
            value = f"{captured:.2f} %"
        missed += not ok
        print(
            f"{index:3d} slots={len(case.slot_hours):3d} {oracle:4s} "
            f"eta={params.round_trip_efficiency:.2f} optimum={best:8.4f} plan={cost:8.4f} "
            f"idle={idle:8.4f} value={value} solve={plan.solve_ms:.1f} ms {'' if ok else 'MISS'}"
        )
    print(f"worst value captured: {worst:.2f} %; cases below target: {missed}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
