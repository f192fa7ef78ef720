"""The slot outlook: what the plan ahead makes a kWh stored now, or discharged now, worth."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from custom_components.ems.optimiser.active_plan import ActivePlan, BatteryOptions, slot_outlook
from custom_components.ems.optimiser.forecast import Forecast, ForecastStatus
from custom_components.ems.optimiser.planner import PlannedSlot, PlannerParams, plan_schedule
from custom_components.ems.optimiser.price_slots import PriceHorizon

START = datetime(2026, 4, 20, 8, 0, tzinfo=UTC)
BATTERY = BatteryOptions(
    capacity_kwh=12.0,
    round_trip_efficiency=0.9,
    peak_limit_w=4000.0,
    min_soc_percent=10.0,
    max_soc_percent=100.0,
)


def slot(soc_end: float, *, charge_w: float = 0.0, discharge_w: float = 0.0, grid_w: float = 0.0):
    return PlannedSlot(charge_w, discharge_w, soc_end, soc_end, grid_w, 0.0)


def active_plan(
    slots: list[PlannedSlot],
    net_w: list[float],
    import_prices: list[float],
    export_prices: list[float],
) -> ActivePlan:
    """An active plan with the given slots (the planner's own policy is not used here)."""
    count = len(slots)
    plan = plan_schedule(
        import_prices,
        prices_export=export_prices,
        load_w=[300.0] * count,
        pv_w=None,
        slot_hours=0.25,
        params=PlannerParams(capacity_kwh=12.0),
        initial_soc_percent=50.0,
    )
    return ActivePlan(
        replace(plan, slots=tuple(slots)),
        START,
        PriceHorizon(START, tuple(import_prices), tuple(export_prices)),
        START,
        Forecast(tuple(max(w, 0.0) for w in net_w), ForecastStatus.OK),
        Forecast(tuple(max(-w, 0.0) for w in net_w), ForecastStatus.OK),
    )


IMPORT = [0.41, 0.41, 0.30, 0.30, 0.39, 0.39, 0.53, 0.53]
EXPORT = [0.21, 0.21, 0.12, 0.12, 0.19, 0.19, 0.31, 0.31]


def test_a_kwh_stored_now_is_worth_what_the_plan_stores_less_where_it_is_full() -> None:
    # A spring day in quarters: the PV exported at 0.21, then stored until full at 09:00 (a
    # surplus still exported beyond full, at 0.19), then the evening's discharge.
    slots = [
        slot(10.0, grid_w=-500.0),
        slot(10.0, grid_w=-800.0),
        slot(40.0, charge_w=2400.0, grid_w=-300.0),
        slot(70.0, charge_w=2400.0, grid_w=-200.0),
        slot(100.0, charge_w=2400.0, grid_w=-400.0),
        slot(100.0, grid_w=-1000.0),
        slot(60.0, discharge_w=2000.0, grid_w=0.0),
        slot(30.0, discharge_w=2000.0, grid_w=-1200.0),
    ]
    net = [-500.0, -800.0, -2700.0, -2600.0, -2800.0, -1000.0, 2000.0, 800.0]
    active = active_plan(slots, net, IMPORT, EXPORT)
    assert slot_outlook(active, 0, 0.0, BATTERY).fill_value == 0.19
    # Filled from the grid instead (importing): the import price is what storing now saves.
    from_grid = active_plan(
        [*slots[:4], replace(slots[4], grid_w=1500.0), *slots[5:]], net, IMPORT, EXPORT
    )
    assert slot_outlook(from_grid, 0, 0.0, BATTERY).fill_value == 0.39
    # 31 points above the plan's SOC now, the battery is full a slot earlier (exporting at 0.12).
    assert slot_outlook(active, 0, 0.0, BATTERY, soc_offset_percent=31.0).fill_value == 0.12
    # Empty in a deficit before it is full: the kWh covers load there, no fill value.
    empty_first = active_plan(
        [slots[0], slot(10.0, grid_w=300.0), *slots[2:]],
        [net[0], 300.0, *net[2:]],
        IMPORT,
        EXPORT,
    )
    assert slot_outlook(empty_first, 0, 0.0, BATTERY).fill_value is None
    # Empty in a surplus is no such use: the plan only exports there.
    assert slot_outlook(active, 0, 0.0, BATTERY).fill_value is not None
    # After the fill, nothing fills again within the plan.
    assert slot_outlook(active, 6, 0.0, BATTERY).fill_value is None


def test_a_kwh_discharged_now_is_worth_the_plans_cheapest_use_of_it_later() -> None:
    slots = [
        slot(90.0, discharge_w=2400.0, grid_w=500.0),
        slot(70.0, discharge_w=2400.0, grid_w=-1200.0),  # exports at 0.21
        slot(50.0, discharge_w=1000.0, grid_w=0.0),  # covers load at 0.30
        slot(50.0),
        slot(80.0, charge_w=2400.0, grid_w=2700.0),
        slot(60.0, discharge_w=2400.0, grid_w=-2000.0),  # after a charge: other energy
        slot(60.0),
        slot(60.0),
    ]
    active = active_plan(slots, [2900.0, 1200.0, 1000.0, 0, 300.0, 400.0, 0, 0], IMPORT, EXPORT)
    assert slot_outlook(active, 0, -2400.0, BATTERY).stored_value == 0.21
    assert slot_outlook(active, 1, -2400.0, BATTERY).stored_value == 0.30
    assert slot_outlook(active, 2, -1000.0, BATTERY).stored_value is None
    # A few watts of planned export are rounding, not an export.
    rounded = active_plan(
        [slots[0], replace(slots[1], grid_w=-20.0), *slots[2:]],
        [2900.0, 2400.0, 1000.0, 0, 300.0, 400.0, 0, 0],
        IMPORT,
        EXPORT,
    )
    assert slot_outlook(rounded, 0, -2400.0, BATTERY).stored_value == pytest.approx(0.30)


def test_a_kwh_kept_where_the_plan_counts_on_the_last_point_is_worth_even_odds() -> None:
    # A morning in quarters: an export at 0.21, the house covered at 0.41 and 0.30 down to the
    # floor, then the PV charges the battery (its surplus exported at 0.19 otherwise).
    slots = [
        slot(14.0, discharge_w=900.0, grid_w=-350.0),
        slot(12.0, discharge_w=500.0, grid_w=0.0),
        slot(10.5, discharge_w=500.0, grid_w=0.0),
        slot(10.0, grid_w=300.0),
        slot(40.0, charge_w=2400.0, grid_w=-300.0),
        slot(60.0, charge_w=2400.0),
        slot(40.0, discharge_w=2000.0),
        slot(20.0, discharge_w=2000.0),
    ]
    net = [550.0, 500.0, 500.0, 300.0, -2700.0, -2400.0, 2000.0, 2000.0]
    active = active_plan(slots, net, IMPORT, EXPORT)
    # Within a point of the floor at the end of the third quarter, in a deficit (0.30), or
    # taking the place of the PV the plan stores from 09:00 (0.19).
    assert slot_outlook(active, 0, -900.0, BATTERY).last_point_value == pytest.approx(0.245)
    # The point an export keeps back: 120 Wh stored on 12 kWh, 114 Wh of it delivered
    # (round trip 0.9), over a quarter.
    assert slot_outlook(active, 0, -900.0, BATTERY).point_w == pytest.approx(455.4, abs=0.1)
    # Charged from the grid instead: its import price (0.39).
    from_grid = active_plan(
        [*slots[:4], replace(slots[4], grid_w=1500.0), *slots[5:]], net, IMPORT, EXPORT
    )
    assert slot_outlook(from_grid, 0, -900.0, BATTERY).last_point_value == pytest.approx(0.345)
    # No charge after: a kWh kept covers a later deficit, at that import price.
    no_charge = [*slots[:4], slot(10.0, grid_w=300.0), slot(10.0, grid_w=300.0)]
    assert slot_outlook(
        active_plan(no_charge, [*net[:4], 300.0, 300.0], IMPORT[:6], EXPORT[:6]), 0, -900.0, BATTERY
    ).last_point_value == pytest.approx(0.30)
    # The plan's own SOC: a reading a point off within the quarter changes nothing.
    assert slot_outlook(
        active, 0, -900.0, BATTERY, soc_offset_percent=1.0
    ).last_point_value == pytest.approx(0.245)
    # Two points higher all along, the battery charges again before it is empty.
    higher = [replace(planned, soc_percent_end=planned.soc_percent_end + 2) for planned in slots]
    assert (
        slot_outlook(active_plan(higher, net, IMPORT, EXPORT), 0, -900.0, BATTERY).last_point_value
        is None
    )
    # Empty in a surplus is no shortfall: the plan only exports there.
    in_surplus = active_plan(slots, [550.0, 500.0, -500.0, -300.0, *net[4:]], IMPORT, EXPORT)
    assert slot_outlook(in_surplus, 0, -900.0, BATTERY).last_point_value is None
