"""Planning, in an executor job: on new prices, at each quarter boundary and on SOC drift."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
import math
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_MAX_DISCHARGE_W,
    CONF_MAX_GRID_PEAK_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_ROUND_TRIP_EFFICIENCY,
    LOGGER,
)
from ..controller import BatteryController
from ..coordinator import EmsCoordinator
from ..devices.indevolt import BatterySnapshot
from ..soc_floor import soc_floor_percent
from .active_plan import ActivePlan
from .peak_shaver import usable_soc_percent
from .plan_inputs import OptimiserStatus, PlanInputs, PriceState
from .planner import PlannerInputError, PlannerParams, plan_schedule
from .price_slots import SLOT, align_prices
from .state import OptimiserState

PLAN_HORIZON_SLOTS: Final = 192  # 48 hours: today and tomorrow at most
SLOT_HOURS: Final = SLOT.total_seconds() / 3600


class PlanningLoop(OptimiserState):
    """Plans one at a time: a request while a plan runs makes one more plan afterwards."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        coordinator: EmsCoordinator,
        controller: BatteryController,
    ) -> None:
        """Create the optimiser, switched off; `async_setup` starts watching."""
        super().__init__(hass, entry, coordinator, controller)
        self._inputs = PlanInputs(hass, coordinator, self._handle_price_change)

    @callback
    def _schedule_replan(self, *, only_if_prices_changed: bool = False) -> None:
        if not self.enabled or self._closed:
            return
        if self._plan_task is not None and not self._plan_task.done():
            self._replan_again = True
            return
        self._plan_task = self._entry.async_create_task(
            self._hass, self._async_plan_loop(only_if_prices_changed), "ems optimiser plan"
        )

    async def _async_plan_loop(self, only_if_prices_changed: bool) -> None:
        await self._async_plan(only_if_prices_changed=only_if_prices_changed)
        while self._replan_again and self.enabled:
            self._replan_again = False
            await self._async_plan(only_if_prices_changed=False)

    async def _async_plan(self, *, only_if_prices_changed: bool) -> None:
        """Read prices and forecasts, then plan in the executor."""
        now = dt_util.utcnow()
        options = self._options()
        self._inputs.watch_price_entities(options)
        previous = self.prices
        self.prices = await self._inputs.async_read_prices(options, now)
        if only_if_prices_changed and self.prices == previous:
            return
        battery = self._coordinator.data.battery if self._coordinator.data else None
        soc = None if battery is None else usable_soc_percent(battery.soc_percent)
        horizon = align_prices(
            self.prices.import_slots,
            self.prices.export_slots,
            now=now,
            max_slots=PLAN_HORIZON_SLOTS,
        )
        if battery is None or soc is None or not horizon.import_eur_per_kwh:
            self.active_plan = None
            self._notify()
            return
        starts = [horizon.start + index * SLOT for index in range(len(horizon.import_eur_per_kwh))]
        pv, load = await self._inputs.async_forecasts(options, starts)
        try:
            params = PlannerParams.from_options(
                {**options, CONF_MIN_SOC: _planner_floor_percent(options, battery)}
            )
            plan = await self._hass.async_add_executor_job(
                partial(
                    plan_schedule,
                    horizon.import_eur_per_kwh,
                    prices_export=horizon.export_eur_per_kwh,
                    load_w=load.values_w,
                    pv_w=pv.values_w,
                    slot_hours=SLOT_HOURS,
                    params=params,
                    initial_soc_percent=soc,
                )
            )
        except PlannerInputError as err:
            LOGGER.warning("The optimiser cannot plan: %s", err)
            self.active_plan = None
            self.prices = PriceState(OptimiserStatus.NO_PRICES, f"cannot plan: {err}")
            self._notify()
            return
        reserve = self._inputs.peak_reserve_wh(
            starts,
            peak_limit_w=float(options[CONF_MAX_GRID_PEAK_W]),
            max_discharge_w=float(options[CONF_MAX_DISCHARGE_W]),
            discharge_efficiency=math.sqrt(float(options[CONF_ROUND_TRIP_EFFICIENCY])),
        )
        self.active_plan = ActivePlan(plan, horizon.start, horizon, now, load, pv, reserve)
        LOGGER.debug(
            "Planned %d slots from %s in %.1f ms (cost %.2f, violations %s)",
            len(plan.slots),
            horizon.start.isoformat(),
            plan.solve_ms,
            plan.cost_eur,
            plan.violations,
        )
        self._notify()

    @callback
    def _handle_price_change(self) -> None:
        self._schedule_replan(only_if_prices_changed=True)

    @callback
    def _handle_quarter(self, now: datetime) -> None:
        self._schedule_replan()


def _planner_floor_percent(options: Mapping[str, Any], battery: BatterySnapshot) -> float:
    """The SOC floor for planning; below the max SOC, so a backup SOC of 100 % still plans."""
    floor = soc_floor_percent(float(options[CONF_MIN_SOC]), battery.backup_soc_percent)
    # The planner needs a window of at least 1 point; the shaver still stops at the real floor.
    return min(floor, float(options[CONF_MAX_SOC]) - 1)
