"""Dispatch: what the plan means for the battery in real time, as one of five modes.

Pure logic, no I/O. The planner gives a battery power per quarter for a forecast load and PV;
the house does not follow the forecast (a kettle, a cloud), so a fixed setpoint per quarter
imports whenever the house differs. The plan is therefore read as an intended grid exchange and
turned into a mode the battery can hold through the quarter (docs/optimiser.md):

- FOLLOW_HOUSE: the battery's own self-consumption mode (47005 = 1). It absorbs surplus and
  covers deficits by itself, second by second. Chosen whenever the plan does what
  self-consumption would do anyway, at the SOC floor, and whenever holding is not worth it.
- HOLD: real-time standby. Only when the energy kept is worth more later (a higher import price
  at which the plan discharges) than the import it costs now, to export PV at a price above
  what storing it is worth (keeping room: `room_worth_keeping`), or when full in a slot the
  plan charges in.
- GRID_CHARGE / EXPORT_DISCHARGE: a fixed power, when the plan runs the battery at (nearly) full
  power: the energy moved is the point, not the grid exchange.
- TRIM: real-time mode with the setpoint corrected at every poll from the measured P1 power
  toward the plan's grid exchange (the shaver's deadband and hold time apply), never against
  the plan's direction. A trim toward no import that only discharges keeps room for later while
  still covering what the forecast did not see.

Prices: the battery never exports energy a peak later needs (the peak reserve: what the plan
discharges at the limit before it charges again, or what the worst recent day needed, since a
forecast smears a car's charging and the real one is higher), nor into an export price below the import-side value of
the energy (what it costs to buy it back later through the battery: the lowest import price ahead
over the round-trip efficiency, at least 0), nor the last point the plan counts on where it
next covers the house down to the floor, when a kWh kept is worth more (`export_runs_short`: the
export is a point smaller), and
it charges from the grid at full power while the import price is negative and there is room.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .command_pacing import MIN_COMMAND_W

# The plan's power counts as "what self-consumption does" within this much (W), or within
# this share of the forecast net load, whichever is more.
MATCH_TOLERANCE_W: Final = 100.0
MATCH_TOLERANCE_SHARE: Final = 0.15
# Within this many watts of the battery's maximum, a planned power is "full power".
FULL_POWER_MARGIN_W: Final = 50.0
# SOC points from a limit at which the battery is left to its own control (no chatter).
SOC_LIMIT_MARGIN_PERCENT: Final = 1.0


class DispatchMode(StrEnum):
    """How the battery is run during a poll."""

    FOLLOW_HOUSE = "follow_house"
    HOLD = "hold"
    GRID_CHARGE = "grid_charge"
    EXPORT_DISCHARGE = "export_discharge"
    TRIM = "trim"


@dataclass(frozen=True, slots=True)
class Intent:
    """The chosen mode: a battery power (charge +) for the fixed modes, a grid target for TRIM."""

    mode: DispatchMode
    power_w: float = 0.0
    grid_target_w: float = 0.0


@dataclass(frozen=True, slots=True)
class SlotOutlook:
    """The plan and the market for the current slot, and what lies ahead."""

    plan_battery_w: float  # the plan's power at the measured SOC: charge +, discharge -
    forecast_net_w: float  # forecast load - PV: + deficit, - surplus
    import_price: float  # EUR/kWh, effective
    export_price: float
    hold_value: float  # the highest import price ahead at which the plan discharges (0: none)
    lowest_import_ahead: float  # the lowest import price ahead (this slot's when none)
    round_trip_efficiency: float
    # The discharge power (W) that moves the SOC one point over a quarter: what an export keeps
    # back where the plan counts on its last point (`export_runs_short`).
    point_w: float
    # SOC points above the floor kept for the peaks still to come (peak_reserve.py): the most the
    # plan discharges at the limit before it charges again, or the worst recent day needed.
    peak_reserve_percent: float = 0.0
    # What a kWh stored now is worth where the plan's battery is next full, before it is empty
    # in a deficit (None: it is not): the plan stores that much less there, a surplus it then
    # exports (the export price) or a charge from the grid (the import price).
    fill_value: float | None = None
    # The lowest price at which the plan uses stored energy ahead, before it charges again: the
    # export price where it exports, the import price where it covers load (None: no use). A
    # kWh more discharged now is one less there.
    stored_value: float | None = None
    # What a kWh kept now is worth when the plan's battery is next empty in a deficit before it
    # charges again (None: it charges first, or is not): even odds of saving the import there or
    # of taking the place of the plan's next charge (`active_plan._last_point_value`).
    last_point_value: float | None = None


@dataclass(frozen=True, slots=True)
class BatteryLimits:
    """The window and powers of the options, and the measured SOC."""

    soc_percent: float
    min_soc_percent: float
    max_soc_percent: float
    max_charge_w: float
    max_discharge_w: float


def self_consumption_w(net_w: float, limits: BatteryLimits) -> float:
    """What the battery's own self-consumption mode would do for a net load (charge +)."""
    power = min(max(-net_w, -limits.max_discharge_w), limits.max_charge_w)
    if power > 0 and limits.soc_percent >= limits.max_soc_percent:
        return 0.0
    if power < 0 and limits.soc_percent <= limits.min_soc_percent:
        return 0.0
    return power


def export_value(outlook: SlotOutlook) -> float:
    """The import-side value of a stored kWh: what buying it back through the battery costs."""
    return max(0.0, outlook.lowest_import_ahead / outlook.round_trip_efficiency)


def export_pays(outlook: SlotOutlook) -> bool:
    """Whether exporting stored energy now earns more than keeping it for the plan's later use."""
    if outlook.export_price < export_value(outlook):
        return False
    return outlook.stored_value is None or outlook.export_price >= outlook.stored_value


def export_runs_short(outlook: SlotOutlook) -> bool:
    """Whether the plan exports now what it may have to buy back dearer before it charges again.

    A plan exports only what it does not need until it charges again, so where it then covers
    the house it just reaches the floor: it counts on the battery to the last point. The
    Indevolt reads whole percents (a point is 120 Wh on 12 kWh) and the forecast misses loads;
    short by that much, the house buys it back at that slot's import price. When a kWh kept
    is worth more than the export earns (`SlotOutlook.last_point_value`), the export keeps that
    point back (`SlotOutlook.point_w` less for the quarter), not all of it: the replan of the
    next quarter starts a point higher and exports the rest again, so the battery carries one
    point above the plan's path until it charges. (Closed loop, spring day +100, perfect
    forecasts: 357 W exported at 0.24 EUR/kWh at 07:00, bought at 0.449 at 07:45.)
    """
    return outlook.last_point_value is not None and outlook.last_point_value > outlook.export_price


def room_worth_keeping(outlook: SlotOutlook) -> bool:
    """Whether a surplus earns more exported now than stored.

    Stored, it covers load later, at an import price of at least the lowest ahead (a PV surplus
    later is no reason to keep room: the battery can store both when it is not full). When the
    plan fills the battery later, it also only replaces what the plan stores there
    (`fill_value`), which may be worth less still.
    """
    if outlook.export_price <= max(outlook.lowest_import_ahead, 0.0):
        return False
    return outlook.fill_value is None or outlook.export_price > outlook.fill_value


def choose_intent(outlook: SlotOutlook, limits: BatteryLimits) -> Intent:
    """The mode (and its power or grid target) for this poll."""
    room = limits.soc_percent < limits.max_soc_percent - SOC_LIMIT_MARGIN_PERCENT
    energy = limits.soc_percent > limits.min_soc_percent + SOC_LIMIT_MARGIN_PERCENT
    if outlook.import_price < 0 and room:
        # Paid to take energy: take all the battery can.
        return Intent(DispatchMode.GRID_CHARGE, limits.max_charge_w)
    plan_w = outlook.plan_battery_w
    net_w = outlook.forecast_net_w
    if plan_w > 0 and not room:
        if net_w < 0 and not room_worth_keeping(outlook):
            # Nearly full in a surplus better stored than exported: the battery's own control
            # fills the last points (the SOC register counts whole percents).
            return Intent(DispatchMode.FOLLOW_HOUSE)
        # Full in a slot the plan charges in: energy is cheap now, the house imports it and the
        # battery keeps its charge (standby: no chatter between "full" and "charge 60 W").
        return Intent(DispatchMode.HOLD)
    if plan_w < 0 and not energy:
        if net_w >= 0 or not room_worth_keeping(outlook):
            # Empty: the battery's own control still stores any surplus.
            return Intent(DispatchMode.FOLLOW_HOUSE)
        # Empty in a surplus better exported now: as an idle plan.
        plan_w = 0.0
    follow_w = self_consumption_w(net_w, limits)
    reserved = limits.soc_percent <= (
        limits.min_soc_percent + outlook.peak_reserve_percent + SOC_LIMIT_MARGIN_PERCENT
    )
    if reserved and outlook.peak_reserve_percent > 0 and net_w > 0 and plan_w <= 0:
        # What is left is the peak reserve: it covers no ordinary load, only what would break a
        # quarter's peak budget (the shaver discharges that in standby).
        return Intent(DispatchMode.HOLD)
    if (
        plan_w <= -(limits.max_discharge_w - FULL_POWER_MARGIN_W)
        and not reserved
        and export_pays(outlook)
    ):
        # Full power is the plan's point, not covering the forecast load: when the house takes
        # less, the rest earns more exported now than where the plan would use it later.
        return Intent(DispatchMode.EXPORT_DISCHARGE, plan_w)
    tolerance = max(MATCH_TOLERANCE_W, MATCH_TOLERANCE_SHARE * abs(net_w))
    planned_grid_w = net_w + plan_w
    if abs(plan_w - follow_w) <= tolerance:
        return Intent(DispatchMode.FOLLOW_HOUSE)
    if plan_w > max(follow_w, 0.0):
        # More charge than the house's surplus: from the grid.
        if plan_w >= limits.max_charge_w - FULL_POWER_MARGIN_W:
            return Intent(DispatchMode.GRID_CHARGE, plan_w)
        return Intent(DispatchMode.TRIM, plan_w, planned_grid_w)
    # Less charge (or more discharge, or less cover) than self-consumption would give.
    if plan_w < 0 and planned_grid_w < -tolerance:
        # The plan exports battery energy: never what a peak later needs (the forecast may
        # underestimate it), never below what the energy costs to buy back, never the point it
        # may be short of later (`export_runs_short`).
        if reserved or outlook.export_price < export_value(outlook):
            return Intent(DispatchMode.FOLLOW_HOUSE)
        if export_runs_short(outlook):
            plan_w += outlook.point_w
            planned_grid_w += outlook.point_w
            if plan_w >= 0 or planned_grid_w >= -tolerance:
                # No more than the point (or rounding) to export: the battery covers the house.
                return Intent(DispatchMode.FOLLOW_HOUSE)
        if -plan_w >= limits.max_discharge_w - FULL_POWER_MARGIN_W:
            return Intent(DispatchMode.EXPORT_DISCHARGE, plan_w)
        return Intent(DispatchMode.TRIM, plan_w, planned_grid_w)
    if net_w > 0:
        # A deficit the plan covers only in part (or not at all): it keeps energy for later.
        if outlook.hold_value <= outlook.import_price:
            return Intent(DispatchMode.FOLLOW_HOUSE)
        if plan_w > -MIN_COMMAND_W:
            return Intent(DispatchMode.HOLD)
        return Intent(DispatchMode.TRIM, plan_w, planned_grid_w)
    # A surplus the plan stores only in part (or not at all): it exports PV and keeps room,
    # while that earns more than storing it.
    if not room_worth_keeping(outlook):
        return Intent(DispatchMode.FOLLOW_HOUSE)
    if plan_w >= MIN_COMMAND_W:
        return Intent(DispatchMode.TRIM, plan_w, planned_grid_w)
    if outlook.hold_value > outlook.import_price:
        return Intent(DispatchMode.HOLD)
    # Keep the room but cover a deficit the forecast did not see (a kettle, a cloud): a trim
    # toward no import that only ever discharges.
    return Intent(DispatchMode.TRIM, 0.0, 0.0)
