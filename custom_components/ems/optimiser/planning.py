"""Planning, in an executor job: on new prices, at each quarter boundary and on SOC drift."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
import math
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_CAPACITY_TARIFF,
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
from .capacity import (
    LimitReason,
    PeakLimit,
    PlannedPeak,
    candidate_limits_w,
    limit_in_force,
    weigh_peak_limits,
)
from .plan_inputs import OptimiserStatus, PlanInputs, PriceState
from .planner import Plan, PlannerInputError, PlannerParams, plan_schedule
from .price_slots import SLOT, PriceHorizon, align_prices
from .readings import usable_power_w, usable_soc_percent
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
        # With a capacity tariff: the limit the plan is made for (capacity.py); else None.
        self.planned_peak: PlannedPeak | None = None

    def planned_peak_limit_w(self, now: datetime) -> float | None:
        """The limit the plan was made for, while its month lasts (a new month starts afresh)."""
        planned = self.planned_peak
        if planned is None or planned.month != _local_month(now):
            return None
        return planned.limit.limit_w

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
            self.planned_peak = None
            self._notify()
            return
        starts = [horizon.start + index * SLOT for index in range(len(horizon.import_eur_per_kwh))]
        pv, load = await self._inputs.async_forecasts(options, starts)
        try:
            params = PlannerParams.from_options(
                {**options, CONF_MIN_SOC: _planner_floor_percent(options, battery)}
            )
            plan_for = partial(
                _plan_for_limit,
                horizon,
                load_w=load.values_w,
                pv_w=pv.values_w,
                params=params,
                initial_soc_percent=soc,
            )
            tariff = float(options[CONF_CAPACITY_TARIFF])
            if tariff > 0:
                plan, self.planned_peak = await self._async_plan_weighing_peaks(
                    plan_for,
                    params,
                    eur_per_kw_year=tariff,
                    now=now,
                    starts=starts,
                    net_w=[
                        load_w - pv_w
                        for load_w, pv_w in zip(load.values_w, pv.values_w, strict=True)
                    ],
                )
            else:
                self.planned_peak = None
                plan = await self._hass.async_add_executor_job(plan_for, params.max_grid_peak_w)
        except PlannerInputError as err:
            LOGGER.warning("The optimiser cannot plan: %s", err)
            self.active_plan = None
            self.planned_peak = None
            self.prices = PriceState(OptimiserStatus.NO_PRICES, f"cannot plan: {err}")
            self._notify()
            return
        reserve = self._inputs.peak_reserve_wh(
            starts,
            peak_limit_w=self.planned_peak_limit_w(now) or float(options[CONF_MAX_GRID_PEAK_W]),
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

    async def _async_plan_weighing_peaks(
        self,
        plan_for: Callable[[float], Plan],
        params: PlannerParams,
        *,
        eur_per_kw_year: float,
        now: datetime,
        starts: list[datetime],
        net_w: list[float],
    ) -> tuple[Plan, PlannedPeak]:
        """With a capacity tariff: plan for each candidate peak, keep the cheapest in all."""
        p1 = self._coordinator.data.p1 if self._coordinator.data else None
        month_peak_w = None if p1 is None else usable_power_w(p1.monthly_power_peak_w)
        month = _local_month(now)
        plan, planned = await self._hass.async_add_executor_job(
            partial(
                _weigh_peaks,
                plan_for,
                base=limit_in_force(params.max_grid_peak_w, month_peak_w, eur_per_kw_year),
                net_w=net_w,
                max_charge_w=params.max_charge_w,
                this_month=[_local_month(start) == month for start in starts],
                month_peak_w=month_peak_w or 0.0,
                eur_per_kw_year=eur_per_kw_year,
                month=month,
            )
        )
        LOGGER.debug(
            "Peak limit %.0f W (%s), weighed: %s",
            planned.limit.limit_w,
            planned.limit.reason,
            ", ".join(
                f"{c.limit_w:.0f} W: {c.energy_cost_eur:.2f} + {c.capacity_cost_eur:.2f} EUR"
                for c in planned.candidates
            ),
        )
        return plan, planned

    @callback
    def _handle_price_change(self) -> None:
        self._schedule_replan(only_if_prices_changed=True)

    @callback
    def _handle_quarter(self, now: datetime) -> None:
        self._schedule_replan()


def _plan_for_limit(
    horizon: PriceHorizon,
    peak_limit_w: float,
    *,
    load_w: Sequence[float],
    pv_w: Sequence[float],
    params: PlannerParams,
    initial_soc_percent: float,
) -> Plan:
    """A plan that keeps the grid import under `peak_limit_w` (in the executor)."""
    return plan_schedule(
        horizon.import_eur_per_kwh,
        prices_export=horizon.export_eur_per_kwh,
        load_w=load_w,
        pv_w=pv_w,
        slot_hours=SLOT_HOURS,
        params=replace(params, max_grid_peak_w=peak_limit_w),
        initial_soc_percent=initial_soc_percent,
    )


def _weigh_peaks(
    plan_for: Callable[[float], Plan],
    *,
    base: PeakLimit,
    net_w: Sequence[float],
    max_charge_w: float,
    this_month: Sequence[bool],
    month_peak_w: float,
    eur_per_kw_year: float,
    month: tuple[int, int],
) -> tuple[Plan, PlannedPeak]:
    """Plan for the candidate limits and keep the cheapest with its capacity cost (executor)."""
    weighing = weigh_peak_limits(
        plan_for,
        candidate_limits_w(base.limit_w, net_w, max_charge_w),
        this_month=this_month,
        month_peak_w=month_peak_w,
        eur_per_kw_year=eur_per_kw_year,
    )
    chosen_w = weighing.chosen.limit_w
    limit = base if chosen_w == base.limit_w else PeakLimit(chosen_w, LimitReason.ARBITRAGE)
    return weighing.plan, PlannedPeak(limit, month, weighing.candidates)


def _local_month(moment: datetime) -> tuple[int, int]:
    local = dt_util.as_local(moment)
    return local.year, local.month


def _planner_floor_percent(options: Mapping[str, Any], battery: BatterySnapshot) -> float:
    """The SOC floor for planning; below the max SOC, so a backup SOC of 100 % still plans."""
    floor = soc_floor_percent(float(options[CONF_MIN_SOC]), battery.backup_soc_percent)
    # The planner needs a window of at least 1 point; the shaver still stops at the real floor.
    return min(floor, float(options[CONF_MAX_SOC]) - 1)
