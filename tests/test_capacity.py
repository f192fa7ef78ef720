"""The Belgian capacity tariff weighed against arbitrage (optimiser/capacity.py), pure.

Numbers to check by hand: at 45 EUR/kW/year a peak raised by 1 kW costs 45 / 12 = 3.75 EUR.
The planner is the real one, on a 6-hour day of quarters with a flat 2 kW house.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from custom_components.ems.optimiser.capacity import (
    CAPACITY_FLOOR_W,
    LimitReason,
    PeakLimit,
    Weighing,
    candidate_limits_w,
    capacity_cost_eur,
    limit_in_force,
    weigh_peak_limits,
)
from custom_components.ems.optimiser.command_pacing import Reason, ShaverState
from custom_components.ems.optimiser.peak_shaver import Measurements, ShaverConfig, decide
from custom_components.ems.optimiser.planner import Plan, PlannerParams, plan_schedule
from custom_components.ems.optimiser.tariffs import peak_increase_cost_eur

RATE = 45.0  # EUR per kW per year: 3.75 EUR per kW of a month's peak
HOUSE_W = 2000.0
PARAMS = PlannerParams(
    capacity_kwh=12.0,
    min_soc_percent=10.0,
    max_soc_percent=100.0,
    max_charge_w=2400.0,
    max_discharge_w=2400.0,
    round_trip_efficiency=0.9,
    min_price_spread_percent=0.0,
)


def weigh(cheap: float, month_peak_w: float | None, *, configured_w: float = 2000.0) -> Weighing:
    """Two hours at `cheap` EUR/kWh, then four at 0.30, planned from an empty battery."""
    prices = [cheap] * 8 + [0.30] * 16
    load = [HOUSE_W] * len(prices)

    def plan_for(limit_w: float) -> Plan:
        return plan_schedule(
            prices,
            prices_export=prices,
            load_w=load,
            pv_w=None,
            slot_hours=0.25,
            params=replace(PARAMS, max_grid_peak_w=limit_w),
            initial_soc_percent=10.0,
        )

    base = limit_in_force(configured_w, month_peak_w, RATE)
    return weigh_peak_limits(
        plan_for,
        candidate_limits_w(base.limit_w, load, PARAMS.max_charge_w),
        this_month=[True] * len(prices),
        month_peak_w=month_peak_w or 0.0,
        eur_per_kw_year=RATE,
    )


def test_one_kw_more_costs_a_twelfth_of_the_yearly_rate() -> None:
    assert peak_increase_cost_eur(2500, 3500, RATE) == pytest.approx(3.75)
    # This month's quarters from its 3 kW peak to 3.5 kW: 0.5 kW; next month's from the
    # 2.5 kW floor to 4 kW: 1.5 kW. 2 kW in all, 7.50 EUR.
    cost = capacity_cost_eur([3000, 3500, 4000], [True, True, False], 3000, RATE)
    assert cost == pytest.approx(7.5)
    assert capacity_cost_eur([3000, 2000], [True, False], 3000, RATE) == 0.0


def test_candidates_go_up_to_full_charge_on_top_of_the_load() -> None:
    # 2 kW of load + 2.4 kW of charge = 4.4 kW, in four steps of 475 W above 2.5 kW.
    assert candidate_limits_w(2500, [1000, 2000], 2400) == (2500, 2975, 3450, 3925, 4400)
    assert candidate_limits_w(5000, [1000, 2000], 2400) == (5000,)


def test_the_limit_is_never_below_the_floor_with_the_tariff() -> None:
    assert limit_in_force(2000, None, RATE) == PeakLimit(2500, LimitReason.CAPACITY_FLOOR)
    assert limit_in_force(2000, 1200, RATE) == PeakLimit(2500, LimitReason.CAPACITY_FLOOR)
    assert limit_in_force(3000, None, RATE) == PeakLimit(3000, LimitReason.OPTION)
    assert limit_in_force(2000, 3200, RATE) == PeakLimit(3200, LimitReason.MONTH_PEAK)
    assert limit_in_force(2000, 3200, RATE, chosen_w=4400) == PeakLimit(4400, LimitReason.ARBITRAGE)
    # Without the tariff: the option, or the month's peak above it, as always.
    assert limit_in_force(2000, None, 0.0, chosen_w=4400) == PeakLimit(2000, LimitReason.OPTION)
    assert limit_in_force(2000, 2200, 0.0) == PeakLimit(2200, LimitReason.MONTH_PEAK)
    # Under the floor nothing is billed: going up to it costs nothing.
    assert peak_increase_cost_eur(0, CAPACITY_FLOOR_W, RATE) == 0.0


def test_a_negative_price_night_raises_the_peak() -> None:
    weighing = weigh(-2.00, None)
    limits = [candidate.limit_w for candidate in weighing.candidates]
    assert limits == [2500, 2975, 3450, 3925, 4400]
    chosen = weighing.chosen
    assert chosen.limit_w == 4400
    # 1.9 kW above the floor: 1.9 x 3.75 = 7.125 EUR (a few W under, the planner's grid steps).
    assert chosen.capacity_cost_eur == pytest.approx(7.125, abs=0.02)
    floor = weighing.candidates[0]
    assert floor.capacity_cost_eur == 0.0
    # Charging 2.4 kW instead of 0.5 kW for two hours at -2 EUR/kWh earns more than that.
    assert floor.energy_cost_eur - chosen.energy_cost_eur > chosen.capacity_cost_eur
    assert chosen.total_eur == min(candidate.total_eur for candidate in weighing.candidates)
    charged = [slot.charge_w for slot in weighing.plan.slots[:8]]
    assert min(charged) == pytest.approx(2400, abs=30)


def test_a_small_spread_keeps_the_limit() -> None:
    weighing = weigh(-0.10, None)
    assert weighing.chosen.limit_w == 2500
    assert weighing.chosen.capacity_cost_eur == 0.0
    # Every raise costs more than the cheaper energy it lets in.
    for candidate in weighing.candidates[1:]:
        assert candidate.total_eur > weighing.chosen.total_eur
    assert max(slot.grid_w for slot in weighing.plan.slots) <= 2500 + 1e-6


def test_up_to_the_month_peak_is_free() -> None:
    weighing = weigh(-0.10, 4000)
    assert weighing.candidates[0].limit_w == 4000
    assert weighing.chosen == weighing.candidates[0]
    assert weighing.chosen.capacity_cost_eur == 0.0
    # Charging 2 kW on top of the 2 kW house: the grid at the month's 4 kW, for free.
    assert max(slot.grid_w for slot in weighing.plan.slots[:8]) == pytest.approx(4000, abs=30)


def test_a_tie_keeps_the_lower_limit() -> None:
    def plan_for(limit_w: float) -> Plan:
        return plan_schedule(
            [0.20] * 4,
            prices_export=None,
            load_w=[HOUSE_W] * 4,
            pv_w=None,
            slot_hours=0.25,
            params=replace(PARAMS, max_grid_peak_w=limit_w),
            initial_soc_percent=50.0,
        )

    weighing = weigh_peak_limits(
        plan_for, [3000, 2500], this_month=[True] * 4, month_peak_w=0, eur_per_kw_year=RATE
    )
    # Lowest first; a flat price gains nothing from a higher limit.
    assert [candidate.limit_w for candidate in weighing.candidates] == [2500, 3000]
    assert weighing.candidates[0].total_eur == weighing.candidates[1].total_eur
    assert weighing.chosen.limit_w == 2500
    with pytest.raises(ValueError, match="at least one"):
        weigh_peak_limits(plan_for, [], this_month=[True], month_peak_w=0, eur_per_kw_year=RATE)


def test_the_shaver_protects_the_limit_in_force() -> None:
    now = datetime(2026, 6, 21, 12, 5, tzinfo=UTC)
    measurements = Measurements(
        now=now,
        grid_power_w=2300.0,
        battery_power_w=0.0,
        soc_percent=50.0,
        monthly_power_peak_w=1200.0,
    )
    config = ShaverConfig(
        peak_limit_w=2000,
        max_charge_w=2400,
        max_discharge_w=2400,
        min_soc_percent=10,
        max_soc_percent=100,
    )
    # Without the tariff the 2 kW option is shaved to: the battery discharges.
    today = decide(measurements, config, ShaverState())
    assert (today.limit_w, today.limit_reason) == (2000, LimitReason.OPTION)
    assert today.command.reason is Reason.SHAVE_PEAK
    # With it, 2.3 kW is under the 2.5 kW floor: nothing to shave, nothing saved by it.
    floor = decide(
        measurements, replace(config, capacity_tariff_eur_per_kw_year=RATE), ShaverState()
    )
    assert (floor.limit_w, floor.limit_reason) == (2500, LimitReason.CAPACITY_FLOOR)
    assert floor.command.reason is not Reason.SHAVE_PEAK
    # The plan's chosen limit is protected, and a reading that cannot be used still says so.
    chosen = replace(config, capacity_tariff_eur_per_kw_year=RATE, planned_limit_w=4400)
    unusable = decide(replace(measurements, grid_power_w=None), chosen, ShaverState())
    assert (unusable.limit_w, unusable.limit_reason) == (4400, LimitReason.ARBITRAGE)
