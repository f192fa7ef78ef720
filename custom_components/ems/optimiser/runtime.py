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
from datetime import date, datetime, timedelta
from functools import partial
import math
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.util import dt as dt_util

from .active_plan import ActivePlan, slot_outlook
from .const import (
    CONF_CAPACITY_KWH,
    CONF_INVERT_BATTERY_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_MAX_GRID_PEAK_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_ROUND_TRIP_EFFICIENCY,
    LOGGER,
    POLL_INTERVAL_MIN_S,
)
from .control_store import CommandSource, ForcedKind
from .controller import BatteryController, ManualOverride
from .coordinator import EmsCoordinator
from .devices.indevolt import BatterySnapshot, WorkingMode
from .dispatch import BatteryLimits, Intent, choose_intent
from .optimiser_guards import AppChangeWatch, SendBackoff
from .options import entry_options
from .peak_shaver import (
    Command,
    Decision,
    Measurements,
    ShaverConfig,
    ShaverState,
    decide,
    record_sent,
    usable_power_w,
    usable_soc_percent,
)
from .plan_inputs import OptimiserStatus, PlanInputs, PriceState, price_entity_ids
from .planner import PlannerInputError, PlannerParams, plan_schedule
from .prices import SLOT, PriceSlot, align_prices, quarter_start
from .savings import SavingsAgainstDevice, VirtualBattery, energy_cost_eur
from .soc_floor import soc_floor_percent

PLAN_HORIZON_SLOTS: Final = 192  # 48 hours: today and tomorrow at most
SOC_DRIFT_PERCENT: Final = 5.0
SLOT_HOURS: Final = SLOT.total_seconds() / 3600
# A longer gap between polls (a restart, a dead device) is not integrated into the savings.
MAX_SAVINGS_GAP: Final = timedelta(minutes=5)
# Without usable readings the last command holds this long, then self-consumption takes over.
MAX_HOLD_WITHOUT_READINGS: Final = timedelta(minutes=1)
# The back-off's unit when the coordinator has no interval (it always has one): the shortest.
SHORTEST_POLL_INTERVAL: Final = timedelta(seconds=POLL_INTERVAL_MIN_S)


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
        # Against the battery's own self-consumption mode (savings.py): today's and in total.
        self.savings_vs_self_consumption = SavingsAgainstDevice()
        self._virtual: VirtualBattery | None = None
        self.last_decision: Decision | None = None
        # The dispatch mode of the last poll (None without a plan: the shaver alone).
        self.intent: Intent | None = None
        # Why the optimiser is off, when it switched itself off (a manual override).
        self.off_reason = ""
        # Why the last poll gave nothing to act on ("" when it did).
        self._unusable = ""
        self._unusable_since: datetime | None = None
        self._shaver_state = ShaverState()
        self._backoff = SendBackoff()
        self._app_watch = AppChangeWatch()
        self._sent_any = False
        self._savings_at: datetime | None = None
        self._inputs = PlanInputs(hass, coordinator, self._handle_price_change)
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
        if self._unusable:
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
            return self._unusable
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
        on_unload(self._inputs.unsubscribe)
        on_unload(self._inputs.start_tracking())
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
            self._app_watch.start(self._coordinator.last_mode_write)
            self._inputs.watch_price_entities(self._options())
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

    @callback
    def _handle_price_change(self) -> None:
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
        if price_entity_ids(options) != self._inputs.watched:
            # The price entities changed in the options.
            self._inputs.watch_price_entities(options)
            self._schedule_replan()
        # A failed poll (both devices down) leaves the previous data in place: never act on it.
        data = self._coordinator.data if self._coordinator.last_update_success else None
        p1 = None if data is None else data.p1
        battery = None if data is None else data.battery
        grid_w = None if p1 is None else usable_power_w(p1.active_power_w)
        soc = None if battery is None else usable_soc_percent(battery.soc_percent)
        if (
            battery is not None
            # A command that may have switched the mode is being undone: the mode is unknown.
            and not self._controller.restore_pending
            and self._app_watch.changed_outside(
                battery.working_mode, self._coordinator.last_mode_write
            )
        ):
            self._step_back_for_app(battery.working_mode)
            return
        if p1 is None or battery is None:
            self._hold_without_readings("the P1 meter or the battery did not answer the last poll")
            return
        if grid_w is None or soc is None:
            # Garbage (NaN, 1e400, a SOC of 250 %) is never acted on.
            self._hold_without_readings("no usable grid power or SOC reading")
            return
        self._set_unusable("")
        now = dt_util.utcnow()
        battery_w = usable_power_w(battery.battery_power_w)
        if battery_w is None:
            sent = self._shaver_state.sent
            battery_w = 0.0 if sent is None else float(sent.power_w)
        elif options[CONF_INVERT_BATTERY_POWER]:
            battery_w = -battery_w
        self._add_savings(now, grid_w, battery_w, soc, options)

        plan_charge_w = plan_discharge_w = 0.0
        intent: Intent | None = None
        active = self.active_plan
        index = None if active is None else active.slot_index(now)
        config = ShaverConfig(
            peak_limit_w=float(options[CONF_MAX_GRID_PEAK_W]),
            max_charge_w=int(options[CONF_MAX_CHARGE_W]),
            max_discharge_w=int(options[CONF_MAX_DISCHARGE_W]),
            min_soc_percent=soc_floor_percent(
                float(options[CONF_MIN_SOC]), battery.backup_soc_percent
            ),
            max_soc_percent=float(options[CONF_MAX_SOC]),
        )
        if active is not None and index is not None:
            plan_charge_w, plan_discharge_w = active.plan.policy_action(index, soc)
            planned_soc = active.planned_soc_percent(index, now)
            if abs(soc - planned_soc) > SOC_DRIFT_PERCENT:
                LOGGER.debug("SOC %.1f %% drifted from the plan's %.1f %%", soc, planned_soc)
                self._schedule_replan()
            outlook = slot_outlook(
                active,
                index,
                plan_charge_w - plan_discharge_w,
                float(options[CONF_ROUND_TRIP_EFFICIENCY]),
                config.peak_limit_w,
            )
            intent = choose_intent(
                outlook,
                BatteryLimits(
                    soc_percent=soc,
                    min_soc_percent=config.min_soc_percent,
                    max_soc_percent=config.max_soc_percent,
                    max_charge_w=config.max_charge_w,
                    max_discharge_w=config.max_discharge_w,
                ),
            )
        self.intent = intent
        local_date = dt_util.as_local(now).date()
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
                intent=intent,
                local_date=local_date,
            ),
            config,
            self._shaver_state,
        )
        self._shaver_state = decision.state
        self.last_decision = decision
        if decision.send:
            self._send(decision.command, now, local_date, soc)
        self._notify()

    @callback
    def _set_unusable(self, reason: str) -> None:
        if reason != self._unusable:
            self._unusable = reason
            self._notify()

    @callback
    def _hold_without_readings(self, reason: str) -> None:
        """Hold the last command for a while, then give the battery back to self-consumption.

        A charge or discharge that nothing measures any more could push the grid anywhere.
        """
        now = dt_util.utcnow()
        if not self._unusable or self._unusable_since is None:
            self._unusable_since = now
        self._set_unusable(reason)
        sent = self._shaver_state.sent
        if (
            self.dry_run
            or sent is None
            or sent.power_w == 0
            or now - self._unusable_since < MAX_HOLD_WITHOUT_READINGS
            or (self._send_task is not None and not self._send_task.done())
        ):
            return
        LOGGER.info(
            "No usable readings for %d s: self-consumption mode until they are back",
            (now - self._unusable_since).total_seconds(),
        )
        self._shaver_state = ShaverState()  # the first usable poll sends afresh
        self._send_task = self._entry.async_create_task(
            self._hass, self._async_give_back(), "ems optimiser give back"
        )

    async def _async_give_back(self) -> None:
        try:
            await self._controller.async_restore_auto_mode(source=CommandSource.OPTIMISER)
        except HomeAssistantError as err:
            LOGGER.warning("Could not restore self-consumption mode: %s", err)

    def _send(self, command: Command, now: datetime, local_date: date, soc: float) -> None:
        if self.dry_run:
            LOGGER.info("Optimiser dry run: would send %s", _describe(command))
            self._shaver_state = record_sent(self._shaver_state, command, now, local_date)
            return
        if command.follow_house and self._follows_house_anyway(soc):
            # Already there, or the controller gives the battery back itself (a command reached
            # its target in this poll): the next decision costs no write.
            self._shaver_state = record_sent(self._shaver_state, command, now, local_date)
            return
        if self._send_task is not None and not self._send_task.done():
            return  # the previous command is still on its way; decide again next poll
        if not self._backoff.may_send(now):
            return  # the battery refused the last command: decide again after the back-off
        self._send_task = self._entry.async_create_task(
            self._hass, self._async_send(command, now, local_date), "ems optimiser command"
        )

    def _follows_house_anyway(self, soc: float) -> bool:
        """Whether the battery runs self-consumption, or the controller restores it right now."""
        controller = self._controller
        forced = controller.forced_command
        if forced is None:
            return (
                not controller.restore_pending
                and self._coordinator.known_working_mode is WorkingMode.SELF_CONSUMED
            )
        target = forced.target_soc_percent
        # The controller ends a charge or discharge at its target after the same poll.
        return target is not None and (
            (forced.kind is ForcedKind.CHARGE and soc >= target)
            or (forced.kind is ForcedKind.DISCHARGE and soc <= target)
        )

    async def _async_send(self, command: Command, now: datetime, local_date: date) -> None:
        controller = self._controller
        source = CommandSource.OPTIMISER
        try:
            if command.charge_w > 0:
                target = math.floor(float(self._options()[CONF_MAX_SOC]))
                await controller.async_charge(command.charge_w, target, source=source)
            elif command.discharge_w > 0:
                await controller.async_discharge(command.discharge_w, source=source)
            elif command.follow_house or self.active_plan is None:
                # Shaving only: between peaks the battery does its own self-consumption.
                await controller.async_restore_auto_mode(source=source)
            else:
                await controller.async_stop(source=source)
        except HomeAssistantError as err:
            interval = self._coordinator.update_interval or SHORTEST_POLL_INTERVAL
            wait = self._backoff.failed(now, interval)
            # One warning per episode; the retries log at debug level.
            log = LOGGER.warning if self._backoff.failures == 1 else LOGGER.debug
            log(
                "Optimiser command %s failed: %s; trying again in %s s",
                _describe(command),
                err,
                int(wait.total_seconds()),
            )
            return
        failures = self._backoff.succeeded()
        if failures:
            LOGGER.info("Optimiser commands work again, after %d failed attempts", failures)
        if not self.enabled or self.dry_run:
            return  # switched off meanwhile: the restore already went out or will
        self._sent_any = True
        self._shaver_state = record_sent(self._shaver_state, command, now, local_date)
        LOGGER.debug("Optimiser sent %s", _describe(command))

    def _add_savings(
        self,
        now: datetime,
        grid_w: float,
        battery_w: float,
        soc: float,
        options: Mapping[str, Any],
    ) -> None:
        """Add this interval's savings: against no battery, and against self-consumption."""
        previous, self._savings_at = self._savings_at, now
        today = dt_util.as_local(now).date()
        against_device = self.savings_vs_self_consumption
        if self._virtual is None or against_device.day != today:
            # Each day (and each start) compares from the measured SOC.
            self._virtual = _virtual_battery(options, soc)
            against_device.start_day(today, dt_util.start_of_local_day(now))
        if self.dry_run or previous is None or not timedelta(0) < now - previous <= MAX_SAVINGS_GAP:
            return
        quarter = quarter_start(previous)
        import_price = _price_at(self.prices.import_slots, quarter)
        export_price = _price_at(self.prices.export_slots, quarter)
        if import_price is None or export_price is None:
            return
        hours = (now - previous).total_seconds() / 3600

        def cost_eur(power_w: float) -> float:
            return energy_cost_eur(power_w, hours, import_price, export_price)

        self.savings_eur += cost_eur(grid_w - battery_w) - cost_eur(grid_w)
        virtual_grid_w = self._virtual.run(grid_w - battery_w, hours)
        against_device.add(cost_eur(virtual_grid_w) - cost_eur(grid_w))

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
        self._step_back(f"manual_override: {override.action}")

    @callback
    def _step_back_for_app(self, mode: WorkingMode | None) -> None:
        """The working mode changed outside ems (the Indevolt app): a person's choice too."""
        name = "unknown" if mode is None else mode.name.lower()
        LOGGER.warning(
            "The Indevolt's working mode was changed outside ems (now %s, e.g. in the Indevolt "
            "app) while the optimiser was running: optimiser switched off",
            name,
        )
        self._step_back(f"app_override: working mode {name}")

    @callback
    def _step_back(self, reason: str) -> None:
        """Switch off and leave the battery as the person set it."""
        self.enabled = False
        self.off_reason = reason
        self._cancel_tasks()
        self._reset_realtime()
        self._notify()

    async def _async_stop_commanding(self) -> None:
        """Give the battery back to self-consumption if the optimiser commanded it."""
        self._cancel_tasks()
        if self._sent_any:
            self._sent_any = False
            await self._async_give_back()
        self._reset_realtime()

    def _reset_realtime(self) -> None:
        self._shaver_state = ShaverState()
        self._backoff = SendBackoff()
        self.last_decision = None
        self._savings_at = None
        self._virtual = None
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


def _planner_floor_percent(options: Mapping[str, Any], battery: BatterySnapshot) -> float:
    """The SOC floor for planning; below the max SOC, so a backup SOC of 100 % still plans."""
    floor = soc_floor_percent(float(options[CONF_MIN_SOC]), battery.backup_soc_percent)
    # The planner needs a window of at least 1 point; the shaver still stops at the real floor.
    return min(floor, float(options[CONF_MAX_SOC]) - 1)


def _virtual_battery(options: Mapping[str, Any], soc: float) -> VirtualBattery:
    return VirtualBattery(
        capacity_kwh=float(options[CONF_CAPACITY_KWH]),
        soc_percent=soc,
        min_soc_percent=float(options[CONF_MIN_SOC]),
        max_soc_percent=float(options[CONF_MAX_SOC]),
        max_charge_w=float(options[CONF_MAX_CHARGE_W]),
        max_discharge_w=float(options[CONF_MAX_DISCHARGE_W]),
        round_trip_efficiency=float(options[CONF_ROUND_TRIP_EFFICIENCY]),
    )


def _price_at(slots: tuple[PriceSlot, ...], quarter: datetime) -> float | None:
    for slot in slots:
        if slot.start == quarter:
            return slot.price_eur_per_kwh
    return None


def _describe(command: Command) -> str:
    if command.follow_house:
        return f"self-consumption ({command.reason})"
    if command.charge_w:
        return f"charge {command.charge_w} W ({command.reason})"
    if command.discharge_w:
        return f"discharge {command.discharge_w} W ({command.reason})"
    return f"idle ({command.reason})"
