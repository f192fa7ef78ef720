"""The planner's result: the planned schedule and the policy that follows it from any SOC."""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from numpy.typing import NDArray

from .params import CHARGE, MIN_POWER_W, IntArray, PlannedSlot, PlannerInputError, PlannerParams


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """Everything :meth:`Plan.policy_action` needs: the solver's decision for every state.

    The refined solve decides in a band of fine grid points around the plan; the coarse solve
    decides everywhere else.
    """

    actions: NDArray[np.int16]  # (slots, 2 directions, coarse points): signed coarse SOC steps
    band_targets: IntArray  # (slots, 2 directions, band width): fine target, -1 = unreachable
    band_low: IntArray  # (slots,): fine grid index of each slot's first band point
    start_moves: IntArray  # (slots,): fine target index from the start SOC, -1 = stay
    start_soc_percent: float
    grid_low_percent: float  # SOC of grid index 0 (coarse and fine)
    step_percent: float  # coarse
    step_kwh: float  # coarse
    fine_step_percent: float
    fine_step_kwh: float
    directions: IntArray  # (slots,): last direction before each slot, -1 = none yet
    at_start: NDArray[np.bool_]  # (slots,): the plan still sits at the start SOC


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """A planned schedule plus the policy to follow it from any measured SOC."""

    slots: tuple[PlannedSlot, ...]
    cost_eur: float
    """Energy cost of the schedule in EUR (penalties and virtual costs excluded)."""
    violations: tuple[str, ...]
    """Soft constraints the plan could not meet (``VIOLATION_*``); empty when all hold."""
    solve_ms: float
    params: PlannerParams
    slot_hours: tuple[float, ...]
    _policy: Policy

    @property
    def violated(self) -> bool:
        """Whether any soft constraint could not be met."""
        return bool(self.violations)

    def policy_action(self, slot_index: int, measured_soc_percent: float) -> tuple[float, float]:
        """Return ``(charge_w, discharge_w)`` for a measured SOC during a slot, without re-solving.

        The answer is the solver's optimal action from the grid state nearest the measured SOC
        (with the plan's last direction): the refined solve's near the plan, the coarse solve's
        elsewhere. It is limited so that the SOC stays inside the window during the rest of the
        slot; a power below the inverter's minimum becomes 0.
        """
        policy = self._policy
        if not 0 <= slot_index < len(self.slots):
            raise IndexError(f"slot_index {slot_index} outside 0..{len(self.slots) - 1}")
        if not math.isfinite(measured_soc_percent):
            raise PlannerInputError(f"measured SOC must be finite, got {measured_soc_percent!r}")
        params = self.params
        hours = self.slot_hours[slot_index]
        root = math.sqrt(params.round_trip_efficiency)
        if policy.at_start[slot_index] and (
            abs(measured_soc_percent - policy.start_soc_percent) < policy.step_percent / 2
        ):
            target = int(policy.start_moves[slot_index])
            if target < 0:
                return 0.0, 0.0
            target_percent = policy.grid_low_percent + target * policy.fine_step_percent
            delta_kwh = (target_percent - policy.start_soc_percent) * params.capacity_kwh / 100
        else:
            direction = max(int(policy.directions[slot_index]), CHARGE)
            offset = measured_soc_percent - policy.grid_low_percent
            fine = round(offset / policy.fine_step_percent)
            band = fine - int(policy.band_low[slot_index])
            width = policy.band_targets.shape[2]
            target = (
                int(policy.band_targets[slot_index, direction, band]) if 0 <= band < width else -1
            )
            if target >= 0:
                delta_kwh = (target - fine) * policy.fine_step_kwh
            else:
                # Far from the plan: the coarse solve's decision from the nearest coarse point.
                points = policy.actions.shape[2]
                index = min(max(round(offset / policy.step_percent), 0), points - 1)
                delta_kwh = int(policy.actions[slot_index, direction, index]) * policy.step_kwh
        if delta_kwh > 0:
            room_kwh = (params.max_soc_percent - measured_soc_percent) * params.capacity_kwh / 100
            power_w = min(delta_kwh, room_kwh) * 1000 / (root * hours)
            power_w = min(power_w, params.max_charge_w)
            return (power_w, 0.0) if power_w >= MIN_POWER_W else (0.0, 0.0)
        if delta_kwh < 0:
            room_kwh = (measured_soc_percent - params.min_soc_percent) * params.capacity_kwh / 100
            power_w = min(-delta_kwh, room_kwh) * 1000 * root / hours
            power_w = min(power_w, params.max_discharge_w)
            return (0.0, power_w) if power_w >= MIN_POWER_W else (0.0, 0.0)
        return 0.0, 0.0
