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

from .params import (
    MIN_POWER_W,
    PEAK_PENALTY_EUR_PER_KWH,
    VIOLATION_END_SOC,
    VIOLATION_OUTSIDE_WINDOW,
    VIOLATION_PEAK_EXCEEDED,
    VIOLATION_START_OUTSIDE_WINDOW,
    PlannedSlot,
    PlannerInputError,
    PlannerParams,
)
from .plan import Plan
from .schedule import plan_schedule

__all__ = [
    "MIN_POWER_W",
    "PEAK_PENALTY_EUR_PER_KWH",
    "VIOLATION_END_SOC",
    "VIOLATION_OUTSIDE_WINDOW",
    "VIOLATION_PEAK_EXCEEDED",
    "VIOLATION_START_OUTSIDE_WINDOW",
    "Plan",
    "PlannedSlot",
    "PlannerInputError",
    "PlannerParams",
    "plan_schedule",
]
