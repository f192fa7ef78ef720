"""The plan's power for a slot: decided at the slot's first poll and held through it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.ems.optimiser.active_plan import ActivePlan
from custom_components.ems.optimiser.forecast import Forecast, ForecastStatus
from custom_components.ems.optimiser.planner import PlannerParams, plan_schedule
from custom_components.ems.optimiser.price_slots import PriceHorizon

START = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
# One dear quarter, then cheap ones: what is stored above the floor covers the dear quarter.
IMPORT = [0.50] + [0.20] * 7
EXPORT = [0.0] * 8
LOAD_W = [1000.0] + [300.0] * 7


def active_plan(
    initial_soc_percent: float, prices: list[float] = IMPORT, load_w: list[float] = LOAD_W
) -> ActivePlan:
    plan = plan_schedule(
        prices,
        prices_export=EXPORT,
        load_w=load_w,
        pv_w=None,
        slot_hours=0.25,
        params=PlannerParams(capacity_kwh=12.0, min_soc_percent=10.0),
        initial_soc_percent=initial_soc_percent,
    )
    return ActivePlan(
        plan,
        START,
        PriceHorizon(START, tuple(prices), tuple(EXPORT)),
        START,
        Forecast(tuple(load_w), ForecastStatus.OK),
        Forecast((0.0,) * len(load_w), ForecastStatus.OK),
    )


def test_the_first_polls_power_holds_while_the_soc_moves_as_it_moves_it() -> None:
    active = active_plan(12.0)
    first = active.slot_power_w(0, START, 12.0)
    assert first[0] == 0.0
    # At most the 2 points above the floor of 12 kWh, through the discharge efficiency.
    assert 0.8 * 910 < first[1] <= 0.24 * 1000 * 0.9**0.5 / 0.25
    moved = first[1] / 0.9**0.5 * 0.25 / 120  # SOC points in the quarter
    halfway = START + timedelta(minutes=7, seconds=30)
    # Halfway: the policy asked again would plan a whole quarter's move from there, half the
    # power; the slot keeps the power it started with.
    assert active.plan.policy_action(0, 12.0 - moved / 2)[1] < 0.6 * first[1]
    assert active.slot_power_w(0, halfway, 12.0 - moved / 2) == first
    # Within the Indevolt's whole-percent reading of where that power has taken the SOC.
    assert active.slot_power_w(0, halfway, 12.0 - moved / 2 + 0.9) == first
    # The next slot decides again, from its own first poll.
    later = START + timedelta(minutes=15)
    assert active.slot_power_w(1, later, 10.0) == active.plan.policy_action(1, 10.0)


def test_a_soc_the_house_moved_otherwise_decides_as_if_the_slot_started_there() -> None:
    active = active_plan(20.0)
    first = active.slot_power_w(0, START, 20.0)
    assert first[1] > 0
    moved = first[1] / 0.9**0.5 * 0.25 / 120
    halfway = START + timedelta(minutes=7, seconds=30)
    # A load the forecast did not see took 3 points more than the plan's power.
    measured = 20.0 - moved / 2 - 3.0
    assert active.slot_power_w(0, halfway, measured) == active.plan.policy_action(0, 17.0)


def test_a_charge_the_soc_jumped_past_decides_again() -> None:
    cheap_first = active_plan(50.0, [0.10] * 4 + [0.50] * 4, [300.0] * 4 + [2400.0] * 4)
    charge_w, _ = cheap_first.slot_power_w(0, START, 50.0)
    assert charge_w > 0
    soon = START + timedelta(seconds=31)
    assert cheap_first.slot_power_w(0, soon, 50.0) == (charge_w, 0.0)
    # Nearly full half a minute on (a jump the policy did not plan): decided for that SOC.
    assert cheap_first.slot_power_w(0, soon, 99.9)[0] < charge_w


def test_a_reading_within_a_point_of_the_plan_decides_from_the_plans_soc() -> None:
    active = active_plan(12.0)
    # The Indevolt reads 12.6 % as a whole percent either way; the plan's 12.0 % is finer.
    assert active.plan.policy_action(0, 12.6) != active.plan.policy_action(0, 12.0)
    assert active.slot_power_w(0, START, 12.6) == active.plan.policy_action(0, 12.0)
    other = active_plan(12.0)
    # A point or more from the plan: the reading.
    assert other.slot_power_w(0, START, 14.0) == other.plan.policy_action(0, 14.0)
