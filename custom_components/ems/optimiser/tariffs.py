"""Tariffs of 2026-2027 that change what exported energy and a grid peak are worth. Pure logic.

Netherlands: net metering (salderen) ends on 2027-01-01. Until then an exported kWh is netted
against an imported one, so it is worth the import price with markup, tax and VAT. From then on
the supplier pays a share of the bare price, and many suppliers already charge a feed-in cost
per exported kWh (terugleverkosten) under net metering as well.

Belgium (Flanders): the capacity charge. A month's peak is its highest 15-minute average import
power, counted as at least 2.5 kW; each month's bill charges the average of the last 12 monthly
peaks at a rate in EUR per kW per year, one twelfth of it per month. So a peak raised by 1 kW in
one month appears, with weight 1/12, in the average of the 12 bills that include that month:
it costs rate / 12 in total, spread over a year.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, tzinfo
from typing import Final

from .price_slots import PriceSlot

CAPACITY_FLOOR_KW: Final = 2.5
CAPACITY_AVERAGE_MONTHS: Final = 12
MONTHS_PER_YEAR: Final = 12


def effective_export_prices(
    bare_slots: Iterable[PriceSlot],
    net_metered_slots: Iterable[PriceSlot],
    *,
    net_metering: bool,
    net_metering_until: date | None,
    share_percent: float,
    feed_in_cost_eur_per_kwh: float,
    tz: tzinfo,
) -> tuple[PriceSlot, ...]:
    """What a kWh exported in each slot earns, after the feed-in cost.

    `net_metered_slots` are the prices an exported kWh earns while it is netted (the effective
    import price); they apply with `net_metering` on, to the slots before `net_metering_until`
    (a local date; None: no end). Every other slot earns `share_percent` of the bare price.
    """
    netted = {slot.start: slot.price_eur_per_kwh for slot in net_metered_slots}
    share = share_percent / 100
    result = []
    for slot in bare_slots:
        is_netted = (
            net_metering
            and slot.start in netted
            and (
                net_metering_until is None or slot.start.astimezone(tz).date() < net_metering_until
            )
        )
        price = netted[slot.start] if is_netted else slot.price_eur_per_kwh * share
        result.append(PriceSlot(slot.start, price - feed_in_cost_eur_per_kwh))
    return tuple(result)


def billed_peak_kw(monthly_peaks_kw: Sequence[float]) -> float:
    """The peak a month's capacity charge is billed on: the mean of the last 12 floored peaks.

    `monthly_peaks_kw` is oldest first and ends with the billed month; with fewer than 12 months
    of history the months there are are averaged, and with none the floor is billed.
    """
    recent = monthly_peaks_kw[-CAPACITY_AVERAGE_MONTHS:]
    if not recent:
        return CAPACITY_FLOOR_KW
    return sum(max(peak_kw, CAPACITY_FLOOR_KW) for peak_kw in recent) / len(recent)


def monthly_capacity_charge_eur(monthly_peaks_kw: Sequence[float], eur_per_kw_year: float) -> float:
    """One month's capacity charge: the billed peak at a twelfth of the yearly rate."""
    return billed_peak_kw(monthly_peaks_kw) * eur_per_kw_year / MONTHS_PER_YEAR


def peak_increase_cost_eur(month_peak_w: float, new_peak_w: float, eur_per_kw_year: float) -> float:
    """What raising this month's peak from `month_peak_w` to `new_peak_w` costs in total.

    The money the shaver protects: weigh it against what importing more would earn (arbitrage).
    Zero when the new peak stays at or below the month's peak or the 2.5 kW floor.
    """
    month_kw = max(month_peak_w / 1000, CAPACITY_FLOOR_KW)
    new_kw = max(new_peak_w / 1000, CAPACITY_FLOOR_KW)
    return max(new_kw - month_kw, 0.0) * eur_per_kw_year / MONTHS_PER_YEAR
