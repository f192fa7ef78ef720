"""The optimiser at run time: prices and forecasts in, a plan in the executor, commands out.

Two layers (docs/optimiser.md):
- Planning, in an executor job: on new prices, at each quarter boundary and when the measured
  SOC drifts more than 5 points from the plan. Never at every poll.
- Real time, at every coordinator update (cheap, in the event loop): the plan's policy gives the
  setpoint for the measured SOC, `peak_shaver.decide` keeps the quarter's import under the peak
  and applies the deadband and hold time, and a changed command goes through the controller.

Without prices (none configured, unreadable or stale) the optimiser still shaves peaks and
otherwise leaves the battery in self-consumption. A person's command through the controller
(an `ems.*` action, the working-mode select, the stop button) switches the optimiser off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
import json
import math
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event, async_track_utc_time_change
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ENERGY_TAX,
    CONF_EXPORT_PRICE_ENTITY,
    CONF_EXPORT_USES_EFFECTIVE_PRICE,
    CONF_IMPORT_MARKUP,
    CONF_INVERT_BATTERY_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_MAX_GRID_PEAK_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_PRICE_ENTITY,
    CONF_PRICES_INCLUDE_TAXES,
    CONF_PV_FORECAST_ENTITY,
    CONF_VAT_PERCENT,
    LOGGER,
)
from .control_store import CommandSource
from .controller import BatteryController, ManualOverride
from .coordinator import EmsCoordinator
from .forecast import (
    Forecast,
    ForecastStatus,
    async_load_profile,
    find_load_sources,
    load_forecast_w,
    pv_forecast_w,
    zeros,
)
from .options import entry_options
from .peak_shaver import (
    Command,
    Decision,
    Measurements,
    ShaverConfig,
    ShaverState,
    decide,
    record_sent,
)
from .planner import Plan, PlannerInputError, PlannerParams, plan_schedule
from .price_source import PriceEntityReader, PriceReading, PriceStatus
from .prices import (
    SLOT,
    PriceHorizon,
    PriceSlot,
    align_prices,
    effective_import_prices,
    is_stale,
    quarter_start,
)

PLAN_HORIZON_SLOTS: Final = 192  # 48 hours: today and tomorrow at most
SOC_DRIFT_PERCENT: Final = 5.0
SLOT_HOURS: Final = SLOT.total_seconds() / 3600
# The schedule leaves room for the other attributes within Home Assistant's 16 KB per state.
SCHEDULE_MAX_BYTES: Final = 14_000
LOAD_PROFILE_MAX_AGE: Final = timedelta(hours=1)
# A longer gap between polls (a restart, a dead device) is not integrated into the savings.
MAX_SAVINGS_GAP: Final = timedelta(minutes=5)


class OptimiserStatus(StrEnum):
    """What the optimiser is doing (the status sensor's state)."""

    OFF = "off"
    OK = "ok"
    DRY_RUN = "dry_run"
    NO_PRICES = "no_prices"
    STALE_PRICES = "stale_prices"
    PEAK_ONLY = "peak_only"
    DEVICE_UNAVAILABLE = "device_unavailable"


@dataclass(frozen=True, slots=True)
class PriceState:
    """The prices the last plan was (or could not be) made with."""

    status: OptimiserStatus  # OK, NO_PRICES, STALE_PRICES or PEAK_ONLY
    detail: str = ""
    import_slots: tuple[PriceSlot, ...] = ()  # effective import prices
    export_slots: tuple[PriceSlot, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ActivePlan:
    """A plan with what it was made from."""

    plan: Plan
    start: datetime
    horizon: PriceHorizon
    created: datetime
    load: Forecast
    pv: Forecast

    def slot_index(self, now: datetime) -> int | None:
        """The plan's slot for `now`, None outside the plan."""
        index = int((quarter_start(now) - self.start) / SLOT)
        return index if 0 <= index < len(self.plan.slots) else None

    def planned_soc_percent(self, index: int, now: datetime) -> float:
        """The plan's SOC at `now` (in slot `index`), interpolated within the slot."""
        slot = self.plan.slots[index]
        fraction = (now - (self.start + index * SLOT)) / SLOT
        return slot.soc_percent_start + (slot.soc_percent_end - slot.soc_percent_start) * fraction


def schedule_attribute(active: ActivePlan, now: datetime) -> list[dict[str, Any]]:
    """The plan from the current slot on, rounded, as long as it fits in SCHEDULE_MAX_BYTES."""
    first = active.slot_index(now) or 0
    entries: list[dict[str, Any]] = []
    size = 2  # the list's brackets
    for index in range(first, len(active.plan.slots)):
        slot = active.plan.slots[index]
        entry = {
            "start": (active.start + index * SLOT).isoformat(),
            "charge_w": round(slot.charge_w),
            "discharge_w": round(slot.discharge_w),
            "soc_percent_end": round(slot.soc_percent_end, 1),
            "import_price": round(active.horizon.import_eur_per_kwh[index], 4),
            "export_price": round(active.horizon.export_eur_per_kwh[index], 4),
        }
        size += len(json.dumps(entry, separators=(",", ":"))) + 1
        if size > SCHEDULE_MAX_BYTES:
            break
        entries.append(entry)
    return entries


def planned_action(charge_w: float, discharge_w: float) -> str:
    """`charge`, `discharge` or `idle`."""
    if charge_w > 0:
        return "charge"
    if discharge_w > 0:
        return "discharge"
    return "idle"


class Optimiser:
    """One entry's optimiser: plans, follows the plan and shaves peaks through the controller."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        coordinator: EmsCoordinator,
        controller: BatteryController,
    ) -> None:
        """Create the optimiser, switched off; `async_setup` starts watching."""
        self._hass = hass
        self._entry = entry
        self._coordinator = coordinator
        self._controller = controller
        self.enabled = False
        self.dry_run = False
        self.active_plan: ActivePlan | None = None
        self.prices = PriceState(OptimiserStatus.NO_PRICES, "not read yet")
        self.savings_eur = 0.0
        self.last_decision: Decision | None = None
        # Why the optimiser is off, when it switched itself off (a manual override).
        self.off_reason = ""
        self._device_ok = True
        self._shaver_state = ShaverState()
        self._sent_any = False
        self._savings_at: datetime | None = None
        self._readers: dict[str, PriceEntityReader] = {}
        self._unsub_prices: CALLBACK_TYPE | None = None
        self._load_profile: tuple[float, ...] | None = None
        self._load_profile_key: tuple[datetime, bool] | None = None
        self._load_detail = ""
        self._plan_task: asyncio.Task[None] | None = None
        self._replan_again = False
        self._send_task: asyncio.Task[None] | None = None
        self._listeners: list[CALLBACK_TYPE] = []
        self._closed = False

    # -- public ----------------------------------------------------------------------------

    @property
    def status(self) -> OptimiserStatus:
        """The status sensor's state."""
        if not self.enabled:
            return OptimiserStatus.OFF
        if not self._device_ok:
            return OptimiserStatus.DEVICE_UNAVAILABLE
        if self.prices.status is not OptimiserStatus.OK:
            return self.prices.status
        return OptimiserStatus.DRY_RUN if self.dry_run else OptimiserStatus.OK

    @property
    def status_detail(self) -> str:
        """A one-line explanation of the status (empty when there is nothing to add)."""
        status = self.status
        if status is OptimiserStatus.OFF:
            return self.off_reason
        if status is OptimiserStatus.DEVICE_UNAVAILABLE:
            return "the P1 meter or the battery did not answer the last poll"
        return self.prices.detail

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` whenever the optimiser's state changes; returns the remover."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    def async_setup(self) -> None:
        """Watch the polls, the quarter boundaries and manual commands (until unload)."""
        on_unload = self._entry.async_on_unload
        on_unload(self._coordinator.async_add_listener(self._handle_poll))
        on_unload(
            async_track_utc_time_change(
                self._hass, self._handle_quarter, minute=(0, 15, 30, 45), second=0
            )
        )
        on_unload(self._controller.async_add_manual_override_listener(self._handle_override))
        on_unload(self._unsubscribe_prices)
        on_unload(self._cancel_tasks)

    @callback
    def async_shutdown(self) -> None:
        """Stop acting before the controller gives the battery back (the entry unloads)."""
        self._closed = True
        self._cancel_tasks()

    async def async_set_enabled(self, enabled: bool) -> None:
        """Switch the optimiser on (plan now) or off (self-consumption back if it commanded)."""
        if enabled == self.enabled:
            return
        self.enabled = enabled
        self.off_reason = ""
        if enabled:
            LOGGER.info("Optimiser switched on%s", " (dry run)" if self.dry_run else "")
            self._reset_realtime()
            self._watch_price_entities(self._options())
            self._schedule_replan()
        else:
            LOGGER.info("Optimiser switched off")
            await self._async_stop_commanding()
        self._notify()

    async def async_set_dry_run(self, dry_run: bool) -> None:
        """Dry run: plan and log, send nothing (and give the battery back if it was commanded)."""
        if dry_run == self.dry_run:
            return
        self.dry_run = dry_run
        LOGGER.info("Optimiser dry run %s", "on" if dry_run else "off")
        if dry_run:
            await self._async_stop_commanding()
        self._reset_realtime()
        self._notify()

    def restore_savings(self, savings_eur: float) -> None:
        """Continue the savings total from its value before a restart."""
        self.savings_eur = savings_eur

    # -- planning --------------------------------------------------------------------------

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
        self._watch_price_entities(options)
        previous = self.prices
        self.prices = await self._async_read_prices(options, now)
        if only_if_prices_changed and self.prices == previous:
            return
        battery = self._coordinator.data.battery if self._coordinator.data else None
        soc = None if battery is None else battery.soc_percent
        horizon = align_prices(
            self.prices.import_slots,
            self.prices.export_slots,
            now=now,
            max_slots=PLAN_HORIZON_SLOTS,
        )
        if soc is None or not horizon.import_eur_per_kwh:
            self.active_plan = None
            self._notify()
            return
        starts = [horizon.start + index * SLOT for index in range(len(horizon.import_eur_per_kwh))]
        pv = self._pv_forecast(options, starts)
        load = await self._async_load_forecast(starts, add_pv=pv.status is ForecastStatus.OK)
        try:
            params = PlannerParams.from_options(options)
            plan = await self._hass.async_add_executor_job(
                partial(
                    plan_schedule,
                    horizon.import_eur_per_kwh,
                    prices_export=horizon.export_eur_per_kwh,
                    load_w=load.values_w,
                    pv_w=pv.values_w,
                    slot_hours=SLOT_HOURS,
                    params=params,
                    initial_soc_percent=min(max(soc, 0.0), 100.0),
                )
            )
        except PlannerInputError as err:
            LOGGER.warning("The optimiser cannot plan: %s", err)
            self.active_plan = None
            self.prices = PriceState(OptimiserStatus.NO_PRICES, f"cannot plan: {err}")
            self._notify()
            return
        self.active_plan = ActivePlan(plan, horizon.start, horizon, now, load, pv)
        LOGGER.debug(
            "Planned %d slots from %s in %.1f ms (cost %.2f, violations %s)",
            len(plan.slots),
            horizon.start.isoformat(),
            plan.solve_ms,
            plan.cost_eur,
            plan.violations,
        )
        self._notify()

    async def _async_read_prices(self, options: Mapping[str, Any], now: datetime) -> PriceState:
        import_id = options[CONF_PRICE_ENTITY]
        if not import_id:
            return PriceState(OptimiserStatus.PEAK_ONLY, "no price entity configured")
        export_id = options[CONF_EXPORT_PRICE_ENTITY]
        readings: list[PriceReading] = []
        for entity_id in dict.fromkeys((import_id, export_id or import_id)):
            reader = self._readers.setdefault(entity_id, PriceEntityReader(self._hass, entity_id))
            readings.append(await reader.async_read(now))
        for reading in readings:
            if reading.status is not PriceStatus.OK:
                return PriceState(
                    OptimiserStatus.NO_PRICES, f"{reading.entity_id}: {reading.detail}"
                )
        import_slots = _effective(readings[0].slots, options)
        export_slots = readings[-1].slots
        if options[CONF_EXPORT_USES_EFFECTIVE_PRICE]:
            export_slots = _effective(export_slots, options)
        source = None if readings[0].source is None else str(readings[0].source)
        for reading in readings:
            if is_stale(reading.slots, now=now):
                return PriceState(
                    OptimiserStatus.STALE_PRICES,
                    f"{reading.entity_id}: no price for the current quarter",
                    import_slots,
                    export_slots,
                    source,
                )
        return PriceState(OptimiserStatus.OK, "", import_slots, export_slots, source)

    def _pv_forecast(self, options: Mapping[str, Any], starts: list[datetime]) -> Forecast:
        entity_id = options[CONF_PV_FORECAST_ENTITY]
        if not entity_id:
            return zeros(len(starts), ForecastStatus.NOT_CONFIGURED, "no PV forecast entity")
        state = self._hass.states.get(entity_id)
        return pv_forecast_w(
            None if state is None else state.attributes,
            starts,
            dt_util.get_default_time_zone(),
        )

    async def _async_load_forecast(self, starts: list[datetime], *, add_pv: bool) -> Forecast:
        """The load per slot from the recorder's last 7 days; zero when there is no history."""
        now = dt_util.utcnow()
        key = self._load_profile_key
        if key is None or key[1] != add_pv or now - key[0] > LOAD_PROFILE_MAX_AGE:
            self._load_profile_key = (now, add_pv)
            self._load_profile, self._load_detail = await self._async_query_load(now, add_pv)
        if self._load_profile is None:
            return zeros(len(starts), ForecastStatus.NO_DATA, self._load_detail)
        return Forecast(
            load_forecast_w(self._load_profile, starts, dt_util.get_default_time_zone()),
            ForecastStatus.OK,
            self._load_detail,
        )

    async def _async_query_load(
        self, now: datetime, add_pv: bool
    ) -> tuple[tuple[float, ...] | None, str]:
        if "recorder" not in self._hass.config.components:
            return None, "the recorder is not running"
        coordinator = self._coordinator
        sources = find_load_sources(self._hass, coordinator.p1_serial, coordinator.battery_serial)
        if sources is None:
            return None, "the grid power sensor is not registered"
        try:
            profile = await async_load_profile(self._hass, sources, add_pv=add_pv, now=now)
        except HomeAssistantError as err:
            return None, f"recorder statistics unavailable: {err}"
        if profile is None:
            return None, f"no statistics of {sources.grid_power} yet"
        return profile, f"7-day statistics of {sources.grid_power}"

    # -- price entities --------------------------------------------------------------------

    def _watch_price_entities(self, options: Mapping[str, Any]) -> None:
        """Follow the configured price entities' state changes (re-subscribed on change)."""
        wanted = _price_entity_ids(options)
        if wanted == set(self._readers) and (self._unsub_prices is not None or not wanted):
            return
        self._unsubscribe_prices()
        self._readers = {
            entity_id: self._readers.get(entity_id) or PriceEntityReader(self._hass, entity_id)
            for entity_id in wanted
        }
        if wanted:
            self._unsub_prices = async_track_state_change_event(
                self._hass, sorted(wanted), self._handle_price_change
            )

    @callback
    def _unsubscribe_prices(self) -> None:
        if self._unsub_prices is not None:
            self._unsub_prices()
            self._unsub_prices = None

    @callback
    def _handle_price_change(self, event: Event[EventStateChangedData]) -> None:
        self._schedule_replan(only_if_prices_changed=True)

    @callback
    def _handle_quarter(self, now: datetime) -> None:
        self._schedule_replan()

    # -- real time -------------------------------------------------------------------------

    @callback
    def _handle_poll(self) -> None:
        """Every coordinator update: measure, follow the plan, shave, send if changed."""
        if not self.enabled or self._closed:
            return
        options = self._options()
        if _price_entity_ids(options) != set(self._readers):
            # The price entities changed in the options.
            self._watch_price_entities(options)
            self._schedule_replan()
        # A failed poll (both devices down) leaves the previous data in place: never act on it.
        data = self._coordinator.data if self._coordinator.last_update_success else None
        p1 = None if data is None else data.p1
        battery = None if data is None else data.battery
        grid_w = None if p1 is None else p1.active_power_w
        soc = None if battery is None else battery.soc_percent
        if p1 is None or battery is None or grid_w is None or soc is None:
            if self._device_ok:
                self._device_ok = False
                self._notify()
            return
        self._device_ok = True
        now = dt_util.utcnow()
        battery_w = battery.battery_power_w
        if battery_w is None:
            sent = self._shaver_state.sent
            battery_w = 0.0 if sent is None else float(sent.power_w)
        elif options[CONF_INVERT_BATTERY_POWER]:
            battery_w = -battery_w
        self._add_savings(now, grid_w, battery_w)

        plan_charge_w = plan_discharge_w = 0.0
        active = self.active_plan
        index = None if active is None else active.slot_index(now)
        if active is not None and index is not None:
            plan_charge_w, plan_discharge_w = active.plan.policy_action(index, soc)
            planned_soc = active.planned_soc_percent(index, now)
            if abs(soc - planned_soc) > SOC_DRIFT_PERCENT:
                LOGGER.debug("SOC %.1f %% drifted from the plan's %.1f %%", soc, planned_soc)
                self._schedule_replan()
        config = ShaverConfig(
            peak_limit_w=float(options[CONF_MAX_GRID_PEAK_W]),
            max_charge_w=int(options[CONF_MAX_CHARGE_W]),
            max_discharge_w=int(options[CONF_MAX_DISCHARGE_W]),
            min_soc_percent=float(options[CONF_MIN_SOC]),
            max_soc_percent=float(options[CONF_MAX_SOC]),
        )
        decision = decide(
            Measurements(
                now=now,
                grid_power_w=grid_w,
                battery_power_w=battery_w,
                soc_percent=soc,
                plan_charge_w=plan_charge_w,
                plan_discharge_w=plan_discharge_w,
                active_power_average_w=p1.active_power_average_w,
                monthly_power_peak_w=p1.monthly_power_peak_w,
            ),
            config,
            self._shaver_state,
        )
        self._shaver_state = decision.state
        self.last_decision = decision
        if decision.send:
            self._send(decision.command, now)
        self._notify()

    def _send(self, command: Command, now: datetime) -> None:
        if self.dry_run:
            LOGGER.info("Optimiser dry run: would send %s", _describe(command))
            self._shaver_state = record_sent(self._shaver_state, command, now)
            return
        if self._send_task is not None and not self._send_task.done():
            return  # the previous command is still on its way; decide again next poll
        self._send_task = self._entry.async_create_task(
            self._hass, self._async_send(command, now), "ems optimiser command"
        )

    async def _async_send(self, command: Command, now: datetime) -> None:
        controller = self._controller
        source = CommandSource.OPTIMISER
        try:
            if command.charge_w > 0:
                target = math.floor(float(self._options()[CONF_MAX_SOC]))
                await controller.async_charge(command.charge_w, target, source=source)
            elif command.discharge_w > 0:
                await controller.async_discharge(command.discharge_w, source=source)
            elif self.active_plan is None:
                # Shaving only: between peaks the battery does its own self-consumption.
                await controller.async_restore_auto_mode(source=source)
            else:
                await controller.async_stop(source=source)
        except HomeAssistantError as err:
            LOGGER.warning("Optimiser command %s failed: %s", _describe(command), err)
            return
        if not self.enabled or self.dry_run:
            return  # switched off meanwhile: the restore already went out or will
        self._sent_any = True
        self._shaver_state = record_sent(self._shaver_state, command, now)
        LOGGER.debug("Optimiser sent %s", _describe(command))

    def _add_savings(self, now: datetime, grid_w: float, battery_w: float) -> None:
        """Add this interval's saving: cost without the battery minus cost with it."""
        previous, self._savings_at = self._savings_at, now
        if self.dry_run or previous is None or not timedelta(0) < now - previous <= MAX_SAVINGS_GAP:
            return
        quarter = quarter_start(previous)
        import_price = _price_at(self.prices.import_slots, quarter)
        export_price = _price_at(self.prices.export_slots, quarter)
        if import_price is None or export_price is None:
            return
        hours = (now - previous).total_seconds() / 3600

        def cost_eur(power_w: float) -> float:
            price = import_price if power_w > 0 else export_price
            return power_w * price * hours / 1000

        self.savings_eur += cost_eur(grid_w - battery_w) - cost_eur(grid_w)

    # -- overrides and stopping ------------------------------------------------------------

    @callback
    def _handle_override(self, override: ManualOverride) -> None:
        """A person commanded the battery: step aside and say so."""
        if not self.enabled:
            return
        LOGGER.warning(
            "Manual battery command (%s) while the optimiser was running: optimiser switched off",
            override.action,
        )
        self.enabled = False
        self.off_reason = f"manual_override: {override.action}"
        self._cancel_tasks()
        self._reset_realtime()
        self._notify()

    async def _async_stop_commanding(self) -> None:
        """Give the battery back to self-consumption if the optimiser commanded it."""
        self._cancel_tasks()
        if self._sent_any:
            self._sent_any = False
            try:
                await self._controller.async_restore_auto_mode(source=CommandSource.OPTIMISER)
            except HomeAssistantError as err:
                LOGGER.warning("Could not restore self-consumption mode: %s", err)
        self._reset_realtime()

    def _reset_realtime(self) -> None:
        self._shaver_state = ShaverState()
        self.last_decision = None
        self._savings_at = None
        if not self.enabled:
            self._sent_any = False

    def _cancel_tasks(self) -> None:
        for task in (self._plan_task, self._send_task):
            if task is not None and not task.done():
                task.cancel()
        self._replan_again = False

    @callback
    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _options(self) -> dict[str, Any]:
        return entry_options(self._entry)


def _effective(slots: tuple[PriceSlot, ...], options: Mapping[str, Any]) -> tuple[PriceSlot, ...]:
    return effective_import_prices(
        slots,
        markup_eur_per_kwh=float(options[CONF_IMPORT_MARKUP]),
        energy_tax_eur_per_kwh=float(options[CONF_ENERGY_TAX]),
        vat_percent=float(options[CONF_VAT_PERCENT]),
        includes_taxes=bool(options[CONF_PRICES_INCLUDE_TAXES]),
    )


def _price_entity_ids(options: Mapping[str, Any]) -> set[str]:
    return {
        entity_id
        for entity_id in (options[CONF_PRICE_ENTITY], options[CONF_EXPORT_PRICE_ENTITY])
        if entity_id
    }


def _price_at(slots: tuple[PriceSlot, ...], quarter: datetime) -> float | None:
    for slot in slots:
        if slot.start == quarter:
            return slot.price_eur_per_kwh
    return None


def _describe(command: Command) -> str:
    if command.charge_w:
        return f"charge {command.charge_w} W ({command.reason})"
    if command.discharge_w:
        return f"discharge {command.discharge_w} W ({command.reason})"
    return f"idle ({command.reason})"
