"""The Belgian capacity tariff weighed against arbitrage: the grid peak to plan for. Pure logic.

With a capacity tariff (option `capacity_tariff_eur_per_kw_year` > 0) a month's peak costs
money only above what is billed anyway: the 2.5 kW floor and the month's peak so far (the P1's
`montly_power_peak_w`, the highest completed quarter). Shaving under those saves nothing this
month, so the limit in force is never below them. Above them, raising the month's peak from P to
P' costs `peak_increase_cost_eur(P, P', rate)` once (spread over the next 12 bills); the planner
plans for a few candidate limits and keeps the one whose energy cost plus capacity cost is lowest
(`weigh_peak_limits`). A new plan each quarter weighs again from the month's peak so far, so a
peak once paid for is free for the rest of the month.

Without the tariff (rate 0) the limit is the option's, or the month's peak when that is higher,
as it always was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from .tariffs import CAPACITY_FLOOR_KW, peak_increase_cost_eur

if TYPE_CHECKING:
    # Only a type: the shaver imports this module at every poll and needs no numpy.
    from .planner import Plan

CAPACITY_FLOOR_W: Final = CAPACITY_FLOOR_KW * 1000
# Limits above the base one the planner tries: evenly spaced up to what charging at full power on
# top of the forecast load needs. Each is a plan of ~25 ms (benchmarks/planner_bench.py).
CANDIDATE_STEPS: Final = 4
# A higher peak must save at least this much in total, so that a plan's rounding never raises it.
MIN_GAIN_EUR: Final = 0.01


class LimitReason(StrEnum):
    """Why the peak limit in force is what it is (the plan sensor's `peak_limit_reason`)."""

    OPTION = "option"  # the configured maximum desired grid peak
    MONTH_PEAK = "month_peak"  # the month's peak so far is higher: up to it is paid for
    CAPACITY_FLOOR = "capacity_floor"  # under 2.5 kW a peak is billed as 2.5 kW anyway
    ARBITRAGE = "arbitrage"  # the plan raised it: importing more earns more than it costs


@dataclass(frozen=True, slots=True)
class PeakLimit:
    """The import limit the planner and the shaver protect, and why."""

    limit_w: float
    reason: LimitReason


def limit_in_force(
    configured_w: float,
    month_peak_w: float | None,
    eur_per_kw_year: float,
    *,
    chosen_w: float | None = None,
) -> PeakLimit:
    """The highest of the option, the month's peak and, with the tariff, its floor and the plan's.

    `chosen_w` is the limit the last plan chose by weighing (only used with the tariff); a tie
    keeps the earlier reason (option, month peak, floor, arbitrage).
    """
    limit = PeakLimit(configured_w, LimitReason.OPTION)
    raises: list[tuple[float | None, LimitReason]] = [(month_peak_w, LimitReason.MONTH_PEAK)]
    if eur_per_kw_year > 0:
        raises += [
            (CAPACITY_FLOOR_W, LimitReason.CAPACITY_FLOOR),
            (chosen_w, LimitReason.ARBITRAGE),
        ]
    for value_w, reason in raises:
        if value_w is not None and value_w > limit.limit_w:
            limit = PeakLimit(value_w, reason)
    return limit


def candidate_limits_w(
    base_w: float, net_w: Sequence[float], max_charge_w: float, steps: int = CANDIDATE_STEPS
) -> tuple[float, ...]:
    """The base limit, and `steps` limits evenly above it up to the highest import it could use.

    The highest is charging at full power on top of the highest forecast net load; when that is
    not above the base, the base alone.
    """
    top_w = max(net_w, default=0.0) + max_charge_w
    if top_w <= base_w:
        return (base_w,)
    return tuple(base_w + (top_w - base_w) * step / steps for step in range(steps + 1))


def capacity_cost_eur(
    grid_w: Sequence[float],
    this_month: Sequence[bool],
    month_peak_w: float,
    eur_per_kw_year: float,
) -> float:
    """What the planned quarters' import adds to the capacity charge.

    Slots of this month raise its peak from `month_peak_w`; slots of the next month (a plan runs
    up to 48 h) start a month of their own, from the floor.
    """
    this_w = next_w = 0.0
    for power_w, inside in zip(grid_w, this_month, strict=True):
        if inside:
            this_w = max(this_w, power_w)
        else:
            next_w = max(next_w, power_w)
    return peak_increase_cost_eur(month_peak_w, this_w, eur_per_kw_year) + peak_increase_cost_eur(
        0.0, next_w, eur_per_kw_year
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """One limit weighed: the plan's energy cost and what its peak adds to the capacity charge."""

    limit_w: float
    energy_cost_eur: float
    capacity_cost_eur: float

    @property
    def total_eur(self) -> float:
        """What the plan costs in all."""
        return self.energy_cost_eur + self.capacity_cost_eur


@dataclass(frozen=True, slots=True)
class PlannedPeak:
    """The limit the last plan was made for, in which local month, and the candidates weighed."""

    limit: PeakLimit
    month: tuple[int, int]  # (year, month), local time
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True, slots=True)
class Weighing:
    """The plan kept, its limit, and every candidate weighed (lowest limit first)."""

    plan: Plan
    chosen: Candidate
    candidates: tuple[Candidate, ...]


def weigh_peak_limits(
    plan_for: Callable[[float], Plan],
    limits_w: Sequence[float],
    *,
    this_month: Sequence[bool],
    month_peak_w: float,
    eur_per_kw_year: float,
) -> Weighing:
    """Plan for each limit (lowest first) and keep the cheapest in energy plus capacity cost.

    A higher limit is kept only when it saves at least MIN_GAIN_EUR against the best lower one.
    """
    if not limits_w:
        raise ValueError("at least one candidate limit is needed")
    weighed = []
    for limit_w in sorted(limits_w):
        plan = plan_for(limit_w)
        cost_eur = capacity_cost_eur(
            [slot.grid_w for slot in plan.slots], this_month, month_peak_w, eur_per_kw_year
        )
        weighed.append((plan, Candidate(limit_w, plan.cost_eur, cost_eur)))
    kept_plan, kept = weighed[0]
    for plan, candidate in weighed[1:]:
        if candidate.total_eur < kept.total_eur - MIN_GAIN_EUR:
            kept_plan, kept = plan, candidate
    return Weighing(kept_plan, kept, tuple(candidate for _, candidate in weighed))
