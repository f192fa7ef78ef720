"""PV and load forecasts for the planner, per 15-minute slot; zero with a status when unknown.

- PV: the attributes of one or more forecast entities, added up per slot (Solcast's today and
  tomorrow entities cover different days; two arrays' forecasts add). Solcast (HACS) gives
  `detailedForecast` / `detailedHourly` lists of `{"period_start", "pv_estimate"}` in kW;
  Forecast.Solar-style sensors (Open-Meteo Solar Forecast and templates over the Forecast.Solar
  API) give `watts` (`{time: W}`) or `wh_period` (`{time: Wh}`). The Energy dashboard's solar
  forecasts (Forecast.Solar's energy platform) give `wh_hours` (`{period start: Wh}`). Each
  value holds until the next time (at most an hour).
- Load: the recorder's last 7 days of 5-minute statistics, queried here and turned into a
  profile by `load_profile.py` (pure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
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
from .load_profile import LoadProfile, LoadSources, load_profile_w

HISTORY: Final = timedelta(days=7)
# A point without a following one (the last of a list) lasts this long at most.
MAX_POINT_DURATION: Final = timedelta(hours=1)


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
    per quarter over the last 7 days (None before any quarter was measured). `covered` says
    per slot whether a source had a value for it (empty: all, or none when not OK).
    """

    values_w: tuple[float, ...]
    status: ForecastStatus
    detail: str = ""
    source: str = ""
    error_w: float | None = None
    covered: tuple[bool, ...] = ()


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
    covered: list[bool] = []
    for slot_values in zip(*per_set, strict=True):
        known = [value for value in slot_values if value is not None]
        covered.append(bool(known))
        values.append(math.fsum(known))
    if all(covered):
        return Forecast(tuple(values), ForecastStatus.OK)
    detail = f"covers {sum(covered)} of {count} slots; zero elsewhere"
    return Forecast(tuple(values), ForecastStatus.OK, detail, covered=tuple(covered))


# -- load -----------------------------------------------------------------------------------


def find_load_sources(
    hass: HomeAssistant,
    p1_serial: str,
    battery_serial: str,
    other_pv_power: Sequence[str] = (),
) -> LoadSources | None:
    """The entity ids of this entry's grid, battery and PV power sensors; None without grid.

    `other_pv_power`: the configured power sensors of PV the Indevolt does not measure
    (`forecast_tracker.other_pv_sensors`: none of the Indevolt's own).
    """
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
    return LoadSources(grid, entity_id(f"{battery_serial}_battery_power"), (*pv, *other_pv_power))


async def async_load_profile(
    hass: HomeAssistant,
    sources: LoadSources,
    *,
    add_pv: bool,
    now: datetime,
    other_pv_power: Sequence[str] = (),
) -> tuple[LoadProfile | None, tuple[str, ...]]:
    """Query the last 7 days of 5-minute statistics (in the recorder's executor).

    Also says which of `other_pv_power` (the configured PV power sensors outside the battery)
    had no statistics (a sensor without a state class has none): with a PV forecast their PV
    stays in the load as less load.
    """
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
    missing = tuple(pv for pv in other_pv_power if not rows.get(pv)) if add_pv else ()
    profile = load_profile_w(rows, sources, add_pv=add_pv, tz=dt_util.get_default_time_zone())
    return profile, missing


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
