"""Dispatch modes: what the plan's slot means for the battery in real time (issue 13)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from custom_components.ems.optimiser.dispatch import (
    BatteryLimits,
    DispatchMode,
    Intent,
    SlotOutlook,
    choose_intent,
    export_runs_short,
    export_value,
    self_consumption_w,
)

LIMITS = BatteryLimits(
    soc_percent=50.0,
    min_soc_percent=10.0,
    max_soc_percent=100.0,
    max_charge_w=2400.0,
    max_discharge_w=2400.0,
)
OUTLOOK = SlotOutlook(
    plan_battery_w=0.0,
    forecast_net_w=500.0,
    import_price=0.30,
    export_price=0.10,
    hold_value=0.0,
    lowest_import_ahead=0.20,
    round_trip_efficiency=0.8,
    point_w=430.0,
)


def intent(limits: BatteryLimits = LIMITS, **changes: float | bool) -> Intent:
    return choose_intent(replace(OUTLOOK, **changes), limits)


def test_a_plan_that_does_what_self_consumption_does_follows_the_house() -> None:
    # Charging (about) the forecast surplus, covering (about) the forecast deficit.
    assert intent(plan_battery_w=1450.0, forecast_net_w=-1500.0).mode is DispatchMode.FOLLOW_HOUSE
    assert intent(plan_battery_w=-480.0, forecast_net_w=500.0).mode is DispatchMode.FOLLOW_HOUSE
    # Idle in a slot where the house is (forecast) in balance.
    assert intent(plan_battery_w=0.0, forecast_net_w=60.0).mode is DispatchMode.FOLLOW_HOUSE


def test_grid_charge_at_full_power_is_fixed_and_a_partial_one_trims() -> None:
    full = intent(plan_battery_w=2400.0, forecast_net_w=300.0)
    assert full == Intent(DispatchMode.GRID_CHARGE, 2400.0)
    partial = intent(plan_battery_w=1000.0, forecast_net_w=300.0)
    assert partial == Intent(DispatchMode.TRIM, 1000.0, 1300.0)


def test_export_discharge_at_full_power_is_fixed_and_a_partial_one_trims() -> None:
    rich = {"export_price": 0.40, "lowest_import_ahead": 0.20}
    assert intent(plan_battery_w=-2400.0, forecast_net_w=400.0, **rich) == Intent(
        DispatchMode.EXPORT_DISCHARGE, -2400.0
    )
    assert intent(plan_battery_w=-1400.0, forecast_net_w=400.0, **rich) == Intent(
        DispatchMode.TRIM, -1400.0, -1000.0
    )


def test_never_discharge_into_an_export_price_below_the_value_of_the_energy() -> None:
    # Buying a kWh back through the battery costs 0.20 / 0.8 = 0.25: exporting at 0.24 loses.
    assert export_value(replace(OUTLOOK, lowest_import_ahead=0.20)) == pytest.approx(0.25)
    poor = intent(plan_battery_w=-2400.0, forecast_net_w=400.0, export_price=0.24)
    assert poor.mode is DispatchMode.FOLLOW_HOUSE
    # A negative price ahead never makes a negative export price worth discharging into.
    negative = intent(
        plan_battery_w=-2400.0, forecast_net_w=-100.0, export_price=-0.01, lowest_import_ahead=-0.1
    )
    assert negative.mode is DispatchMode.FOLLOW_HOUSE


def test_an_export_the_plan_may_be_short_of_before_it_charges_again_is_not_made() -> None:
    # A partial export at 0.24 that the import-side value (0.15 / 0.8) allows.
    export = {
        "plan_battery_w": -900.0,
        "forecast_net_w": 550.0,
        "export_price": 0.24,
        "lowest_import_ahead": 0.15,
    }
    assert intent(**export) == Intent(DispatchMode.TRIM, -900.0, -350.0)
    # The plan then covers the house down to the floor at 0.449 before the PV recharges it
    # (0.06): a kWh kept is worth 0.2545, more than the export earns. The export keeps a point
    # back (430 W for the quarter); 350 W is less than that, so the battery covers the house.
    assert intent(**export, last_point_value=0.2545).mode is DispatchMode.FOLLOW_HOUSE
    assert export_runs_short(replace(OUTLOOK, **export, last_point_value=0.2545))
    # Recharged at a negative price instead (-0.10): the export pays.
    assert intent(**export, last_point_value=0.17) == Intent(DispatchMode.TRIM, -900.0, -350.0)
    # A larger export keeps only the point back: the rest is exported.
    larger = {**export, "plan_battery_w": -1800.0, "forecast_net_w": 300.0}
    assert intent(**larger) == Intent(DispatchMode.TRIM, -1800.0, -1500.0)
    assert intent(**larger, last_point_value=0.2545) == Intent(DispatchMode.TRIM, -1370.0, -1070.0)
    # At full power where the plan's later use is worth more than the export (0.45 > 0.40):
    # the same, no longer at full power.
    full = {**export, "plan_battery_w": -2400.0, "export_price": 0.40, "stored_value": 0.45}
    assert intent(**full).mode is DispatchMode.EXPORT_DISCHARGE
    assert intent(**full, last_point_value=0.43) == Intent(DispatchMode.TRIM, -1970.0, -1420.0)


def test_charge_from_the_grid_at_a_negative_import_price_while_there_is_room() -> None:
    assert intent(import_price=-0.02, plan_battery_w=0.0) == Intent(
        DispatchMode.GRID_CHARGE, 2400.0
    )
    # Full: the house imports while that pays, and the battery keeps its energy.
    full = replace(LIMITS, soc_percent=99.5)
    assert intent(full, import_price=-0.02).mode is DispatchMode.HOLD


def test_hold_only_when_keeping_the_energy_is_worth_more_than_the_import_now() -> None:
    # The plan idles in a deficit: worth it only when it discharges later at a higher price.
    assert intent(hold_value=0.45).mode is DispatchMode.HOLD
    assert intent(hold_value=0.30).mode is DispatchMode.FOLLOW_HOUSE
    assert intent(hold_value=0.0).mode is DispatchMode.FOLLOW_HOUSE
    # Covering part of the deficit: trimmed toward the plan's import.
    assert intent(plan_battery_w=-200.0, forecast_net_w=1000.0, hold_value=0.45) == Intent(
        DispatchMode.TRIM, -200.0, 800.0
    )


def test_a_surplus_is_exported_only_while_room_for_cheaper_energy_later_is_worth_it() -> None:
    # Negative prices later: export the morning's PV at 0.05 and keep the room for then, while
    # covering what the forecast did not see.
    surplus = {"forecast_net_w": -1500.0, "plan_battery_w": 0.0, "lowest_import_ahead": -0.1}
    assert intent(**surplus, export_price=0.05) == Intent(DispatchMode.TRIM, 0.0, 0.0)
    # Energy kept is worth more tonight than an import now: a plain hold.
    assert intent(**surplus, export_price=0.05, hold_value=0.45).mode is DispatchMode.HOLD
    assert intent(**surplus, export_price=0.0).mode is DispatchMode.FOLLOW_HOUSE
    # Energy later costs more than the export earns: store the surplus as the battery would.
    assert intent(**{**surplus, "lowest_import_ahead": 0.20}, export_price=0.05).mode is (
        DispatchMode.FOLLOW_HOUSE
    )
    assert intent(
        forecast_net_w=-1500.0, plan_battery_w=700.0, export_price=0.05, lowest_import_ahead=0.01
    ) == Intent(DispatchMode.TRIM, 700.0, -800.0)


def test_the_soc_limits_are_left_to_the_battery() -> None:
    full = replace(LIMITS, soc_percent=99.2)
    empty = replace(LIMITS, soc_percent=10.8)
    assert intent(full, plan_battery_w=2400.0).mode is DispatchMode.HOLD
    assert intent(empty, plan_battery_w=-2400.0, export_price=0.5).mode is (
        DispatchMode.FOLLOW_HOUSE
    )
    # What self-consumption would do at the limits: nothing in the blocked direction.
    assert self_consumption_w(-1000.0, replace(LIMITS, soc_percent=100.0)) == 0.0
    assert self_consumption_w(1000.0, replace(LIMITS, soc_percent=10.0)) == 0.0
    assert self_consumption_w(-3000.0, LIMITS) == 2400.0


def test_energy_a_peak_needs_later_is_never_exported() -> None:
    rich = {"export_price": 0.40, "lowest_import_ahead": 0.20}
    export = {"plan_battery_w": -2400.0, "forecast_net_w": 400.0, **rich}
    assert intent(**export).mode is DispatchMode.EXPORT_DISCHARGE
    # 50 % SOC, 10 % floor: 40 points above it. A reserve of 45 points keeps all of it...
    assert intent(**export, peak_reserve_percent=45.0).mode is DispatchMode.HOLD
    # ... one of 20 points leaves 20 to export.
    assert intent(**export, peak_reserve_percent=20.0).mode is DispatchMode.EXPORT_DISCHARGE


def test_the_peak_reserve_covers_no_ordinary_load() -> None:
    """At or below the reserve a deficit is left to the grid; the shaver covers peaks only."""
    deficit = {"plan_battery_w": -500.0, "forecast_net_w": 500.0, "hold_value": 0.0}
    assert intent(**deficit).mode is DispatchMode.FOLLOW_HOUSE
    assert intent(**deficit, peak_reserve_percent=45.0).mode is DispatchMode.HOLD
    # Above the reserve the battery covers the house as usual.
    assert intent(**deficit, peak_reserve_percent=30.0).mode is DispatchMode.FOLLOW_HOUSE
    # A surplus is still stored, and a planned charge still happens, whatever the reserve.
    surplus = {"plan_battery_w": 800.0, "forecast_net_w": -800.0}
    assert intent(**surplus, peak_reserve_percent=45.0).mode is DispatchMode.FOLLOW_HOUSE
    charge = {"plan_battery_w": 2400.0, "forecast_net_w": 300.0}
    assert intent(**charge, peak_reserve_percent=45.0).mode is DispatchMode.GRID_CHARGE


def test_a_full_power_discharge_exports_what_the_house_does_not_take_when_that_pays() -> None:
    # The plan discharges at full power into a 2.9 kW forecast: as self-consumption would. When
    # the house takes 1.2 kW, self-consumption exports nothing; the plan's point was the energy,
    # worth 0.62 exported now against 0.45 where the plan would otherwise use it (seen in closed
    # loop on a winter evening: 0.37 EUR left in the battery for a cheaper hour).
    evening = {
        "plan_battery_w": -2400.0,
        "forecast_net_w": 2900.0,
        "import_price": 0.91,
        "export_price": 0.62,
        "lowest_import_ahead": 0.26,
    }
    assert intent(**evening, stored_value=0.45) == Intent(DispatchMode.EXPORT_DISCHARGE, -2400.0)
    assert intent(**evening) == Intent(DispatchMode.EXPORT_DISCHARGE, -2400.0)
    # Worth more later (covering load at 0.70): the house's own deficit only.
    assert intent(**evening, stored_value=0.70).mode is DispatchMode.FOLLOW_HOUSE
    # Unless the plan itself exports at full power (into a forecast of 400 W): its choice.
    exporting = {**evening, "forecast_net_w": 400.0, "stored_value": 0.70}
    assert intent(**exporting) == Intent(DispatchMode.EXPORT_DISCHARGE, -2400.0)
    # Never what a peak later needs.
    assert intent(**evening, peak_reserve_percent=45.0).mode is DispatchMode.HOLD
    # A partial discharge is the plan's choice not to export: the house's deficit only.
    assert intent(**{**evening, "plan_battery_w": -1500.0, "forecast_net_w": 1500.0}).mode is (
        DispatchMode.FOLLOW_HOUSE
    )


def test_a_surplus_is_stored_when_the_plan_fills_the_battery_later_at_the_same_price() -> None:
    # Export 0.19 beats the lowest import ahead (0.18), but the plan fills the battery at 17:15
    # from a surplus it exports at 0.19 too: storing now costs nothing there.
    surplus = {"forecast_net_w": -1400.0, "plan_battery_w": 0.0, "lowest_import_ahead": 0.18}
    assert intent(**surplus, export_price=0.19, hold_value=0.5).mode is DispatchMode.HOLD
    stored = intent(**surplus, export_price=0.19, hold_value=0.5, fill_value=0.19)
    assert stored.mode is DispatchMode.FOLLOW_HOUSE
    # A fill worth less than the export now: the room is kept.
    kept = intent(**surplus, export_price=0.21, hold_value=0.5, fill_value=0.12)
    assert kept.mode is DispatchMode.HOLD
    # A fill is never a reason to keep room the import ahead would not: an export of 0.13
    # against energy bought back at 0.25 is stored, whatever the fill is worth.
    cheap = intent(**{**surplus, "lowest_import_ahead": 0.25}, export_price=0.13, fill_value=0.12)
    assert cheap.mode is DispatchMode.FOLLOW_HOUSE


def test_at_the_soc_limits_a_surplus_still_follows_the_room_rule() -> None:
    empty = replace(LIMITS, soc_percent=10.4)
    surplus = {"forecast_net_w": -800.0, "lowest_import_ahead": 0.18, "hold_value": 0.5}
    # Empty, the plan "discharges" 220 W into a morning surplus exported at 0.21: the room is
    # worth keeping (the plan fills at 0.12 this afternoon), so the PV goes to the grid.
    morning = intent(empty, **surplus, plan_battery_w=-220.0, export_price=0.21, fill_value=0.12)
    assert morning.mode is DispatchMode.HOLD
    # Not worth it: the battery's own control stores the surplus.
    late = intent(empty, **surplus, plan_battery_w=-220.0, export_price=0.12, fill_value=0.12)
    assert late.mode is DispatchMode.FOLLOW_HOUSE
    # Empty in a deficit: the battery's own control, as before.
    assert intent(empty, plan_battery_w=-500.0).mode is DispatchMode.FOLLOW_HOUSE
    # The SOC register counts whole percents: at 99 % in a surplus better stored, the battery
    # fills the last point by itself instead of standing by while the PV is exported.
    nearly_full = replace(LIMITS, soc_percent=99.0)
    stored = intent(nearly_full, **surplus, plan_battery_w=500.0, export_price=0.12)
    assert stored.mode is DispatchMode.FOLLOW_HOUSE
    exported = intent(nearly_full, **surplus, plan_battery_w=500.0, export_price=0.21)
    assert exported.mode is DispatchMode.HOLD
