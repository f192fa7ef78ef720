"""Pacing of the battery's commands: what was sent and when, deadband, hold time, reversals.

Pure logic, no I/O; the peak shaver (`peak_shaver.py`) decides what the battery should do, this
module whether that is worth a write now:
- a command is sent when it differs from the last sent one by more than the deadband, or starts,
  stops or reverses the battery, or switches modes; not within the minimum hold time after the
  last send, except to shave more or to stop at a SOC limit;
- past the day's reversals (the plan's promise to a user, counted per local calendar day), a
  command that would reverse the battery follows the house instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Final

# The PowerFlex2000 accepts real-time commands from this power up; below it only 0.
MIN_COMMAND_W: Final = 50
# The plan's promise to a user: at most this many charge <-> discharge reversals a local day.
MAX_DIRECTION_CHANGES_PER_DAY: Final = 8


class Reason(StrEnum):
    """Why the battery gets the command it gets."""

    FOLLOW_PLAN = "follow_plan"
    FOLLOW_HOUSE = "follow_house"
    SHAVE_PEAK = "shave_peak"
    HOLD = "hold"
    IDLE = "idle"


@dataclass(frozen=True, slots=True)
class Command:
    """A battery command: real-time (at most one power non-zero) or self-consumption mode."""

    charge_w: int = 0
    discharge_w: int = 0
    reason: Reason = Reason.IDLE
    # The battery's own self-consumption mode (47005 = 1) instead of a real-time command.
    follow_house: bool = False

    @property
    def power_w(self) -> int:
        """The signed battery power: charge +, discharge -."""
        return self.charge_w - self.discharge_w


@dataclass(frozen=True, slots=True)
class Pacing:
    """The limits a send is paced by (from the shaver's configuration)."""

    deadband_w: float
    min_hold_s: float
    min_soc_percent: float
    max_soc_percent: float


@dataclass(frozen=True, slots=True)
class ShaverState:
    """What the shaver remembers between polls; start with `ShaverState()`."""

    quarter_start: datetime | None = None
    imported_wh: float = 0.0
    sampled_at: datetime | None = None
    import_w: float = 0.0
    sent: Command | None = None
    sent_at: datetime | None = None
    # Charge <-> discharge reversals sent on `changes_date` (a local day), and the last direction.
    changes_date: date | None = None
    direction_changes: int = 0
    last_direction: int = 0
    # The quarter in which a shave last discharged: no charge starts again until it ends.
    shave_discharged_in: datetime | None = None


def within_daily_reversals(wish: Command, state: ShaverState, local_date: date | None) -> Command:
    """Past the day's reversals, a command that would reverse the battery follows the house."""
    direction = direction_of(wish.power_w)
    if (
        local_date is None
        or state.changes_date != local_date
        or state.direction_changes < MAX_DIRECTION_CHANGES_PER_DAY
        or direction == 0
        or state.last_direction in (0, direction)
    ):
        return wish
    return Command(reason=Reason.FOLLOW_HOUSE, follow_house=True)


def send_or_hold(
    wish: Command,
    state: ShaverState,
    now: datetime,
    *,
    pacing: Pacing,
    soc_percent: float,
) -> tuple[Command, bool]:
    """Apply the deadband and the hold time: the command in force and whether to send it."""
    sent = state.sent
    if sent is None:
        return wish, True
    # Starting, stopping or reversing the battery, or switching modes, always counts.
    changes_direction = (
        direction_of(wish.power_w) != direction_of(sent.power_w)
        or wish.follow_house != sent.follow_house
    )
    if abs(wish.power_w - sent.power_w) <= pacing.deadband_w and not changes_direction:
        return sent, False
    safety = (wish.reason is Reason.SHAVE_PEAK and wish.power_w < sent.power_w) or (
        (sent.power_w < 0 and soc_percent <= pacing.min_soc_percent)
        or (sent.power_w > 0 and soc_percent >= pacing.max_soc_percent)
    )
    held = state.sent_at is not None and (now - state.sent_at).total_seconds() < pacing.min_hold_s
    if held and not safety:
        return replace(sent, reason=Reason.HOLD), False
    return wish, True


def direction_of(power_w: int) -> int:
    """-1 discharging, 0 idle, 1 charging."""
    return (power_w > 0) - (power_w < 0)


def record_sent(
    state: ShaverState, command: Command, now: datetime, local_date: date | None = None
) -> ShaverState:
    """The state after `command` was written to the battery at `now` (on `local_date`)."""
    changes = state.direction_changes if state.changes_date == local_date else 0
    direction = direction_of(command.power_w)
    last = state.last_direction
    if direction:
        if last and direction != last:
            changes += 1
        last = direction
    return replace(
        state,
        sent=command,
        sent_at=now.astimezone(UTC),
        changes_date=local_date,
        direction_changes=changes,
        last_direction=last,
    )
