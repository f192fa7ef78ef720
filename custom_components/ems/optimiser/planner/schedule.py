"""The planner's entry point: build the problem, solve it, prefer a calmer plan when it is free."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
import time

from .model import Problem
from .params import (
    CALM_CHANGES_PER_DAY,
    CALM_COST_SHARE,
    CALM_SWITCH_PENALTY_EUR,
    REFINE_FACTOR,
    SWITCH_PENALTY_EUR,
    PlannerParams,
)
from .plan import Plan
from .refinement import refined_plan


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
    problem = Problem.build(
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
    plan = refined_plan(problem, fine, SWITCH_PENALTY_EUR, started)
    if _changes_per_day(plan) <= CALM_CHANGES_PER_DAY:
        return plan
    # Many reversals: a calmer plan is preferred when it costs next to nothing more.
    calm = refined_plan(problem, fine, CALM_SWITCH_PENALTY_EUR, started)
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
