"""The PV forecast corrected within the day by how far the last hours' PV was from it. Pure.

A forecast that missed the last hours' PV by a factor (haze or fog where sun was forecast, a
clear sky after a cloudy forecast) tends to miss the next hours by much the same factor: the
ratio of the measured PV of the last finished quarters to what the forecast (as published,
uncorrected) said for them scales the forecast, fully in the current quarter and fading over
the next hours. Passing clouds are not worth following: the ratio is taken over three hours,
and the forecast keeps a credit that only a lot of measured PV outweighs. A miss that every one
of those hours shares (a day's haze, fog or overcast the forecast did not see) is the day's
weather, not a cloud: it fades over the rest of the day instead of the next three hours. Only
a duller day is carried so: overestimating PV costs more than underestimating it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import math
from typing import Final

from .price_slots import SLOT, quarter_start

# How fast the correction fades: a day's haze or fog lasts hours, a passing cloud does not count
# much in three hours' ratio.
CORRECTION_DECAY: Final = timedelta(hours=3)
# The forecast's own credit, as if it had been right for this much PV already (the sum of
# quarter means, 4000 W-quarters: 1 kWh): a dull hour at dawn or one passing cloud moves the
# ratio little, a morning of haze moves it most of the way.
FORECAST_CREDIT_W: Final = 4000.0
# However sunny the last hours, the forecast is at most doubled.
MAX_RATIO: Final = 2.0
# A dull day is the day's weather when each of the last hours was at least this share below
# the forecast, each hour with a third of the forecast's credit; it then fades this slowly: by
# less than a fifth over the rest of a day. (Over 12 hours, the hazy day's plan at 13:00 expected
# a third of the sun the morning had missed back by the evening, and bought too little at noon.)
PERSISTENT_HOURS: Final = 3
PERSISTENT_MISS: Final = 0.1
PERSISTENT_DECAY: Final = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class PvMiss:
    """How far the last hours' measured PV was from the forecast, and how long that lasts."""

    ratio: float
    persistent: bool

    @property
    def decay(self) -> timedelta:
        """How fast the correction fades."""
        return PERSISTENT_DECAY if self.persistent else CORRECTION_DECAY


def pv_miss(
    measured_w: Mapping[datetime, float],
    published_w: Mapping[datetime, float],
    now: datetime,
) -> PvMiss | None:
    """The miss of the finished quarters in both maps (by quarter start), None without any.

    `published_w` is the forecast as published for those quarters (only the quarters it still
    lists: one that dropped the past says nothing of it). The quarters are grouped into the
    hours before the current quarter, the last first.
    """
    hours: list[list[tuple[float, float]]] = [[] for _ in range(PERSISTENT_HOURS)]
    current = quarter_start(now)
    # The quarter under way is not finished: it says nothing yet.
    for start in sorted(
        start for start in measured_w.keys() & published_w.keys() if start < current
    ):
        hour = min((current - start - SLOT) // timedelta(hours=1), PERSISTENT_HOURS - 1)
        hours[hour].append((published_w[start], measured_w[start]))
    ratio = pv_ratio([quarter for hour in hours for quarter in hour])
    return None if ratio is None else PvMiss(ratio, is_persistent(hours, ratio))


def pv_ratio(recent: Sequence[tuple[float, float]]) -> float | None:
    """Measured over forecast PV of recent quarters ((forecast_w, measured_w) each).

    Both sums get the forecast's credit; None without recent quarters.
    """
    if not recent:
        return None
    forecast_w = math.fsum(forecast for forecast, _ in recent) + FORECAST_CREDIT_W
    measured_w = math.fsum(measured for _, measured in recent) + FORECAST_CREDIT_W
    return min(measured_w / forecast_w, MAX_RATIO)


def is_persistent(hours: Sequence[Sequence[tuple[float, float]]], ratio: float) -> bool:
    """Whether each of the last hours (their quarters' (forecast_w, measured_w)) was as dull.

    Every one of `PERSISTENT_HOURS` hours must have PV quarters and a ratio (with a third of
    the credit, so a dim hour at dawn stays near 1) at least `PERSISTENT_MISS` below 1. Only a
    dull day is carried: counting on sun that then does not come costs the evening's import
    price, while expecting too little costs only the midday energy bought that the sun would
    have given; a brighter day than forecast fades over the next hours as before.
    """
    if ratio >= 1 or len(hours) < PERSISTENT_HOURS or not all(hours):
        return False
    credit_w = FORECAST_CREDIT_W / PERSISTENT_HOURS
    for hour in hours:
        forecast_w = math.fsum(forecast for forecast, _ in hour) + credit_w
        measured_w = math.fsum(measured for _, measured in hour) + credit_w
        if measured_w / forecast_w > 1 - PERSISTENT_MISS:
            return False
    return True


def corrected_pv_w(
    forecast_w: Sequence[float],
    slot_starts: Sequence[datetime],
    *,
    now: datetime,
    ratio: float | None,
    decay: timedelta = CORRECTION_DECAY,
) -> tuple[float, ...]:
    """The forecast scaled by `ratio`, fully in the current quarter, fading over `decay`."""
    if ratio is None:
        return tuple(forecast_w)
    corrected = []
    for value_w, start in zip(forecast_w, slot_starts, strict=True):
        weight = math.exp(-(max(start - now, timedelta(0)) / decay))
        corrected.append(value_w * (1 + (ratio - 1) * weight))
    return tuple(corrected)
