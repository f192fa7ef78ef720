"""The optimiser: prices and forecasts in, a battery plan, peak shaving and commands out.

Pure modules (no Home Assistant): capacity, dispatch, peak_shaver, command_pacing,
quarter_budget, readings, peak_reserve, planner/, active_plan, savings, guards, load_profile,
pv_correction, forecast_log, prices, price_slots, tariffs, feed-in decisions in export_limit.
Home Assistant glue: runtime (the `Optimiser`) with state, planning and commands, plan_inputs, forecast,
forecast_tracker, feed_in and price_source. See docs/optimiser.md.
"""

from .active_plan import planned_action, schedule_attribute
from .capacity import PeakLimit, limit_in_force
from .forecast_tracker import async_remove_forecast_log
from .plan_inputs import OptimiserStatus, export_price_formula
from .readings import usable_power_w
from .runtime import Optimiser

__all__ = [
    "Optimiser",
    "OptimiserStatus",
    "PeakLimit",
    "async_remove_forecast_log",
    "export_price_formula",
    "limit_in_force",
    "planned_action",
    "schedule_attribute",
    "usable_power_w",
]
