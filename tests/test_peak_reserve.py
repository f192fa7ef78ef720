"""The peak reserve: energy kept for the peaks still to come, from whole recent days."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from custom_components.ems.optimiser.active_plan import ActivePlan, BatteryOptions, slot_outlook
from custom_components.ems.optimiser.forecast import Forecast, ForecastStatus
from custom_components.ems.optimiser.peak_reserve import (
    peak_reserve_wh,
    planned_peak_discharge_wh,
)
from custom_components.ems.optimiser.planner import PlannerParams, plan_schedule
from custom_components.ems.optimiser.price_slots import PriceHorizon

QUIET = (300.0,) * 96
# A car at 3700 W on top of 300 W, from 20:00 for two and a half hours (10 quarters).
CAR_AT_20 = (300.0,) * 80 + (4000.0,) * 10 + (300.0,) * 6
CAR_AT_21 = (300.0,) * 84 + (4000.0,) * 10 + (300.0,) * 2


def reserve(days: list[tuple[float, ...]], quarter: int, **overrides: float) -> float:
    options = {"peak_limit_w": 2500.0, "max_discharge_w": 2400.0, "discharge_efficiency": 1.0}
    return peak_reserve_wh(days, quarter, **(options | overrides))


def test_the_worst_recent_day_from_this_quarter_on_sets_the_reserve() -> None:
    # 10 quarters of 1500 W above the limit: 3750 Wh.
    assert reserve([QUIET, CAR_AT_20], 0) == pytest.approx(3750.0)
    # The mean of the two days is under the limit all evening: a mean sees no peak at all.
    mean = tuple((a + b) / 2 for a, b in zip(QUIET, CAR_AT_20, strict=True))
    assert reserve([mean], 0) == 0.0
    # Later in the evening only what is still to come counts; the later car needs more then.
    assert reserve([CAR_AT_20, CAR_AT_21], 86) == pytest.approx(8 * 375.0)
    assert reserve([CAR_AT_20, CAR_AT_21], 94) == 0.0
    assert reserve([], 0) == 0.0


def test_the_reserve_counts_what_the_battery_can_give_through_its_efficiency() -> None:
    # No more than the battery's power per quarter: 1000 W of the 1500 W excess.
    assert reserve([CAR_AT_20], 0, max_discharge_w=1000.0) == pytest.approx(2500.0)
    # Stored energy is lost on the way out.
    assert reserve([CAR_AT_20], 0, discharge_efficiency=0.5) == pytest.approx(7500.0)
    with pytest.raises(ValueError, match="discharge_efficiency"):
        reserve([CAR_AT_20], 0, discharge_efficiency=0.0)


def test_the_plan_own_peak_discharge_until_it_charges_again() -> None:
    def planned(slots: list[tuple[float, float, float]]) -> float:
        return planned_peak_discharge_wh(
            slots, peak_limit_w=2500.0, margin_w=50.0, slot_hours=0.25, discharge_efficiency=0.8
        )

    at_limit = (0.0, 1600.0, 2480.0)
    below = (0.0, 800.0, 300.0)
    assert planned([below, at_limit, at_limit]) == pytest.approx(2 * 1600 * 0.25 / 0.8)
    # A charge in between: the later peak is served by other energy.
    assert planned([at_limit, (2000.0, 0.0, 2400.0), at_limit]) == pytest.approx(500.0)
    assert planned([]) == 0.0


def test_the_slot_outlook_carries_the_reserve() -> None:
    start = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    prices = (0.30, 0.30, 0.20, 0.20)
    plan = plan_schedule(
        list(prices),
        prices_export=None,
        load_w=[500.0] * 4,
        pv_w=None,
        slot_hours=0.25,
        params=PlannerParams(capacity_kwh=12.0, max_grid_peak_w=2500.0),
        initial_soc_percent=60.0,
    )
    active = ActivePlan(
        plan,
        start,
        PriceHorizon(start, prices, prices),
        start,
        Forecast((500.0,) * 4, ForecastStatus.OK),
        Forecast((0.0,) * 4, ForecastStatus.OK),
        (2400.0, 1200.0, 0.0, 0.0),
    )
    battery = BatteryOptions(
        capacity_kwh=12.0,
        round_trip_efficiency=0.81,
        peak_limit_w=2500.0,
        min_soc_percent=10.0,
        max_soc_percent=100.0,
    )
    # 2400 Wh of 12 kWh: 20 SOC points, then 10.
    assert slot_outlook(active, 0, 0.0, battery).peak_reserve_percent == pytest.approx(20.0)
    assert slot_outlook(active, 1, 0.0, battery).peak_reserve_percent == pytest.approx(10.0)
    # No recorded days (an empty reserve): the plan's own discharge at the limit, if any.
    bare = replace(active, peak_reserve_wh=())
    assert slot_outlook(bare, 0, 0.0, battery).peak_reserve_percent == 0.0
