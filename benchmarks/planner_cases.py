"""Seeded generators of NL/BE-like day-ahead price days and household load/PV profiles.

Shapes, not data: a duck curve (morning and evening peaks, a solar trough at midday), optional
negative midday prices, evening spikes, 15-minute wiggle inside each hour, and household load with
short 3-6 kW spikes (kettle, oven, heat pump, car). Every case is reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import math
from zoneinfo import ZoneInfo

import numpy as np

BRUSSELS = ZoneInfo("Europe/Brussels")


@dataclass(frozen=True)
class Case:
    """One benchmark case: slots with prices, load and PV, plus the options to plan with."""

    name: str
    starts: tuple[datetime, ...]
    slot_hours: tuple[float, ...]
    price_import: np.ndarray
    price_export: np.ndarray | None
    load_w: np.ndarray
    pv_w: np.ndarray
    options: dict[str, float] = field(default_factory=dict)
    initial_soc_percent: float = 50.0
    end_soc_percent_min: float | None = None


def local_slots(day: date, days: int, minutes: int) -> tuple[list[datetime], list[float]]:
    """Slot starts (UTC) from local midnight for ``days`` days; DST days have 92 or 100."""
    begin = datetime(day.year, day.month, day.day, tzinfo=BRUSSELS).astimezone(UTC)
    last = day + timedelta(days=days)
    end = datetime(last.year, last.month, last.day, tzinfo=BRUSSELS).astimezone(UTC)
    count = int((end - begin) / timedelta(minutes=minutes))
    starts = [begin + i * timedelta(minutes=minutes) for i in range(count)]
    return starts, [minutes / 60] * count


def _local_hour(starts: list[datetime]) -> np.ndarray:
    local = [start.astimezone(BRUSSELS) for start in starts]
    return np.asarray([moment.hour + moment.minute / 60 for moment in local])


def duck_prices(
    rng: np.random.Generator,
    hours: np.ndarray,
    *,
    level: float = 0.10,
    morning: float = 0.05,
    evening: float = 0.10,
    solar_dip: float = 0.06,
    spike: float = 0.0,
    noise: float = 0.008,
) -> np.ndarray:
    """Spot-like prices in EUR/kWh by local hour of day."""
    bump = lambda centre, width: np.exp(-0.5 * ((hours - centre) / width) ** 2)  # noqa: E731
    price = (
        level
        + morning * bump(8.0, 1.3)
        + evening * bump(19.0, 1.6)
        - solar_dip * bump(13.5, 2.2)
        + spike * bump(19.5, 0.5)
    )
    # Day-ahead 15-minute products wiggle inside the hour; add slow day-to-day drift too.
    quarter = np.round((hours % 1) * 4)
    price = price + 0.004 * (quarter - 1.5) * np.sign(np.gradient(price))
    price = price + noise * rng.standard_normal(len(hours))
    return np.round(price, 5)


def household_load(rng: np.random.Generator, hours: np.ndarray, slot_h: float) -> np.ndarray:
    """Average household watts per slot, with a few 3-6 kW spikes."""
    bump = lambda centre, width: np.exp(-0.5 * ((hours - centre) / width) ** 2)  # noqa: E731
    load = 250 + 500 * bump(7.5, 1.0) + 900 * bump(18.5, 1.8) + 150 * rng.random(len(hours))
    spikes = max(2, round(len(hours) * slot_h / 24 * 4))
    for slot in rng.choice(len(hours), size=spikes, replace=False):
        load[slot] = rng.uniform(3000, 6000)
    return np.round(load, 1)


def pv_profile(hours: np.ndarray, peak_w: float) -> np.ndarray:
    """A clear-sky-like PV bell between 6 h and 21 h."""
    shape = np.clip(np.sin((hours - 6) / 15 * math.pi), 0, None) ** 1.5
    return np.round(peak_w * shape, 1)


def build_cases() -> list[Case]:
    """The benchmark's cases, always the same for the same code."""
    cases: list[Case] = []

    def add(
        name: str,
        seed: int,
        day: date,
        *,
        days: int = 1,
        minutes: int = 15,
        pv_peak_w: float = 0.0,
        export: str = "same",
        initial: float = 50.0,
        end: float | None = None,
        options: dict[str, float] | None = None,
        **shape: float,
    ) -> None:
        rng = np.random.default_rng(seed)
        starts, slot_hours = local_slots(day, days, minutes)
        hours = _local_hour(starts)
        spot = duck_prices(rng, hours, **shape)
        load = household_load(rng, hours, minutes / 60)
        pv = pv_profile(hours, pv_peak_w)
        if export == "be":
            # Belgian-style contract: import carries grid fees, export earns spot minus a fee.
            price_import = np.round(spot + 0.11, 5)
            price_export = np.round(spot - 0.01, 5)
        else:
            price_import, price_export = spot, None
        cases.append(
            Case(
                name,
                tuple(starts),
                tuple(slot_hours),
                price_import,
                price_export,
                load,
                pv,
                options or {},
                initial,
                end,
            )
        )

    add("nl_summer_duck", 11, date(2026, 6, 17), pv_peak_w=3500, solar_dip=0.07)
    add(
        "nl_negative_midday",
        12,
        date(2026, 5, 10),
        pv_peak_w=5000,
        level=0.07,
        solar_dip=0.16,
        evening=0.12,
    )
    add(
        "be_evening_spike",
        13,
        date(2026, 11, 18),
        export="be",
        pv_peak_w=800,
        spike=0.35,
        initial=20.0,
    )
    add(
        "winter_below_breakeven",
        14,
        date(2026, 1, 14),
        level=0.16,
        morning=0.012,
        evening=0.018,
        solar_dip=0.004,
        noise=0.001,
    )
    add("dst_spring_92", 15, date(2026, 3, 29), pv_peak_w=2500, initial=35.0)
    add("dst_autumn_100", 16, date(2026, 10, 25), pv_peak_w=1500, initial=60.0)
    add("hourly_24", 17, date(2026, 9, 2), minutes=60, pv_peak_w=3000)
    add(
        "horizon_48h",
        18,
        date(2026, 7, 7),
        days=2,
        pv_peak_w=4000,
        solar_dip=0.11,
        initial=30.0,
    )
    add(
        "peak_cap_2500w",
        19,
        date(2026, 12, 9),
        options={"battery_max_desired_grid_peak_w": 2500.0},
        initial=60.0,
        end=40.0,
    )
    add(
        "small_battery_fast",
        20,
        date(2026, 8, 12),
        pv_peak_w=3000,
        options={
            "battery_rated_capacity_kwh": 5.0,
            "battery_max_charge_power_w": 2000.0,
            "battery_max_discharge_power_w": 1700.0,
            "battery_round_trip_efficiency": 0.88,
            "battery_min_soc_percent": 5.0,
            "battery_max_soc_percent": 95.0,
        },
        solar_dip=0.09,
        noise=0.003,
    )
    add(
        "spread_rule_40pct",
        21,
        date(2026, 4, 22),
        pv_peak_w=2000,
        options={"battery_round_trip_efficiency": 0.90, "battery_min_price_spread_percent": 40.0},
        evening=0.14,
    )
    return cases
