"""The optimiser at run time: prices and forecasts in, a plan in the executor, commands out.

Two layers (docs/optimiser.md):
- Planning, in an executor job: on new prices, at each quarter boundary and when the measured
  SOC drifts more than 5 points from the plan. Never at every poll.
- Real time, at every coordinator update (cheap, in the event loop): the plan's policy gives the
  setpoint for the SOC measured at the slot's first poll (`ActivePlan.slot_power_w`),
  `peak_shaver.decide` keeps the quarter's import under the peak and applies the deadband and
  hold time, and a changed command goes through the controller.

Without prices (none configured, unreadable or stale) the optimiser still shaves peaks and
otherwise leaves the battery in self-consumption. A person's command through the controller
(an `ems.*` action, the working-mode select, the stop button) switches the optimiser off.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.core import callback
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_CAPACITY_KWH,
    CONF_CAPACITY_TARIFF,
    CONF_INVERT_BATTERY_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_MAX_GRID_PEAK_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_ROUND_TRIP_EFFICIENCY,
    LOGGER,
)
from ..controller import ManualOverride
from ..devices.indevolt import WorkingMode
from ..devices.indevolt_registers import FEED_IN_LIMIT
from ..soc_floor import soc_floor_percent
from .active_plan import BatteryOptions, slot_outlook
from .command_pacing import ShaverState
from .commands import CommandSender
from .dispatch import BatteryLimits, Intent, choose_intent
from .export_limit import ExportReading
from .guards import SendBackoff
from .peak_shaver import Measurements, ShaverConfig, decide
from .plan_inputs import price_entity_ids
from .planning import PlanningLoop
from .price_slots import PriceSlot, quarter_start
from .readings import usable_power_w, usable_soc_percent
from .savings import VirtualBattery, energy_cost_eur

SOC_DRIFT_PERCENT: Final = 5.0
# A longer gap between polls (a restart, a dead device) is not integrated into the savings.
MAX_SAVINGS_GAP: Final = timedelta(minutes=5)


class Optimiser(PlanningLoop, CommandSender):
    """One entry's optimiser: plans, follows the plan and shaves peaks through the controller."""

    # -- lifecycle ---------------------------------------------------------------------------

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
            self._app_watch.start(self._coordinator.mode_tracker.outside_changes)
            self._inputs.watch_price_entities(self._options())
            self._schedule_replan()
        else:
            LOGGER.info("Optimiser switched off")
            await self._async_stop_commanding()
            await self.feed_in.async_give_back("optimiser switched off")
        self._notify()

    async def async_set_dry_run(self, dry_run: bool) -> None:
        """Dry run: plan and log, send nothing (and give the battery back if it was commanded)."""
        if dry_run == self.dry_run:
            return
        self.dry_run = dry_run
        LOGGER.info("Optimiser dry run %s", "on" if dry_run else "off")
        if dry_run:
            await self._async_stop_commanding()
            await self.feed_in.async_give_back("dry run on")
        self._reset_realtime()
        self._notify()

    # -- real time -------------------------------------------------------------------------

    @callback
    def _handle_poll(self) -> None:
        """Every coordinator update: measure, follow the plan, shave, send if changed."""
        if self._closed:
            return
        if not self.enabled:
            # A feed-in limit still lowered (its write-back failed) goes back now.
            self._step_feed_in(None)
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
            and self._app_watch.changed_outside(self._coordinator.mode_tracker.outside_changes)
            # A command that may have switched the mode is being undone: the mode is unknown
            # (the change is seen, and passed over, all the same).
            and not self._controller.restore_pending
        ):
            self._step_back_for_app(battery.working_mode)
            return
        if p1 is None or battery is None:
            self._hold_without_readings("the P1 meter or the battery did not answer the last poll")
            self._step_feed_in(None)
            return
        if grid_w is None or soc is None:
            # Garbage (NaN, 1e400, a SOC of 250 %) is never acted on.
            self._hold_without_readings("no usable grid power or SOC reading")
            self._step_feed_in(None)
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
        self._step_feed_in(
            ExportReading(
                export_price=_price_at(self.prices.export_slots, quarter_start(now)),
                grid_w=grid_w,
                dc_pv_w=(battery.pv1_power_w or 0.0) + (battery.pv2_power_w or 0.0),
                battery_w=battery_w,
            )
        )

        plan_charge_w = plan_discharge_w = 0.0
        intent: Intent | None = None
        active = self.active_plan
        index = None if active is None else active.slot_index(now)
        tariff = float(options[CONF_CAPACITY_TARIFF])
        config = ShaverConfig(
            peak_limit_w=float(options[CONF_MAX_GRID_PEAK_W]),
            max_charge_w=int(options[CONF_MAX_CHARGE_W]),
            max_discharge_w=int(options[CONF_MAX_DISCHARGE_W]),
            min_soc_percent=soc_floor_percent(
                float(options[CONF_MIN_SOC]), battery.backup_soc_percent
            ),
            max_soc_percent=float(options[CONF_MAX_SOC]),
            capacity_tariff_eur_per_kw_year=tariff,
            # A plan made before the tariff was switched off no longer counts.
            planned_limit_w=self.planned_peak_limit_w(now) if tariff > 0 else None,
        )
        if active is not None and index is not None:
            plan_charge_w, plan_discharge_w = active.slot_power_w(index, now, soc)
            planned_soc = active.planned_soc_percent(index, now)
            if abs(soc - planned_soc) > SOC_DRIFT_PERCENT:
                LOGGER.debug("SOC %.1f %% drifted from the plan's %.1f %%", soc, planned_soc)
                self._schedule_replan()
            outlook = slot_outlook(
                active,
                index,
                plan_charge_w - plan_discharge_w,
                BatteryOptions(
                    capacity_kwh=float(options[CONF_CAPACITY_KWH]),
                    round_trip_efficiency=float(options[CONF_ROUND_TRIP_EFFICIENCY]),
                    peak_limit_w=config.planned_limit_w or config.peak_limit_w,
                    min_soc_percent=config.min_soc_percent,
                    max_soc_percent=config.max_soc_percent,
                ),
                soc_offset_percent=soc - planned_soc,
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
    def _step_feed_in(self, reading: ExportReading | None) -> None:
        """The feed-in limit's step (feed_in.py); `reading` None: nothing usable to decide on."""
        data = self._coordinator.data if self._coordinator.last_update_success else None
        battery = None if data is None else data.battery
        self.feed_in.step(
            dt_util.utcnow(),
            reading,
            None if battery is None else battery.number(FEED_IN_LIMIT.read_register),
            active=self.enabled,
            dry_run=self.dry_run,
        )

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
