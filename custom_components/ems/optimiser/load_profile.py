"""The load the planner expects per 15-minute slot, from the recorder's last 7 days. Pure logic.

The mean, per local quarter of the day and separately for working days and weekends, of the
last 7 days of the recorder's 5-minute statistics of the P1 grid power plus the battery's
discharge power (so the battery's own effect is taken out). Without a PV forecast that is the
net load (PV already subtracted, as on a typical day); with one, the measured PV input power is
added back so PV is not counted twice. Within the day the profile is corrected by how far the
measured load of the last 2 hours was from it, a correction that fades over the next hours. Each
recent day's own net load is kept too, for the peak reserve (`peak_reserve.py`). The recorder
query itself is in `forecast.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
import math
from typing import Any, Final

QUARTERS_PER_DAY: Final = 96
SATURDAY: Final = 5
# How fast the within-day correction of the load profile fades (module docstring).
CORRECTION_DECAY: Final = timedelta(hours=2)


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
