"""The optimiser's sensors: the plan, the status and the savings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
)
from homeassistant.helpers.entity import Entity
from homeassistant.util import dt as dt_util

from .const import (
    CONF_CAPACITY_TARIFF,
    CONF_ENERGY_TAX,
    CONF_EXPORT_PRICE_ENTITY,
    CONF_IMPORT_MARKUP,
    CONF_MAX_GRID_PEAK_W,
    CONF_PRICE_ENTITY,
    CONF_PRICES_INCLUDE_TAXES,
    CONF_VAT_PERCENT,
)
from .entity import battery_device_info
from .optimiser import (
    Optimiser,
    OptimiserStatus,
    PeakLimit,
    export_price_formula,
    limit_in_force,
    planned_action,
    schedule_attribute,
    usable_power_w,
)
from .options import entry_options
from .runtime_data import EmsConfigEntry

PLAN_OPTIONS = ["charge", "discharge", "idle"]


class OptimiserEntity(Entity):
    """An entity showing or steering the optimiser; on the battery device, always available."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: EmsConfigEntry, key: str) -> None:
        """Attach to the battery device; unique id `<entry unique id>_<key>`."""
        runtime = entry.runtime_data
        self.optimiser: Optimiser = runtime.optimiser
        self._entry = entry
        self._attr_unique_id = f"{runtime.coordinator.battery_serial}_{key}"
        self._attr_device_info = battery_device_info(runtime.coordinator)

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the optimiser's changes."""
        await super().async_added_to_hass()
        self.async_on_remove(self.optimiser.async_add_listener(self.async_write_ha_state))


def optimiser_sensors(entry: EmsConfigEntry) -> list[SensorEntity]:
    """The optimiser's sensors, for sensor.py's set-up."""
    return [
        PlanSensor(entry),
        OptimiserStatusSensor(entry),
        EstimatedSavingsSensor(entry),
        SavingsTodaySensor(entry),
        SavingsTotalSensor(entry),
    ]


class PlanSensor(OptimiserEntity, SensorEntity):
    """What the plan does in the current slot; the schedule and its inputs as attributes."""

    _attr_translation_key = "plan"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = PLAN_OPTIONS
    _unrecorded_attributes = frozenset({"schedule"})

    def __init__(self, entry: EmsConfigEntry) -> None:
        """Describe the plan sensor."""
        super().__init__(entry, "plan")
        self._schedule_key: tuple[object, int | None] | None = None
        self._schedule: list[dict[str, Any]] = []

    @property
    @override
    def native_value(self) -> str | None:
        """`charge`, `discharge` or `idle` for the current slot; unknown without a plan."""
        active = self.optimiser.active_plan
        if active is None:
            return None
        index = active.slot_index(self._now())
        if index is None:
            return None
        slot = active.plan.slots[index]
        return planned_action(slot.charge_w, slot.discharge_w)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """The schedule (from the current slot, unrecorded) and what the plan was made from."""
        options = entry_options(self._entry)
        prices = self.optimiser.prices
        markup, tax = options[CONF_IMPORT_MARKUP], options[CONF_ENERGY_TAX]
        vat = options[CONF_VAT_PERCENT]
        decision = self.optimiser.last_decision
        attributes: dict[str, Any] = {
            "price_entity": options[CONF_PRICE_ENTITY],
            "export_price_entity": options[CONF_EXPORT_PRICE_ENTITY],
            "price_source": prices.source,
            "import_price_formula": (
                "as published"
                if options[CONF_PRICES_INCLUDE_TAXES]
                else f"(price + {markup} + {tax}) x (1 + {vat} %)"
            ),
            "export_price": export_price_formula(options),
            # For the plan card: the limit in force (max of the option and the month's peak).
            "peak_limit_w": round(decision.limit_w) if decision else options[CONF_MAX_GRID_PEAK_W],
        }
        if options[CONF_CAPACITY_TARIFF] > 0:
            attributes.update(self._capacity_attributes(options))
        active = self.optimiser.active_plan
        if active is None:
            return attributes
        now = self._now()
        key = (active, active.slot_index(now))
        if key != self._schedule_key:
            self._schedule_key = key
            self._schedule = schedule_attribute(active, now)
        attributes.update(
            planned_at=active.created.isoformat(),
            plan_cost_eur=round(active.plan.cost_eur, 2),
            solve_ms=round(active.plan.solve_ms, 1),
            violations=list(active.plan.violations),
            load_forecast=str(active.load.status),
            pv_forecast=str(active.pv.status),
            load_forecast_source=active.load.source,
            pv_forecast_source=active.pv.source,
            load_forecast_error_w=_rounded(active.load.error_w),
            pv_forecast_error_w=_rounded(active.pv.error_w),
            schedule=self._schedule,
        )
        return attributes

    def _capacity_attributes(self, options: dict[str, Any]) -> dict[str, Any]:
        """With a capacity tariff: the limit in force, why, and the limits the plan weighed."""
        decision = self.optimiser.last_decision
        if decision is not None:
            limit = PeakLimit(decision.limit_w, decision.limit_reason)
        else:
            # Not shaving yet (off): the limit it would protect, from the last poll's month peak.
            data = self._entry.runtime_data.coordinator.data
            p1 = None if data is None else data.p1
            limit = limit_in_force(
                float(options[CONF_MAX_GRID_PEAK_W]),
                None if p1 is None else usable_power_w(p1.monthly_power_peak_w),
                float(options[CONF_CAPACITY_TARIFF]),
                chosen_w=self.optimiser.planned_peak_limit_w(self._now()),
            )
        planned = self.optimiser.planned_peak
        return {
            "peak_limit_w": round(limit.limit_w),
            "peak_limit_reason": str(limit.reason),
            "peak_limit_candidates": [
                {
                    "limit_w": round(candidate.limit_w),
                    "energy_cost_eur": round(candidate.energy_cost_eur, 2),
                    "capacity_cost_eur": round(candidate.capacity_cost_eur, 2),
                }
                for candidate in (() if planned is None else planned.candidates)
            ],
        }

    @staticmethod
    def _now() -> datetime:
        return dt_util.utcnow()


class OptimiserStatusSensor(OptimiserEntity, SensorEntity):
    """off, ok, dry_run, no_prices, stale_prices, peak_only or device_unavailable."""

    _attr_translation_key = "optimiser_status"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = [str(status) for status in OptimiserStatus]  # noqa: RUF012

    def __init__(self, entry: EmsConfigEntry) -> None:
        """Describe the status sensor."""
        super().__init__(entry, "optimiser_status")

    @property
    @override
    def native_value(self) -> str:
        """The optimiser's status."""
        return str(self.optimiser.status)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why (a manual override, the price entity's problem, ...), the mode, the export."""
        intent = self.optimiser.intent
        return {
            "detail": self.optimiser.status_detail,
            "dispatch_mode": None if intent is None else str(intent.mode),
            "feed_in_limit": str(self.optimiser.feed_in.state),
        }


class SavingsSensor(OptimiserEntity, RestoreSensor):
    """Money in the system currency, continued from its value before a restart."""

    _attr_device_class = SensorDeviceClass.MONETARY
    _attr_state_class = SensorStateClass.TOTAL
    _attr_suggested_display_precision = 2

    def __init__(self, entry: EmsConfigEntry) -> None:
        """Describe the sensor (its key is its translation key)."""
        super().__init__(entry, str(self._attr_translation_key))

    @override
    async def async_added_to_hass(self) -> None:
        """Take the system currency and give the optimiser the value before the restart."""
        await super().async_added_to_hass()
        self._attr_native_unit_of_measurement = self.hass.config.currency
        last = await self.async_get_last_sensor_data()
        if last is not None and isinstance(last.native_value, int | float | Decimal):
            await self._async_restore(float(last.native_value))

    async def _async_restore(self, value: float) -> None:
        """Continue from `value`, the state before the restart."""
        raise NotImplementedError


class EstimatedSavingsSensor(SavingsSensor):
    """Money the battery saved while the optimiser ran (docs/optimiser.md says how)."""

    _attr_translation_key = "estimated_savings"

    @override
    async def _async_restore(self, value: float) -> None:
        self.optimiser.restore_savings(value)

    @property
    @override
    def native_value(self) -> float:
        """The total in the system currency, to the cent."""
        return round(self.optimiser.savings_eur, 2)


class SavingsTodaySensor(SavingsSensor):
    """Today's savings against the battery's own self-consumption mode (resets at midnight)."""

    _attr_translation_key = "savings_vs_self_consumption_today"

    @override
    async def _async_restore(self, value: float) -> None:
        """Continue today's count only after a restart on the same day."""
        state = await self.async_get_last_state()
        midnight = dt_util.start_of_local_day()
        if (
            state is not None
            and dt_util.parse_datetime(str(state.attributes.get("last_reset"))) == midnight
        ):
            savings = self.optimiser.savings_vs_self_consumption
            savings.start_day(midnight.date(), midnight)
            savings.today_eur = value

    @property
    @override
    def last_reset(self) -> datetime | None:
        """The local midnight today's count started at."""
        return self.optimiser.savings_vs_self_consumption.day_started

    @property
    @override
    def native_value(self) -> float:
        """Today's savings in the system currency, to the cent."""
        return round(self.optimiser.savings_vs_self_consumption.today_eur, 2)


class SavingsTotalSensor(SavingsSensor):
    """All savings against the battery's own self-consumption mode (restored after restarts)."""

    _attr_translation_key = "savings_vs_self_consumption_total"

    @override
    async def _async_restore(self, value: float) -> None:
        self.optimiser.savings_vs_self_consumption.total_eur = value

    @property
    @override
    def native_value(self) -> float:
        """The total in the system currency, to the cent."""
        return round(self.optimiser.savings_vs_self_consumption.total_eur, 2)


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)
