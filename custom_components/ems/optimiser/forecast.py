"""PV and load forecasts for the planner, per 15-minute slot; zero with a status when unknown.

- PV: the attributes of one or more forecast entities, added up per slot (Solcast's today and
  tomorrow entities cover different days; two arrays' forecasts add). Solcast (HACS) gives
  `detailedForecast` / `detailedHourly` lists of `{"period_start", "pv_estimate"}` in kW;
  Forecast.Solar-style sensors (Open-Meteo Solar Forecast and templates over the Forecast.Solar
  API) give `watts` (`{time: W}`) or `wh_period` (`{time: Wh}`). The Energy dashboard's solar
  forecasts (Forecast.Solar's energy platform) give `wh_hours` (`{period start: Wh}`). Each
  value holds until the next time (at most an hour).
- Load: the mean, per local quarter of the day and separately for working days and weekends, of
  the last 7 days of the recorder's 5-minute statistics of the P1 grid power plus the battery's
  discharge power (so the battery's own effect is taken out). Without a PV forecast that is the
  net load (PV already subtracted, as on a typical day); with one, the measured PV input power
  is added back so PV is not counted twice. Within the day the profile is corrected by how far
  the measured load of the last hour was from it, a correction that fades over the next hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from itertools import pairwise
import math
from typing import Any, Final

from homeassistant.components.energy.data import async_get_manager
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.loader import IntegrationNotFound, async_get_integration
from homeassistant.util import dt as dt_util

from ..const import DOMAIN

QUARTERS_PER_DAY: Final = 96
HISTORY: Final = timedelta(days=7)
# A point without a following one (the last of a list) lasts this long at most.
MAX_POINT_DURATION: Final = timedelta(hours=1)
SATURDAY: Final = 5
# How fast the within-day correction of the load profile fades (module docstring).
CORRECTION_DECAY: Final = timedelta(hours=2)


class ForecastStatus(StrEnum):
    """Where a forecast series came from."""

    OK = "ok"
    NOT_CONFIGURED = "not_configured"
    UNAVAILABLE = "unavailable"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Forecast:
    """Average watts per slot, and how they were obtained (zeros unless OK).

    `source` names what the values came from; `error_w` is the forecast's mean absolute error
    per quarter over the last 7 days (None before any quarter was measured).
    """

    values_w: tuple[float, ...]
    status: ForecastStatus
    detail: str = ""
    source: str = ""
    error_w: float | None = None


def zeros(count: int, status: ForecastStatus, detail: str) -> Forecast:
    """An all-zero forecast with the reason."""
    return Forecast((0.0,) * count, status, detail)


# -- PV -------------------------------------------------------------------------------------


def _read_time(value: object, default_tz: tzinfo) -> datetime | None:
    if isinstance(value, str):
        value = dt_util.parse_datetime(value.strip().replace(" ", "T", 1))
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    return value.astimezone(UTC)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _pv_points(
    attributes: Mapping[str, Any], default_tz: tzinfo
) -> list[tuple[datetime, float | None, float]]:
    """(start, energy_wh or None, power_w) points from any known attribute shape."""
    points: list[tuple[datetime, float | None, float]] = []
    for key in ("detailedForecast", "detailedHourly"):
        items = attributes.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, Mapping):
                continue
            start = _read_time(item.get("period_start"), default_tz)
            power_kw = _number(item.get("pv_estimate"))
            if start is not None and power_kw is not None:
                points.append((start, None, power_kw * 1000))
        if points:
            return points  # detailedForecast is the finer of the two
    for key, is_energy in (("watts", False), ("wh_period", True)):
        mapping = attributes.get(key)
        if not isinstance(mapping, Mapping):
            continue
        for raw_time, raw_value in mapping.items():
            start = _read_time(raw_time, default_tz)
            value = _number(raw_value)
            if start is not None and value is not None:
                points.append((start, value if is_energy else None, value))
        if points:
            return points
    return points


def _pv_per_slot(
    attributes: Mapping[str, Any], slot_starts: Sequence[datetime], default_tz: tzinfo
) -> list[float | None]:
    """Average PV power per slot from one attribute set; None where it has no value."""
    points = sorted(_pv_points(attributes, default_tz), key=lambda point: point[0])
    if not points:
        return [None] * len(slot_starts)
    spans: list[timedelta] = [
        min(later[0] - earlier[0], MAX_POINT_DURATION) for earlier, later in pairwise(points)
    ]
    spans.append(spans[-1] if spans else MAX_POINT_DURATION)
    intervals = []
    for (start, energy_wh, point_w), span in zip(points, spans, strict=True):
        average_w = point_w
        if energy_wh is not None and span > timedelta(0):
            average_w = energy_wh / (span.total_seconds() / 3600)
        intervals.append((start, start + span, max(average_w, 0.0)))
    values: list[float | None] = []
    index = 0
    for slot_start in slot_starts:
        moment = slot_start.astimezone(UTC)
        while index + 1 < len(intervals) and intervals[index + 1][0] <= moment:
            index += 1
        start, end, power_w = intervals[index]
        values.append(power_w if start <= moment < end else None)
    return values


def pv_forecast_w(
    attribute_sets: Sequence[Mapping[str, Any] | None],
    slot_starts: Sequence[datetime],
    default_tz: tzinfo,
) -> Forecast:
    """Average PV power per slot, added up over the forecasts (None: the entity is missing)."""
    count = len(slot_starts)
    present = [attributes for attributes in attribute_sets if attributes is not None]
    if not present:
        return zeros(count, ForecastStatus.UNAVAILABLE, "the PV forecast entity does not exist")
    per_set = [_pv_per_slot(attributes, slot_starts, default_tz) for attributes in present]
    if all(value is None for values in per_set for value in values):
        readable = any(_pv_points(attributes, default_tz) for attributes in present)
        detail = "the PV forecast does not cover the plan" if readable else ""
        return zeros(count, ForecastStatus.NO_DATA, detail or "no PV forecast attributes found")
    values = []
    covered = 0
    for slot_values in zip(*per_set, strict=True):
        known = [value for value in slot_values if value is not None]
        covered += bool(known)
        values.append(math.fsum(known))
    detail = "" if covered == count else f"covers {covered} of {count} slots; zero elsewhere"
    return Forecast(tuple(values), ForecastStatus.OK, detail)


# -- load -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadSources:
    """Statistic ids (entity ids) of the sensors the load estimate is made of."""

    grid_power: str
    # Positive while discharging (the ems battery power sensor's convention).
    battery_discharge_power: str | None = None
    pv_power: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """The mean load per local quarter of the day, for working days and for weekends.

    `workday_days_w` / `weekend_days_w`: each recent day's own load net of PV per quarter (what
    the grid would have seen without the battery), for the peak reserve (`peak_reserve.py`).
    """

    workday_w: tuple[float, ...]
    weekend_w: tuple[float, ...]
    workday_days_w: tuple[tuple[float, ...], ...] = ()
    weekend_days_w: tuple[tuple[float, ...], ...] = ()

    def days_like(self, moment: datetime, tz: tzinfo) -> tuple[tuple[float, ...], ...]:
        """The recent days of `moment`'s kind (all recent days when there is none of its kind)."""
        weekend = _is_weekend(moment.astimezone(tz))
        same = self.weekend_days_w if weekend else self.workday_days_w
        return same or (self.workday_days_w + self.weekend_days_w)

    def at(self, moment: datetime, tz: tzinfo) -> float:
        """The profile's value for `moment`'s local quarter of the day and kind of day."""
        local = moment.astimezone(tz)
        profile = self.weekend_w if _is_weekend(local) else self.workday_w
        return profile[(local.hour * 60 + local.minute) // 15]


def _is_weekend(local: datetime) -> bool:
    return local.weekday() >= SATURDAY


def load_profile_w(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    sources: LoadSources,
    *,
    add_pv: bool,
    tz: tzinfo,
) -> LoadProfile | None:
    """The mean load per local quarter, for working days and weekends; None without data.

    Rows are the recorder's (`start` as a UNIX timestamp, `mean` in W). A quarter without data
    for its kind of day takes the other kind's mean for that quarter, else the mean of all data.
    """

    def by_start(statistic_id: str | None) -> dict[float, float]:
        if statistic_id is None:
            return {}
        return {
            float(row["start"]): float(row["mean"])
            for row in rows.get(statistic_id, ())
            if isinstance(row.get("mean"), int | float)
            and isinstance(row.get("start"), int | float)
        }

    grid = by_start(sources.grid_power)
    if not grid:
        return None
    battery = by_start(sources.battery_discharge_power)
    pv = [by_start(statistic_id) for statistic_id in sources.pv_power] if add_pv else []
    buckets: defaultdict[tuple[bool, int], list[float]] = defaultdict(list)
    days: defaultdict[date, defaultdict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for start, grid_w in grid.items():
        net_w = grid_w + battery.get(start, 0.0)
        load_w = net_w + sum(series.get(start, 0.0) for series in pv)
        local = datetime.fromtimestamp(start, tz)
        quarter = (local.hour * 60 + local.minute) // 15
        buckets[_is_weekend(local), quarter].append(load_w)
        days[local.date()][quarter].append(net_w)
    mean_all = math.fsum(grid_w for values in buckets.values() for grid_w in values) / sum(
        len(values) for values in buckets.values()
    )

    def mean(weekend: bool, quarter: int) -> float:
        values = buckets.get((weekend, quarter)) or buckets.get((not weekend, quarter))
        return max(math.fsum(values) / len(values) if values else mean_all, 0.0)

    def day_w(quarters: Mapping[int, list[float]]) -> tuple[float, ...]:
        # A quarter the recorder missed (HA stopped) counts as no peak that day.
        return tuple(
            math.fsum(quarters[q]) / len(quarters[q]) if q in quarters else 0.0
            for q in range(QUARTERS_PER_DAY)
        )

    by_kind: dict[bool, list[tuple[float, ...]]] = {False: [], True: []}
    for day in sorted(days):
        by_kind[day.weekday() >= SATURDAY].append(day_w(days[day]))
    return LoadProfile(
        tuple(mean(False, quarter) for quarter in range(QUARTERS_PER_DAY)),
        tuple(mean(True, quarter) for quarter in range(QUARTERS_PER_DAY)),
        tuple(by_kind[False]),
        tuple(by_kind[True]),
    )


def load_forecast_w(
    profile: LoadProfile, slot_starts: Sequence[datetime], tz: tzinfo
) -> tuple[float, ...]:
    """The profile's value for the local quarter of the day (and kind of day) of each slot."""
    return tuple(profile.at(start, tz) for start in slot_starts)


def persistent_error_w(errors_w: Sequence[float]) -> float | None:
    """The part of the recent forecast errors that every quarter shares, None without any.

    A kettle or a car charging for one quarter is no reason to expect more load for hours: only
    a shift seen in every recent quarter, in the same direction, counts, and only by the
    smallest of them. Mixed signs give 0.
    """
    if not errors_w:
        return None
    if all(error > 0 for error in errors_w):
        return min(errors_w)
    if all(error < 0 for error in errors_w):
        return max(errors_w)
    return 0.0


def corrected_load_w(
    forecast_w: Sequence[float],
    slot_starts: Sequence[datetime],
    *,
    now: datetime,
    recent_error_w: float | None,
) -> tuple[float, ...]:
    """The forecast plus the recent error (measured - profile), fading over the next hours.

    The house's load now tells more about the next hour than about tonight: the correction has
    full weight in the current quarter and decays by e every CORRECTION_DECAY after it.
    """
    if recent_error_w is None:
        return tuple(forecast_w)
    corrected = []
    for value_w, start in zip(forecast_w, slot_starts, strict=True):
        ahead = max(start - now, timedelta(0))
        weight = math.exp(-(ahead / CORRECTION_DECAY))
        corrected.append(max(value_w + recent_error_w * weight, 0.0))
    return tuple(corrected)


def find_load_sources(
    hass: HomeAssistant, p1_serial: str, battery_serial: str
) -> LoadSources | None:
    """The entity ids of this entry's grid, battery and PV power sensors; None without grid."""
    registry = er.async_get(hass)

    def entity_id(unique_id: str) -> str | None:
        return registry.async_get_entity_id("sensor", DOMAIN, unique_id)

    grid = entity_id(f"{p1_serial}_active_power_w")
    if grid is None:
        return None
    pv = tuple(
        found
        for register in (1664, 1665)
        if (found := entity_id(f"{battery_serial}_{register}")) is not None
    )
    return LoadSources(grid, entity_id(f"{battery_serial}_battery_power"), pv)


async def async_load_profile(
    hass: HomeAssistant, sources: LoadSources, *, add_pv: bool, now: datetime
) -> LoadProfile | None:
    """Query the last 7 days of 5-minute statistics (in the recorder's executor)."""
    ids = {sources.grid_power, *sources.pv_power}
    if sources.battery_discharge_power is not None:
        ids.add(sources.battery_discharge_power)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        now - HISTORY,
        now,
        ids,
        "5minute",
        {"power": "W"},
        {"mean"},
    )
    return load_profile_w(rows, sources, add_pv=add_pv, tz=dt_util.get_default_time_zone())


async def async_energy_solar_forecasts(
    hass: HomeAssistant,
) -> list[tuple[str, Mapping[str, Any]]]:
    """The Energy dashboard's solar forecasts: (entry title, attributes `pv_forecast_w` reads).

    The dashboard's preferences name the config entries (Forecast.Solar and other integrations
    with an energy platform) whose `async_get_solar_forecast` gives `wh_hours`.
    """
    preferences = (await async_get_manager(hass)).data
    if preferences is None:
        return []
    entry_ids = dict.fromkeys(
        entry_id
        for source in preferences["energy_sources"]
        if source["type"] == "solar"
        for entry_id in source.get("config_entry_solar_forecast") or ()
    )
    forecasts: list[tuple[str, Mapping[str, Any]]] = []
    for entry_id in entry_ids:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None:
            continue
        try:
            integration = await async_get_integration(hass, entry.domain)
            platform = await integration.async_get_platform("energy")
        except IntegrationNotFound, ImportError:
            continue
        get_forecast = getattr(platform, "async_get_solar_forecast", None)
        if get_forecast is None:
            continue
        forecast = await get_forecast(hass, entry_id)
        if forecast is not None:
            forecasts.append((entry.title, {"wh_period": forecast.get("wh_hours", {})}))
    return forecasts
