"""The optimiser: prices and forecasts in, a battery plan, peak shaving and commands out.

Pure modules (no Home Assistant): dispatch, peak_shaver, planner/, active_plan, savings, guards,
forecast_log, prices, tariffs. Home Assistant glue: runtime (the `Optimiser`) with state,
planning and commands, plan_inputs, forecast, forecast_tracker and price_source. See
docs/optimiser.md.
"""

from .active_plan import planned_action, schedule_attribute
from .forecast_tracker import async_remove_forecast_log
from .plan_inputs import OptimiserStatus, export_price_formula
from .runtime import Optimiser

__all__ = [
    "Optimiser",
    "OptimiserStatus",
    "async_remove_forecast_log",
    "export_price_formula",
    "planned_action",
    "schedule_attribute",
]
