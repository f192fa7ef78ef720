"""Real-time layer: follow the plan, and keep every quarter's average grid import under the peak.

Pure logic, no I/O, called at every poll. The Belgian capacity tariff bills the highest average
import power over a 15-minute quarter in the month, so what must stay under the limit is the
quarter's import energy, not the instantaneous power: the quarter has a budget of
limit_w x 0.25 h. Each poll adds the import since the previous poll to the quarter's energy
(trapezoids over the P1 readings; after a poll that sent a command, from the import that command
brings, never less than the reading), spreads what is left of the budget over the rest of the
quarter, and assumes the present house load lasts until the quarter ends. When the plan's battery
power would push the import above that, the battery discharges more (or charges less).

Rules the caller relies on:
- Battery power is signed: charge +, discharge -. Grid power is signed: import +, export -.
- The effective limit is max(configured limit, the month's peak so far): once the month's peak is
  above the configured limit, shaving below it saves nothing on this month's bill, so the
  battery's energy is kept for the plan; above it, shaving still applies. With a capacity tariff
  it is never below the 2.5 kW floor either, and it is the limit the plan chose by weighing the
  capacity cost against arbitrage when that is higher (capacity.limit_in_force).
- Commands are 0 or 50..max W (the PowerFlex2000's range). A plan setpoint below 50 W becomes 0;
  a needed shave below 50 W becomes a 50 W discharge (safety first), and a reduced charge below
  50 W becomes 0.
- A command is sent (`command_pacing.py`) when it differs from the last sent one by more than
  the deadband, or starts, stops or reverses the battery; not within the minimum hold time after
  the last send, except to shave more (budget) or to stop at a SOC limit. A shave aims one
  deadband below the budget,
  so a change the deadband suppresses can never break it; a shave of a charge while the house
  alone is within the budget only stops it (a later need to discharge is a start, always sent).
- A shave never spends the day's reversals on a house hovering at the limit: after it has
  discharged in a quarter, no charge starts again until the quarter ends.
- A reading that is missing, not finite or implausible (a P1 reply of 1e400 or NaN, a SOC of
  250 %) is never acted on: the poll sends nothing, the last command stays in force, and the
  quarter's energy is not touched (the next good reading integrates over the gap).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
import math
from typing import Final

from .capacity import LimitReason, limit_in_force
from .command_pacing import (
    MIN_COMMAND_W,
    Command,
    Pacing,
    Reason,
    ShaverState,
    send_or_hold,
    within_daily_reversals,
)
from .dispatch import DispatchMode, Intent
from .price_slots import quarter_start
from .quarter_budget import KETTLE_W, allowed_import_w, target_import_w
from .readings import usable_power_w, usable_soc_percent

# Defaults: 100 W is the P1's usual noise on a household load; 30 s (six polls) keeps the inverter
# from chasing every kettle while letting the plan change well inside a quarter.
DEFAULT_DEADBAND_W: Final = 100.0
DEFAULT_MIN_HOLD_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class ShaverConfig:
    """Limits from the entry's options."""

    peak_limit_w: float
    max_charge_w: int
    max_discharge_w: int
    min_soc_percent: float
    max_soc_percent: float
    deadband_w: float = DEFAULT_DEADBAND_W
    min_hold_s: float = DEFAULT_MIN_HOLD_S
    # The load a house may add at any moment (0: none), kept in the quarter's budget.
    kettle_w: float = KETTLE_W
    # The Belgian capacity tariff (0: none) and the limit the plan chose with it (capacity.py).
    capacity_tariff_eur_per_kw_year: float = 0.0
    planned_limit_w: float | None = None


@dataclass(frozen=True, slots=True)
class Measurements:
    """One poll's readings and the plan's setpoint for the current slot."""

    now: datetime
    # P1 active_power_w: import +, export -.
    grid_power_w: float | None
    # The battery's AC power now, charge +, discharge -: measured if available (the P1 reading
    # includes what the battery really does, which lags a new command), else last commanded.
    battery_power_w: float | None
    soc_percent: float | None
    plan_charge_w: float = 0.0
    plan_discharge_w: float = 0.0
    # P1 active_power_average_w: the meter's running average import of this quarter.
    active_power_average_w: float | None = None
    # P1 montly_power_peak_w (the firmware's spelling): the highest quarter of the month so far.
    monthly_power_peak_w: float | None = None
    # The dispatch mode chosen from the plan (dispatch.py); None: the plan's power as a setpoint.
    intent: Intent | None = None
    # The local calendar day, for counting direction changes as a user sees them.
    local_date: date | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one poll."""

    # The command in force after this poll: the new one when `send`, else the last one sent
    # (with reason HOLD when the hold time keeps it in place of a different wish).
    command: Command
    send: bool
    # The caller keeps this and, after a successful write, passes it through `record_sent`.
    state: ShaverState
    limit_w: float
    # The highest average import over the rest of the quarter that keeps it within budget.
    allowed_import_w: float
    # Why `limit_w` is what it is.
    limit_reason: LimitReason = LimitReason.OPTION


@dataclass(frozen=True, slots=True)
class _Readings:
    """The measurements `decide` acts on, every one of them checked."""

    grid_w: float
    battery_w: float
    soc_percent: float
    plan_charge_w: float
    plan_discharge_w: float
    average_w: float | None


def _readings(measurements: Measurements) -> _Readings | None:
    """The usable readings, None when the grid power, battery power or SOC is not usable."""
    grid_w = usable_power_w(measurements.grid_power_w)
    battery_w = usable_power_w(measurements.battery_power_w)
    soc = usable_soc_percent(measurements.soc_percent)
    if grid_w is None or battery_w is None or soc is None:
        return None
    return _Readings(
        grid_w,
        battery_w,
        soc,
        usable_power_w(measurements.plan_charge_w) or 0.0,
        usable_power_w(measurements.plan_discharge_w) or 0.0,
        usable_power_w(measurements.active_power_average_w),
    )


def _imported_wh(readings: _Readings, state: ShaverState, now: datetime) -> float:
    """The energy imported so far in the current quarter, never less than the meter says."""
    quarter = quarter_start(now)
    import_w = max(readings.grid_w, 0.0)
    elapsed_h = (now - quarter).total_seconds() / 3600
    if state.quarter_start != quarter or state.sampled_at is None:
        # A new quarter (or the first poll): assume the present import since the quarter began.
        imported_wh = import_w * elapsed_h
    elif state.sampled_at > now:
        # The clock stepped back; keep what was counted rather than subtract.
        imported_wh = state.imported_wh
    else:
        interval_h = (now - state.sampled_at).total_seconds() / 3600
        imported_wh = state.imported_wh + (state.import_w + import_w) / 2 * interval_h
    if readings.average_w is not None:
        # The meter's own running average catches import between our polls; trust the larger.
        imported_wh = max(imported_wh, max(readings.average_w, 0.0) * elapsed_h)
    return imported_wh


def _planned_power_w(readings: _Readings, config: ShaverConfig) -> float:
    """The plan's signed battery power within the power and SOC limits."""
    power_w = min(readings.plan_charge_w, config.max_charge_w) - min(
        readings.plan_discharge_w, config.max_discharge_w
    )
    if power_w > 0 and readings.soc_percent >= config.max_soc_percent:
        return 0.0
    if power_w < 0 and readings.soc_percent <= config.min_soc_percent:
        return 0.0
    return power_w


def _command(power_w: float, reason: Reason, *, shaving: bool) -> Command:
    """A device command for a signed power, rounded to what the device accepts."""
    if shaving:
        # Round toward less import: discharge up (at least MIN_COMMAND_W), charge down.
        rounded = math.floor(power_w)
        if -MIN_COMMAND_W < rounded < 0:
            rounded = -MIN_COMMAND_W
    else:
        rounded = round(power_w)
    if abs(rounded) < MIN_COMMAND_W:
        return Command(reason=reason if shaving else Reason.IDLE)
    if rounded > 0:
        return Command(charge_w=rounded, reason=reason)
    return Command(discharge_w=-rounded, reason=reason)


def decide(measurements: Measurements, config: ShaverConfig, state: ShaverState) -> Decision:
    """Choose the battery command for this poll and whether to send it."""
    now = measurements.now.astimezone(UTC)
    quarter = quarter_start(now)
    limit = limit_in_force(
        config.peak_limit_w,
        usable_power_w(measurements.monthly_power_peak_w),
        config.capacity_tariff_eur_per_kw_year,
        chosen_w=config.planned_limit_w,
    )
    limit_w = limit.limit_w
    readings = _readings(measurements)
    if readings is None:
        # Nothing to act on: keep the last command and the quarter's energy as they are.
        counted_wh = state.imported_wh if state.quarter_start == quarter else 0.0
        held = Command() if state.sent is None else replace(state.sent, reason=Reason.HOLD)
        allowed_w = allowed_import_w(limit_w, counted_wh, now)
        return Decision(held, False, state, limit_w, allowed_w, limit.reason)
    imported_wh = _imported_wh(readings, state, now)

    # The house's own grid power, without the battery's.
    house_w = readings.grid_w - readings.battery_w
    allowed_w = allowed_import_w(limit_w, imported_wh, now)
    target_w = target_import_w(
        house_w,
        allowed_w=allowed_w,
        limit_w=limit_w,
        imported_wh=imported_wh,
        now=now,
        max_discharge_w=config.max_discharge_w,
        kettle_w=config.kettle_w if readings.soc_percent > config.min_soc_percent else 0.0,
    )
    ceiling_w = target_w - house_w
    intent = measurements.intent
    if intent is not None and intent.mode is DispatchMode.FOLLOW_HOUSE:
        # Self-consumption covers every deficit it can by itself: nothing to shave beyond it.
        planned_w = None
    elif intent is not None:
        planned_w = _intended_power_w(intent, house_w, readings.soc_percent, config, target_w)
    else:
        planned_w = _planned_power_w(readings, config)
    if planned_w is None:
        wish = Command(reason=Reason.FOLLOW_HOUSE, follow_house=True)
        plan_command = wish
    elif planned_w > ceiling_w:
        power_w = max(ceiling_w - config.deadband_w, -float(config.max_discharge_w))
        if readings.soc_percent <= config.min_soc_percent or (planned_w > 0 and ceiling_w >= 0):
            # At the floor; or the house alone is within the budget, so stopping the charge is
            # enough: a discharge aimed a deadband lower would reverse the battery at every swing
            # of a house hovering at the limit, spending the day's reversals on 50 W.
            power_w = max(power_w, 0.0)
        # Shaving only ever lowers the battery power below the plan.
        wish = _command(min(power_w, planned_w), Reason.SHAVE_PEAK, shaving=True)
        plan_command = _command(planned_w, Reason.FOLLOW_PLAN, shaving=False)
    else:
        wish = plan_command = _command(planned_w, Reason.FOLLOW_PLAN, shaving=False)
    if wish.power_w == plan_command.power_w:
        wish = plan_command
    if wish.power_w > 0 and state.shave_discharged_in == quarter:
        # The house has been at the limit this quarter: charging again as soon as the budget
        # has a little room would reverse the battery at each of its swings.
        wish = Command(reason=Reason.SHAVE_PEAK)
    wish = within_daily_reversals(wish, state, measurements.local_date)

    pacing = Pacing(
        config.deadband_w, config.min_hold_s, config.min_soc_percent, config.max_soc_percent
    )
    command, send = send_or_hold(wish, state, now, pacing=pacing, soc_percent=readings.soc_percent)
    import_w = max(readings.grid_w, 0.0)
    if send and not command.follow_house:
        # The reading was taken before the command: from now on the grid carries the new
        # battery power. Counting only the reading would leave out half of every step up to the
        # next poll, which adds up over a quarter at the budget (4005 W at a 4000 W limit).
        import_w = max(import_w, house_w + command.power_w)
    shaving_by_discharge = command.reason is Reason.SHAVE_PEAK and command.power_w < 0
    new_state = replace(
        state,
        quarter_start=quarter,
        imported_wh=imported_wh,
        sampled_at=now,
        import_w=import_w,
        shave_discharged_in=quarter if shaving_by_discharge else state.shave_discharged_in,
    )
    return Decision(
        command,
        send,
        new_state,
        limit_w,
        allowed_w,
        limit.reason,
    )


def _intended_power_w(
    intent: Intent,
    house_w: float,
    soc_percent: float,
    config: ShaverConfig,
    target_w: float,
) -> float:
    """The signed battery power of a real-time mode, TRIM corrected from the measured house."""
    if intent.mode is DispatchMode.TRIM:
        # A trim aims one deadband below the budget, like a shave: a correction the deadband
        # suppresses then never breaks it.
        target_w = min(intent.grid_target_w, target_w - config.deadband_w)
        power_w = target_w - house_w
        # A trim only ever adjusts the plan's direction: it never reverses the battery.
        power_w = max(power_w, 0.0) if intent.power_w > 0 else min(power_w, 0.0)
        if intent.power_w > 0 and house_w < 0:
            # A surplus the forecast did not see is stored, but no more is bought from the
            # grid than the plan's charge needs: the sun may fill the battery after all.
            power_w = min(power_w, max(intent.power_w, -house_w))
    elif intent.mode is DispatchMode.HOLD:
        power_w = 0.0
    else:
        power_w = intent.power_w
    power_w = min(max(power_w, -float(config.max_discharge_w)), float(config.max_charge_w))
    if power_w > 0 and soc_percent >= config.max_soc_percent:
        return 0.0
    if power_w < 0 and soc_percent <= config.min_soc_percent:
        return 0.0
    return power_w
