"""What the optimiser plans with: the price entities, the PV forecast and the house's load."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_ENERGY_TAX,
    CONF_EXPORT_PRICE_ENTITY,
    CONF_EXPORT_SHARE_PERCENT,
    CONF_EXPORT_USES_EFFECTIVE_PRICE,
    CONF_FEED_IN_COST,
    CONF_IMPORT_MARKUP,
    CONF_NET_METERING_UNTIL,
    CONF_PRICE_ENTITY,
    CONF_PRICES_INCLUDE_TAXES,
    CONF_PV_FORECAST_ENTITY,
    CONF_PV_FORECAST_EXTRA_ENTITIES,
    CONF_PV_FORECAST_FROM_ENERGY,
    CONF_PV_POWER_ENTITIES,
    CONF_VAT_PERCENT,
)
from ..coordinator import EmsCoordinator
from .forecast import (
    Forecast,
    ForecastStatus,
    async_energy_solar_forecasts,
    async_load_profile,
    find_load_sources,
    pv_forecast_w,
    zeros,
)
from .forecast_log import ForecastLog, Series
from .forecast_tracker import ForecastTracker, other_pv_sensors
from .load_profile import (
    SATURDAY,
    LoadProfile,
    corrected_load_w,
    load_forecast_w,
    persistent_error_w,
)
from .peak_reserve import peak_reserve_wh
from .price_slots import PriceSlot, effective_import_prices, is_stale
from .price_source import PriceEntityReader, PriceReading, PriceStatus
from .pv_correction import corrected_pv_w, pv_miss
from .tariffs import effective_export_prices

LOAD_PROFILE_MAX_AGE: Final = timedelta(hours=1)
# The measured load of this last stretch corrects the profile (forecast.corrected_load_w): two
# hours, so that an appliance running for an hour (a dryer, an oven) is not taken for a shift.
CORRECTION_LOOKBACK: Final = timedelta(hours=2)
# The PV measured in this last stretch scales the PV forecast (pv_correction.py).
PV_CORRECTION_LOOKBACK: Final = timedelta(hours=3)


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


class PlanInputs:
    """Reads the configured price entities (and follows their changes) and the forecasts."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: EmsCoordinator,
        on_price_change: Callable[[], None],
    ) -> None:
        """Read nothing yet; `watch_price_entities` subscribes to the price entities."""
        self._hass = hass
        self._coordinator = coordinator
        self._on_price_change = on_price_change
        self._readers: dict[str, PriceEntityReader] = {}
        self._unsub_prices: CALLBACK_TYPE | None = None
        self._load_profile: LoadProfile | None = None
        # When the profile was queried, and with what (PV added back, the other PV sensors).
        self._load_profile_key: tuple[datetime, bool, tuple[str, ...]] | None = None
        self._load_detail = ""
        # Configured PV power sensors outside the battery without statistics (none to add back).
        self._load_pv_unmeasured: tuple[str, ...] = ()
        self.tracker = ForecastTracker(hass, coordinator)

    @property
    def watched(self) -> set[str]:
        """The price entities followed now."""
        return set(self._readers)

    # -- prices ----------------------------------------------------------------------------

    async def async_read_prices(self, options: Mapping[str, Any], now: datetime) -> PriceState:
        """The effective import and the export prices, or why there are none."""
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
        export_slots = _export(readings[-1].slots, options)
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

    def watch_price_entities(self, options: Mapping[str, Any]) -> None:
        """Follow the configured price entities' state changes (re-subscribed on change)."""
        wanted = price_entity_ids(options)
        if wanted == set(self._readers) and (self._unsub_prices is not None or not wanted):
            return
        self.unsubscribe()
        self._readers = {
            entity_id: self._readers.get(entity_id) or PriceEntityReader(self._hass, entity_id)
            for entity_id in wanted
        }
        if wanted:
            self._unsub_prices = async_track_state_change_event(
                self._hass, sorted(wanted), self._handle_price_change
            )

    @callback
    def unsubscribe(self) -> None:
        """Stop following the price entities."""
        if self._unsub_prices is not None:
            self._unsub_prices()
            self._unsub_prices = None

    @callback
    def _handle_price_change(self, event: Event[EventStateChangedData]) -> None:
        self._on_price_change()

    # -- forecasts -------------------------------------------------------------------------

    @callback
    def start_tracking(self) -> Callable[[], Coroutine[Any, Any, None]]:
        """Read the forecast log and measure every poll (until the returned function is awaited)."""
        self._coordinator.config_entry.async_create_background_task(
            self._hass, self.tracker.async_load(), "ems forecast log"
        )
        return self.tracker.async_start()

    async def async_forecasts(
        self, options: Mapping[str, Any], starts: list[datetime]
    ) -> tuple[Forecast, Forecast]:
        """PV and load per slot, each with its source and its error; noted in the log."""
        now = dt_util.utcnow()
        log = await self.tracker.async_load()
        pv = await self._async_pv_forecast(options, starts)
        add_pv = pv.status is ForecastStatus.OK
        if add_pv:
            pv = await self._async_corrected_pv(pv, options, starts, now, log)
        pv = replace(pv, error_w=log.mean_absolute_error_w(Series.PV, now))
        other_pv = other_pv_sensors(self._hass, options[CONF_PV_POWER_ENTITIES])
        load = await self._async_load_forecast(starts, add_pv=add_pv, other_pv=other_pv, now=now)
        load = replace(load, error_w=log.mean_absolute_error_w(Series.LOAD, now))
        if starts:
            log.note_forecast(
                starts[0],
                load_w=load.values_w[0] if load.status is ForecastStatus.OK else None,
                pv_w=pv.values_w[0] if add_pv else None,
                load_includes_pv=add_pv,
            )
        return pv, load

    async def _async_pv_forecast(
        self, options: Mapping[str, Any], starts: list[datetime]
    ) -> Forecast:
        """PV per slot from the configured forecasts, added up; zero without one."""
        entity_ids = [
            entity_id
            for entity_id in dict.fromkeys(
                (options[CONF_PV_FORECAST_ENTITY], *options[CONF_PV_FORECAST_EXTRA_ENTITIES])
            )
            if entity_id
        ]
        names: list[str] = []
        attribute_sets: list[Mapping[str, Any] | None] = []
        for entity_id in entity_ids:
            state = self._hass.states.get(entity_id)
            names.append(entity_id)
            attribute_sets.append(None if state is None else state.attributes)
        if options[CONF_PV_FORECAST_FROM_ENERGY]:
            for title, attributes in await async_energy_solar_forecasts(self._hass):
                names.append(f"Energy dashboard: {title}")
                attribute_sets.append(attributes)
            if not attribute_sets:
                detail = "the Energy dashboard has no solar forecast"
                return zeros(len(starts), ForecastStatus.NO_DATA, detail)
        if not attribute_sets:
            return zeros(len(starts), ForecastStatus.NOT_CONFIGURED, "no PV forecast entity")
        forecast = pv_forecast_w(attribute_sets, starts, dt_util.get_default_time_zone())
        return replace(forecast, source=" + ".join(names))

    async def _async_corrected_pv(
        self,
        pv: Forecast,
        options: Mapping[str, Any],
        starts: list[datetime],
        now: datetime,
        log: ForecastLog,
    ) -> Forecast:
        """The PV forecast scaled by how the last 3 hours' measured PV (in `log`) compared."""
        measured = log.recent_pv_w(now, lookback=PV_CORRECTION_LOOKBACK)
        if not measured:
            return pv
        recent_starts = sorted(measured)
        published = await self._async_pv_forecast(options, recent_starts)
        if published.status is not ForecastStatus.OK:
            return pv
        # A forecast that no longer lists the past quarters says nothing of them.
        covered = published.covered or (True,) * len(recent_starts)
        miss = pv_miss(
            measured,
            {
                start: forecast_w
                for start, forecast_w, known in zip(
                    recent_starts, published.values_w, covered, strict=True
                )
                if known
            },
            now,
        )
        if miss is None or round(miss.ratio, 2) == 1:
            return pv
        values = corrected_pv_w(pv.values_w, starts, now=now, ratio=miss.ratio, decay=miss.decay)
        hours = "each of the last 3 hours" if miss.persistent else "the last 3 hours"
        source = f"{pv.source}, scaled by {miss.ratio:.2f} as measured in {hours}"
        return replace(pv, values_w=values, source=source)

    async def _async_load_forecast(
        self, starts: list[datetime], *, add_pv: bool, other_pv: tuple[str, ...], now: datetime
    ) -> Forecast:
        """The load per slot from the recorder's last 7 days, corrected by the last 2 hours."""
        key = self._load_profile_key
        if key is None or key[1:] != (add_pv, other_pv) or now - key[0] > LOAD_PROFILE_MAX_AGE:
            self._load_profile_key = (now, add_pv, other_pv)
            (
                self._load_profile,
                self._load_detail,
                self._load_pv_unmeasured,
            ) = await self._async_query_load(now, add_pv, other_pv)
        profile = self._load_profile
        if profile is None:
            return zeros(len(starts), ForecastStatus.NO_DATA, self._load_detail)
        tz = dt_util.get_default_time_zone()
        log = await self.tracker.async_load()
        recent = log.recent_load_w(now, includes_pv=add_pv, lookback=CORRECTION_LOOKBACK)
        error_w = persistent_error_w(
            [load_w - profile.at(start, tz) for start, load_w in recent.items()]
        )
        source = "recorder statistics of 7 days, working days and weekends apart"
        if error_w is not None:
            source += f", corrected by {error_w:+.0f} W measured in the last 2 hours"
        if self._load_pv_unmeasured:
            unmeasured = ", ".join(self._load_pv_unmeasured)
            source += f"; no statistics of {unmeasured}, its PV not added back"
        values = corrected_load_w(
            load_forecast_w(profile, starts, tz), starts, now=now, recent_error_w=error_w
        )
        return Forecast(values, ForecastStatus.OK, self._load_detail, source)

    def peak_reserve_wh(
        self,
        starts: list[datetime],
        *,
        peak_limit_w: float,
        max_discharge_w: float,
        discharge_efficiency: float,
    ) -> tuple[float, ...]:
        """Per slot, the stored energy the worst recent day needed from it on for its peaks."""
        profile = self._load_profile
        if profile is None:
            return tuple(0.0 for _ in starts)
        tz = dt_util.get_default_time_zone()
        reserve: dict[tuple[int, bool], float] = {}
        values = []
        for start in starts:
            local = start.astimezone(tz)
            key = ((local.hour * 60 + local.minute) // 15, local.weekday() >= SATURDAY)
            if key not in reserve:
                reserve[key] = peak_reserve_wh(
                    profile.days_like(start, tz),
                    key[0],
                    peak_limit_w=peak_limit_w,
                    max_discharge_w=max_discharge_w,
                    discharge_efficiency=discharge_efficiency,
                )
            values.append(reserve[key])
        return tuple(values)

    async def _async_query_load(
        self, now: datetime, add_pv: bool, other_pv: tuple[str, ...]
    ) -> tuple[LoadProfile | None, str, tuple[str, ...]]:
        """The profile, or why there is none; and the PV sensors without statistics."""
        if "recorder" not in self._hass.config.components:
            return None, "the recorder is not running", ()
        coordinator = self._coordinator
        sources = find_load_sources(
            self._hass, coordinator.p1_serial, coordinator.battery_serial, other_pv
        )
        if sources is None:
            return None, "the grid power sensor is not registered", ()
        try:
            profile, missing = await async_load_profile(
                self._hass, sources, add_pv=add_pv, now=now, other_pv_power=other_pv
            )
        except HomeAssistantError as err:
            return None, f"recorder statistics unavailable: {err}", ()
        if profile is None:
            return None, f"no statistics of {sources.grid_power} yet", ()
        return profile, f"7-day statistics of {sources.grid_power}", missing


def price_entity_ids(options: Mapping[str, Any]) -> set[str]:
    """The configured import and export price entities."""
    return {
        entity_id
        for entity_id in (options[CONF_PRICE_ENTITY], options[CONF_EXPORT_PRICE_ENTITY])
        if entity_id
    }


def _effective(slots: tuple[PriceSlot, ...], options: Mapping[str, Any]) -> tuple[PriceSlot, ...]:
    return effective_import_prices(
        slots,
        markup_eur_per_kwh=float(options[CONF_IMPORT_MARKUP]),
        energy_tax_eur_per_kwh=float(options[CONF_ENERGY_TAX]),
        vat_percent=float(options[CONF_VAT_PERCENT]),
        includes_taxes=bool(options[CONF_PRICES_INCLUDE_TAXES]),
    )


def _export(slots: tuple[PriceSlot, ...], options: Mapping[str, Any]) -> tuple[PriceSlot, ...]:
    until = options[CONF_NET_METERING_UNTIL]
    return effective_export_prices(
        slots,
        _effective(slots, options),
        net_metering=bool(options[CONF_EXPORT_USES_EFFECTIVE_PRICE]),
        net_metering_until=None if until is None else dt_util.parse_date(until),
        share_percent=float(options[CONF_EXPORT_SHARE_PERCENT]),
        feed_in_cost_eur_per_kwh=float(options[CONF_FEED_IN_COST]),
        tz=dt_util.get_default_time_zone(),
    )


def export_price_formula(options: Mapping[str, Any]) -> str:
    """What an exported kWh earns, in words (the plan sensor's `export_price` attribute)."""
    share = float(options[CONF_EXPORT_SHARE_PERCENT])
    shared = "as published" if share == 100 else f"{share:g} % of the price"
    until = options[CONF_NET_METERING_UNTIL]
    if not options[CONF_EXPORT_USES_EFFECTIVE_PRICE]:
        formula = shared
    elif until is None:
        formula = "effective"
    else:
        formula = f"effective until {until}, then {shared}"
    cost = float(options[CONF_FEED_IN_COST])
    return formula if cost == 0 else f"{formula}, minus {cost:g} EUR/kWh feed-in cost"
