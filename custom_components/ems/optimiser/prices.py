"""Parse day-ahead electricity prices from any common Home Assistant price source.

Pure logic, no I/O. The integration reads a price entity's state attributes or an action's
response and hands it here; the result is one sorted series of 15-minute slots in UTC, with
prices in currency per kWh (EUR for the markets this integration serves; another currency passes
through unconverted). Price data comes from third-party integrations that change their shapes
between releases, so nothing here raises on malformed data: every entry that cannot be read is
skipped and the reason recorded for diagnostics.

Shapes recognised from their keys (or named with `source_hint`):
- Nord Pool (core) action `nordpool.get_prices_for_date`: `{"<AREA>": [{"start", "end",
  "price"}]}`, currency per MWh.
- Nord Pool (HACS) attributes `raw_today` / `raw_tomorrow`: `{"start", "end", "value"}` in the
  sensor's unit (`unit_of_measurement`, or `price_in_cents` and `unit`).
- ENTSO-E (HACS) attributes `prices_today` / `prices_tomorrow` / `prices`: `{"time", "price"}`.
- EnergyZero action `energyzero.get_energy_prices`: `{"prices": [{"timestamp", "price"}]}`.
- Tibber action `tibber.get_prices`: `{"prices": {"<home>": [{"start_time", "price"}]}}`.
- Frank Energie (HACS) attribute `prices`: `{"from", "till", "price"}`.
- Zonneplan (HACS) attribute `forecast`: `{"datetime", "electricityPrice"}`, in 1e-7 EUR/kWh.
- Anything else: a list of mappings with a start key (start, from, time, timestamp, start_time,
  datetime) and a price key (price, value, electricityPrice), in `default_unit`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from itertools import pairwise
import math
from typing import Any, Final, NamedTuple

from .price_slots import SLOT, PriceSlot, quarter_start

# Day-ahead markets price hourly at most; a longer entry is a sentinel or garbage, not a price.
MAX_ENTRY_DURATION: Final = timedelta(hours=1)
# Sources mark "no price" with epoch or far-future dates; real prices lie inside this window.
EARLIEST_YEAR: Final = 2000
LATEST_YEAR: Final = 2100

_START_KEYS: Final = ("start", "from", "time", "timestamp", "start_time", "datetime")
_END_KEYS: Final = ("end", "till")
_PRICE_KEYS: Final = ("price", "value", "electricityPrice")

_NORDPOOL_FACTOR: Final = 1e-3  # currency/MWh -> currency/kWh
_ZONNEPLAN_FACTOR: Final = 1e-7  # integer 1e-7 EUR/kWh -> EUR/kWh
_SUBUNITS: Final = frozenset({"c", "ct", "cent", "cents", "eurocent", "öre", "øre", "ore"})


class PriceSource(StrEnum):
    """The shape a price payload comes in."""

    NORDPOOL = "nordpool"
    NORDPOOL_HACS = "nordpool_hacs"
    ENTSOE = "entsoe"
    ENERGYZERO = "energyzero"
    TIBBER = "tibber"
    FRANK_ENERGIE = "frank_energie"
    ZONNEPLAN = "zonneplan"
    GENERIC = "generic"


class PriceUnit(StrEnum):
    """Units a source without a fixed unit may report its prices in."""

    EUR_PER_KWH = "EUR/kWh"
    CENT_PER_KWH = "c/kWh"
    EUR_PER_MWH = "EUR/MWh"

    @property
    def factor(self) -> float:
        """Multiplier from this unit to EUR/kWh."""
        return {"EUR/kWh": 1.0, "c/kWh": 0.01, "EUR/MWh": 0.001}[self.value]


@dataclass(frozen=True, slots=True)
class ParsedPrices:
    """The outcome of parsing one payload."""

    slots: tuple[PriceSlot, ...]
    source: PriceSource
    # Why entries were left out, one line each, for diagnostics; empty when all were read.
    skipped: tuple[str, ...]


class _Entry(NamedTuple):
    """One readable source entry, before it is cut into slots."""

    start: datetime
    end: datetime | None
    price_eur_per_kwh: float


def parse_unit(text: object) -> PriceUnit | None:
    """Read a unit string such as "EUR/kWh", "€/MWh", "c/kWh" or "Cent/kWh"; None if unknown.

    Any currency code counts as the main currency unit (prices are not converted between
    currencies); cent, öre and the like as a hundredth of it.
    """
    if not isinstance(text, str) or text.count("/") != 1:
        return None
    money, energy = (part.strip().lower() for part in text.split("/"))
    if money in _SUBUNITS:
        return PriceUnit.CENT_PER_KWH if energy == "kwh" else None
    if money != "€" and not (money.isalpha() and len(money) == 3):
        return None
    return {"kwh": PriceUnit.EUR_PER_KWH, "mwh": PriceUnit.EUR_PER_MWH}.get(energy)


def parse_prices(
    data: Mapping[str, Any] | Sequence[Any] | None,
    *,
    source_hint: PriceSource | None = None,
    default_unit: PriceUnit = PriceUnit.EUR_PER_KWH,
    default_tz: tzinfo | None = None,
) -> ParsedPrices:
    """Parse a price payload into sorted 15-minute UTC slots; never raises on bad data.

    `source_hint` skips shape detection. `default_unit` applies to sources that carry no unit
    of their own (generic lists, Nord Pool HACS without unit attributes); the others have a
    fixed unit. `default_tz` is assumed for timestamps without an offset; without it such
    entries are skipped. When two entries cover the same quarter, the later one in the payload
    wins (an hourly price is overridden by a quarter price given after it).
    """
    skipped: list[str] = []
    if isinstance(data, Mapping):
        source = source_hint or _detect(data)
        lists, factor = _lists_and_factor(data, source, default_unit, skipped)
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
        source = source_hint or PriceSource.GENERIC
        lists, factor = [data], _fixed_factor(source, default_unit)
    else:
        return ParsedPrices((), source_hint or PriceSource.GENERIC, ("payload is not a list",))

    entries: list[_Entry] = []
    for items in lists:
        for index, item in enumerate(items):
            entry = _read_entry(item, factor, default_tz)
            if isinstance(entry, str):
                skipped.append(f"entry {index}: {entry}")
            else:
                entries.append(entry)
    return ParsedPrices(_to_slots(entries, skipped), source, tuple(skipped))


def _detect(data: Mapping[str, Any]) -> PriceSource:
    """Tell the source from the keys of a mapping."""
    if "raw_today" in data or "raw_tomorrow" in data:
        return PriceSource.NORDPOOL_HACS
    if "prices_today" in data or "prices_tomorrow" in data:
        return PriceSource.ENTSOE
    if "forecast" in data:
        return PriceSource.ZONNEPLAN
    prices = data.get("prices")
    if isinstance(prices, Mapping):
        return PriceSource.TIBBER
    if isinstance(prices, Sequence) and not isinstance(prices, str):
        first = next((item for item in prices if isinstance(item, Mapping)), {})
        if "from" in first:
            return PriceSource.FRANK_ENERGIE
        if "timestamp" in first:
            return PriceSource.ENERGYZERO
        if "time" in first:
            return PriceSource.ENTSOE
        return PriceSource.GENERIC
    # The core Nord Pool action answers {"<AREA>": [{"start", "end", "price"}]}.
    for value in data.values():
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            return (
                PriceSource.NORDPOOL
                if {"start", "end", "price"} <= value[0].keys()
                else PriceSource.GENERIC
            )
    return PriceSource.GENERIC


def _fixed_factor(source: PriceSource, default_unit: PriceUnit) -> float:
    """The multiplier to EUR/kWh of a source whose unit does not depend on its attributes."""
    if source is PriceSource.NORDPOOL:
        return _NORDPOOL_FACTOR
    if source is PriceSource.ZONNEPLAN:
        return _ZONNEPLAN_FACTOR
    if source in (PriceSource.GENERIC, PriceSource.NORDPOOL_HACS):
        return default_unit.factor
    return 1.0


def _lists_and_factor(
    data: Mapping[str, Any], source: PriceSource, default_unit: PriceUnit, skipped: list[str]
) -> tuple[list[Sequence[Any]], float]:
    """The entry lists of a mapping payload and the multiplier of its prices to EUR/kWh."""
    keys: tuple[str, ...]
    factor = _fixed_factor(source, default_unit)
    match source:
        case PriceSource.NORDPOOL:
            areas = tuple(key for key, value in data.items() if isinstance(value, list))
            keys = areas[:1]
            if len(areas) > 1:
                skipped.append(f"several areas {areas}; only {keys[0]} is used")
        case PriceSource.NORDPOOL_HACS:
            keys = ("raw_today", "raw_tomorrow")
            # Without valid tomorrow prices the attribute may still hold placeholders.
            if data.get("tomorrow_valid") is False:
                keys = ("raw_today",)
            factor = _nordpool_hacs_factor(data, default_unit)
        case PriceSource.ENTSOE:
            keys = ("prices_today", "prices_tomorrow", "prices")
        case PriceSource.ZONNEPLAN:
            keys = ("forecast",)
        case PriceSource.TIBBER:
            # One list per home; homes on one contract share the prices, so the first is enough.
            homes = data.get("prices")
            if not isinstance(homes, Mapping) or not homes:
                return [], factor
            data, keys = homes, (next(iter(homes)),)
        case PriceSource.GENERIC:
            keys = (
                ("prices",)
                if "prices" in data
                else tuple(key for key, value in data.items() if isinstance(value, list))
            )
            factor = (parse_unit(data.get("unit_of_measurement")) or default_unit).factor
        case _:
            keys = ("prices",)
    lists: list[Sequence[Any]] = []
    for key in keys:
        value = data.get(key)
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            lists.append(value)
        elif value is not None:
            skipped.append(f"{key}: not a list")
    return lists, factor


def _nordpool_hacs_factor(data: Mapping[str, Any], default_unit: PriceUnit) -> float:
    """The multiplier of a Nord Pool (HACS) sensor's values to EUR/kWh, from its attributes."""
    if unit := parse_unit(data.get("unit_of_measurement")):
        return unit.factor
    factor = default_unit.factor
    if "price_in_cents" in data or "unit" in data:
        factor = 0.01 if data.get("price_in_cents") is True else 1.0
        factor *= {"mwh": 1e-3, "wh": 1e3}.get(str(data.get("unit", "kWh")).lower(), 1.0)
    return factor


def _first(item: Mapping[str, Any], keys: Iterable[str]) -> Any:
    """The value of the first of `keys` present in `item`, or None."""
    return next((item[key] for key in keys if key in item), None)


def _read_time(value: object, default_tz: tzinfo | None) -> datetime | str:
    """An aware UTC datetime from a datetime or ISO string, or why not."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return f"unreadable time {value!r}"
    if not isinstance(value, datetime):
        return f"time is {type(value).__name__}, not a datetime"
    if value.tzinfo is None or value.utcoffset() is None:
        if default_tz is None:
            return f"time {value.isoformat()} has no time zone"
        value = value.replace(tzinfo=default_tz)
    if not EARLIEST_YEAR <= value.year < LATEST_YEAR:
        return f"implausible date {value.isoformat()}"
    return value.astimezone(UTC)


def _read_entry(item: object, factor: float, default_tz: tzinfo | None) -> _Entry | str:
    """One entry with its price in EUR/kWh, or why it was skipped."""
    if not isinstance(item, Mapping):
        return "not a mapping"
    start = _read_time(_first(item, _START_KEYS), default_tz)
    if isinstance(start, str):
        return start
    end: datetime | None = None
    if (raw_end := _first(item, _END_KEYS)) is not None:
        read_end = _read_time(raw_end, default_tz)
        if isinstance(read_end, str):
            return f"end: {read_end}"
        end = read_end
        if not start < end <= start + MAX_ENTRY_DURATION:
            return f"end {end.isoformat()} not within an hour after start {start.isoformat()}"
    raw_price = _first(item, _PRICE_KEYS)
    if isinstance(raw_price, bool) or not isinstance(raw_price, int | float | str):
        return f"price {raw_price!r} is not a number"
    try:
        price = float(raw_price)
    except ValueError:
        return f"price {raw_price!r} is not a number"
    if not math.isfinite(price):
        return f"price {raw_price!r} is not finite"
    if start != quarter_start(start):
        return f"start {start.isoformat()} is not on a quarter hour"
    return _Entry(start, end, price * factor)


def _to_slots(entries: list[_Entry], skipped: list[str]) -> tuple[PriceSlot, ...]:
    """Cut entries into 15-minute slots; later entries override earlier ones per slot.

    An entry without an end lasts until the next entry's start, or as long as the spacing to the
    previous entry when the next is missing or more than an hour away (a gap in the data), or
    one slot when it stands alone.
    """
    starts = sorted({entry.start for entry in entries})
    following = dict(pairwise(starts))
    preceding = {later: earlier for earlier, later in pairwise(starts)}
    prices: dict[datetime, float] = {}
    for entry in entries:
        if entry.end is not None:
            duration = entry.end - entry.start
        elif (
            nxt := following.get(entry.start)
        ) is not None and nxt - entry.start <= MAX_ENTRY_DURATION:
            duration = nxt - entry.start
        elif (
            prev := preceding.get(entry.start)
        ) is not None and entry.start - prev <= MAX_ENTRY_DURATION:
            duration = entry.start - prev
        else:
            duration = SLOT
        quarters = duration // SLOT
        if quarters == 0:
            skipped.append(f"entry at {entry.start.isoformat()} lasts less than a quarter hour")
        for quarter in range(quarters):
            prices[entry.start + quarter * SLOT] = entry.price_eur_per_kwh
    return tuple(PriceSlot(start, prices[start]) for start in sorted(prices))
