"""How wrong the forecasts were: per quarter, what was forecast and what was measured. Pure.

Each quarter keeps the first forecast made for it (the one the plan started the quarter with)
and the mean of the load and PV measured during it. The log keeps 7 days; a quarter counts in
the error once it is over and has both a forecast and a measurement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
import math
from typing import Any, Final

from .price_slots import quarter_start

KEPT: Final = timedelta(days=7)


class Series(StrEnum):
    """A forecast series the log keeps the error of."""

    LOAD = "load"
    PV = "pv"


@dataclass(slots=True)
class QuarterRecord:
    """One quarter: its forecasts (None: none made) and the sums of its measurements."""

    load_forecast_w: float | None = None
    pv_forecast_w: float | None = None
    # With a PV forecast the load forecast is the gross load (PV added back), else the net.
    load_includes_pv: bool = False
    net_load_sum_w: float = 0.0
    pv_sum_w: float = 0.0
    samples: int = 0
    # The feed-in limit held the Indevolt's PV back: its measured PV is not what the sun gave.
    pv_held_back: bool = False

    def actual_w(self, series: Series) -> float | None:
        """The measured mean of `series`, in the load forecast's own terms; None unmeasured."""
        if self.samples == 0:
            return None
        pv_w = self.pv_sum_w / self.samples
        if series is Series.PV:
            return None if self.pv_held_back else pv_w
        return self.net_load_sum_w / self.samples + (pv_w if self.load_includes_pv else 0.0)

    def forecast_w(self, series: Series) -> float | None:
        """The forecast of `series` for this quarter."""
        return self.load_forecast_w if series is Series.LOAD else self.pv_forecast_w


class ForecastLog:
    """Forecasts against measurements, per quarter, for the last 7 days."""

    def __init__(self, records: Mapping[datetime, QuarterRecord] | None = None) -> None:
        """Start from stored records (or empty)."""
        self._records: dict[datetime, QuarterRecord] = dict(records or {})

    def note_forecast(
        self,
        start: datetime,
        *,
        load_w: float | None,
        pv_w: float | None,
        load_includes_pv: bool,
    ) -> None:
        """Keep the forecasts for the quarter starting at `start`, unless it already has them."""
        record = self._records.setdefault(quarter_start(start), QuarterRecord())
        if record.load_forecast_w is None and record.pv_forecast_w is None:
            record.load_forecast_w = load_w
            record.pv_forecast_w = pv_w
            record.load_includes_pv = load_includes_pv

    def add_sample(self, now: datetime, *, net_load_w: float, pv_w: float) -> bool:
        """Add one measurement; True when it is the first of a new quarter (worth saving)."""
        record = self._records.setdefault(quarter_start(now), QuarterRecord())
        is_new = record.samples == 0
        record.net_load_sum_w += net_load_w
        record.pv_sum_w += pv_w
        record.samples += 1
        if is_new:
            self._prune(now)
        return is_new

    def note_pv_held_back(self, now: datetime) -> None:
        """The feed-in limit holds PV back during the quarter of `now` (its PV is no measure)."""
        self._records.setdefault(quarter_start(now), QuarterRecord()).pv_held_back = True

    def mean_absolute_error_w(self, series: Series, now: datetime) -> float | None:
        """Mean |forecast - measured| per finished quarter of the last 7 days; None without."""
        current = quarter_start(now)
        errors = [
            abs(forecast_w - actual_w)
            for start, record in self._records.items()
            if now - KEPT <= start < current
            and (forecast_w := record.forecast_w(series)) is not None
            and (actual_w := record.actual_w(series)) is not None
        ]
        return math.fsum(errors) / len(errors) if errors else None

    def recent_load_w(
        self, now: datetime, *, includes_pv: bool, lookback: timedelta
    ) -> dict[datetime, float]:
        """The measured load of the finished quarters within `lookback`, by quarter start."""
        current = quarter_start(now)
        recent: dict[datetime, float] = {}
        for start, record in self._records.items():
            if current - lookback <= start < current and record.samples:
                pv_w = record.pv_sum_w / record.samples if includes_pv else 0.0
                recent[start] = record.net_load_sum_w / record.samples + pv_w
        return recent

    def recent_pv_w(self, now: datetime, *, lookback: timedelta) -> dict[datetime, float]:
        """The measured PV of the finished quarters within `lookback`, by quarter start."""
        current = quarter_start(now)
        return {
            start: pv_w
            for start, record in self._records.items()
            if current - lookback <= start < current
            and (pv_w := record.actual_w(Series.PV)) is not None
        }

    def _prune(self, now: datetime) -> None:
        oldest = quarter_start(now) - KEPT
        for start in [start for start in self._records if start < oldest]:
            del self._records[start]

    def as_dict(self) -> dict[str, Any]:
        """The log as JSON-able data (for a Store)."""
        return {
            "quarters": {
                start.isoformat(): asdict(record) for start, record in self._records.items()
            }
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ForecastLog:
        """A log from `as_dict` data; whatever cannot be read is left out."""
        records: dict[datetime, QuarterRecord] = {}
        quarters = data.get("quarters") if isinstance(data, Mapping) else None
        for key, fields in (quarters if isinstance(quarters, Mapping) else {}).items():
            try:
                start = datetime.fromisoformat(key)
                records[start] = QuarterRecord(**fields)
            except TypeError, ValueError:
                continue
            if start.tzinfo is None or start != quarter_start(start):
                del records[start]
        return cls(records)
