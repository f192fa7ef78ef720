"""Price slots and their arithmetic: quarters, effective import prices, the aligned horizon.

Pure logic, no I/O. A slot is 15 minutes in UTC with a price in currency per kWh (prices.py
parses the sources into slots); the planner takes import and export prices aligned on the same
contiguous quarters from now on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

SLOT: Final = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class PriceSlot:
    """One 15-minute slot: its UTC start and its price."""

    start: datetime
    price_eur_per_kwh: float

    @property
    def end(self) -> datetime:
        """The end of the slot (exclusive)."""
        return self.start + SLOT


@dataclass(frozen=True, slots=True)
class PriceHorizon:
    """Import and export prices for the same contiguous slots, from the current quarter on."""

    start: datetime
    import_eur_per_kwh: tuple[float, ...]
    export_eur_per_kwh: tuple[float, ...]

    @property
    def end(self) -> datetime:
        """The end of the last slot; equal to `start` when there are no prices."""
        return self.start + SLOT * len(self.import_eur_per_kwh)


def quarter_start(moment: datetime) -> datetime:
    """The UTC start of the 15-minute quarter containing an aware `moment`."""
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


def effective_import_prices(
    slots: Iterable[PriceSlot],
    *,
    markup_eur_per_kwh: float,
    energy_tax_eur_per_kwh: float,
    vat_percent: float,
    includes_taxes: bool,
) -> tuple[PriceSlot, ...]:
    """What a kWh imported in each slot costs: (price + markup + tax) x (1 + VAT/100).

    With `includes_taxes` (sources that already give all-in prices, such as Tibber) the prices
    are returned as they are. Export is paid at the raw price, so export slots need no such step.
    """
    if includes_taxes:
        return tuple(slots)
    vat_factor = 1 + vat_percent / 100
    return tuple(
        PriceSlot(
            slot.start,
            (slot.price_eur_per_kwh + markup_eur_per_kwh + energy_tax_eur_per_kwh) * vat_factor,
        )
        for slot in slots
    )


def align_prices(
    import_slots: Iterable[PriceSlot],
    export_slots: Iterable[PriceSlot],
    *,
    now: datetime,
    max_slots: int | None = None,
) -> PriceHorizon:
    """Import and export prices for the contiguous slots from the current quarter on.

    The horizon ends at the first quarter missing from either series (or after `max_slots`);
    it is empty when either series has no price for the current quarter.
    """
    imports = {slot.start: slot.price_eur_per_kwh for slot in import_slots}
    exports = {slot.start: slot.price_eur_per_kwh for slot in export_slots}
    start = quarter_start(now)
    import_prices: list[float] = []
    export_prices: list[float] = []
    moment = start
    while moment in imports and moment in exports and len(import_prices) != max_slots:
        import_prices.append(imports[moment])
        export_prices.append(exports[moment])
        moment += SLOT
    return PriceHorizon(start, tuple(import_prices), tuple(export_prices))


def covers_until(slots: Iterable[PriceSlot], *, now: datetime) -> datetime | None:
    """The end of the unbroken run of slots from the current quarter; None if now is uncovered.

    The integration fetches again until this reaches the end of tomorrow (local time).
    """
    starts = {slot.start for slot in slots}
    moment = quarter_start(now)
    if moment not in starts:
        return None
    while moment in starts:
        moment += SLOT
    return moment


def is_stale(slots: Iterable[PriceSlot], *, now: datetime) -> bool:
    """True when no slot covers `now`: the prices must be fetched again."""
    return covers_until(slots, now=now) is None
