"""The plan the optimiser follows, and how the plan sensor shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
import json
import math
from typing import TYPE_CHECKING, Any, Final

from .dispatch import SOC_LIMIT_MARGIN_PERCENT, SlotOutlook
from .peak_reserve import planned_peak_discharge_wh
from .planner import Plan
from .price_slots import SLOT, PriceHorizon, quarter_start

if TYPE_CHECKING:
    # Only a type: the forecasts' module reads Home Assistant's recorder; this one stays pure.
    from .forecast import Forecast

# The schedule leaves room for the other attributes within Home Assistant's 16 KB per state.
SCHEDULE_MAX_BYTES: Final = 14_000
# A planned discharge that keeps the grid within this much of the peak limit is shaving a peak.
PEAK_MARGIN_W: Final = 50.0
# A planned discharge with more export than this (W) exports; less is rounding.
EXPORT_MARGIN_W: Final = 50.0


@dataclass(frozen=True, slots=True)
class ActivePlan:
    """A plan with what it was made from."""

    plan: Plan
    start: datetime
    horizon: PriceHorizon
    created: datetime
    load: Forecast
    pv: Forecast
    # Per slot: stored energy (Wh) the worst recent day needed from it on for its peaks.
    peak_reserve_wh: tuple[float, ...] = ()
    # Derived once per plan (not at every poll), per slot: the forecast net load, and what
    # dispatch weighs of the slots after it (see `_AheadValues`).
    net_w: tuple[float, ...] = field(init=False)
    ahead: _AheadValues = field(init=False)
    # Per slot, from its first poll: (fraction of the slot gone, SOC measured, the policy's
    # charge W and discharge W from that SOC, the SOC points that power moves per slot).
    _slot_starts: dict[int, tuple[float, float, float, float, float]] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )
    # Per SOC floor, per slot: `_last_point_values`, derived once (the floor is the options').
    _last_points: dict[float, tuple[float | None, ...]] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        """Derive the per-slot values dispatch reads at every poll."""
        net_w = tuple(
            load - pv for load, pv in zip(self.load.values_w, self.pv.values_w, strict=True)
        )
        object.__setattr__(self, "net_w", net_w)
        object.__setattr__(self, "ahead", _ahead_values(self.plan, self.horizon))

    def slot_index(self, now: datetime) -> int | None:
        """The plan's slot for `now`, None outside the plan."""
        index = int((quarter_start(now) - self.start) / SLOT)
        return index if 0 <= index < len(self.plan.slots) else None

    def slot_power_w(
        self, index: int, now: datetime, measured_soc_percent: float
    ) -> tuple[float, float]:
        """The plan's (charge W, discharge W) for slot `index` at `now`.

        The policy's action is a constant power over a whole slot from the SOC the slot starts
        at. Asked again later in the slot, from a SOC that has already moved part of the way,
        it would plan a whole slot's move from there: at every poll a smaller step toward the
        slot's target, so a planned export of 2.3 kW delivered 1.3 kW on average (the closed
        loop's Belgian day, 17:00). The slot's first poll decides, and its power holds while
        the SOC moves as that power moves it. When the house moves it otherwise (a load the
        forecast did not see, covered by the battery's own control), the policy decides again
        for the SOC the slot would have started at to end up here: the start's SOC shifted by
        the difference. A difference under a point is the Indevolt's whole-percent reading.
        """
        fraction = (now - (self.start + index * SLOT)) / SLOT
        first = self._slot_starts.get(index)
        if first is None:
            # The Indevolt reads whole percents: within a point, the plan's own SOC is the
            # finer estimate (a point is 480 W over a quarter on a 12 kWh battery).
            planned = self.planned_soc_percent(index, now)
            if abs(measured_soc_percent - planned) < SOC_LIMIT_MARGIN_PERCENT:
                measured_soc_percent = planned
            charge_w, discharge_w = self.plan.policy_action(index, measured_soc_percent)
            params = self.plan.params
            root = math.sqrt(params.round_trip_efficiency)
            moved_kwh = (charge_w * root - discharge_w / root) * self.plan.slot_hours[index] / 1000
            move_percent = moved_kwh * 100 / params.capacity_kwh
            first = (fraction, measured_soc_percent, charge_w, discharge_w, move_percent)
            self._slot_starts[index] = first
        first_fraction, first_soc, charge_w, discharge_w, move_percent = first
        expected_soc = first_soc + move_percent * (fraction - first_fraction)
        difference = measured_soc_percent - expected_soc
        if abs(difference) < SOC_LIMIT_MARGIN_PERCENT:
            return charge_w, discharge_w
        return self.plan.policy_action(index, first_soc + difference)

    def last_point_value(self, index: int, min_soc_percent: float) -> float | None:
        """`_last_point_values` of slot `index`, for the SOC floor `min_soc_percent`."""
        values = self._last_points.get(min_soc_percent)
        if values is None:
            values = _last_point_values(self.plan, self.horizon, self.net_w, min_soc_percent)
            self._last_points[min_soc_percent] = values
        return values[index]

    def planned_soc_percent(self, index: int, now: datetime) -> float:
        """The plan's SOC at `now` (in slot `index`), interpolated within the slot."""
        slot = self.plan.slots[index]
        fraction = (now - (self.start + index * SLOT)) / SLOT
        return slot.soc_percent_start + (slot.soc_percent_end - slot.soc_percent_start) * fraction


def schedule_attribute(active: ActivePlan, now: datetime) -> list[dict[str, Any]]:
    """The plan from the current slot on, rounded, as long as it fits in SCHEDULE_MAX_BYTES."""
    first = active.slot_index(now) or 0
    entries: list[dict[str, Any]] = []
    size = 2  # the list's brackets
    for index in range(first, len(active.plan.slots)):
        slot = active.plan.slots[index]
        entry = {
            "start": (active.start + index * SLOT).isoformat(),
            "charge_w": round(slot.charge_w),
            "discharge_w": round(slot.discharge_w),
            "soc_percent_end": round(slot.soc_percent_end, 1),
            "import_price": round(active.horizon.import_eur_per_kwh[index], 4),
            "export_price": round(active.horizon.export_eur_per_kwh[index], 4),
        }
        size += len(json.dumps(entry, separators=(",", ":"))) + 1
        if size > SCHEDULE_MAX_BYTES:
            break
        entries.append(entry)
    return entries


def planned_action(charge_w: float, discharge_w: float) -> str:
    """`charge`, `discharge` or `idle`."""
    if charge_w > 0:
        return "charge"
    if discharge_w > 0:
        return "discharge"
    return "idle"


def slot_outlook(
    active: ActivePlan,
    index: int,
    plan_battery_w: float,
    battery: BatteryOptions,
    soc_offset_percent: float = 0.0,
) -> SlotOutlook:
    """The plan and the market of slot `index`, with the prices ahead that dispatch weighs.

    `soc_offset_percent` is the measured SOC less the plan's at this moment: the plan's powers
    kept, its SOC ahead is that much higher (or lower).
    """
    horizon = active.horizon
    slots = active.plan.slots
    efficiency = math.sqrt(battery.round_trip_efficiency)
    planned_wh = planned_peak_discharge_wh(
        [(slot.charge_w, slot.discharge_w, slot.grid_w) for slot in slots[index + 1 :]],
        peak_limit_w=battery.peak_limit_w,
        margin_w=PEAK_MARGIN_W,
        slot_hours=SLOT / timedelta(hours=1),
        discharge_efficiency=efficiency,
    )
    net_w = active.net_w
    history_wh = active.peak_reserve_wh[index] if index < len(active.peak_reserve_wh) else 0.0
    return SlotOutlook(
        plan_battery_w=plan_battery_w,
        forecast_net_w=net_w[index],
        import_price=horizon.import_eur_per_kwh[index],
        export_price=horizon.export_eur_per_kwh[index],
        hold_value=active.ahead.hold_value[index],
        lowest_import_ahead=active.ahead.lowest_import[index],
        round_trip_efficiency=battery.round_trip_efficiency,
        # A point is capacity / 100 stored; discharged, efficiency's square root of it arrives.
        point_w=battery.capacity_kwh * 10 * efficiency / (SLOT / timedelta(hours=1)),
        peak_reserve_percent=max(planned_wh, history_wh) / (10 * battery.capacity_kwh),
        stored_value=active.ahead.stored_value[index],
        last_point_value=active.last_point_value(index, battery.min_soc_percent),
        fill_value=_fill_value(
            [
                (
                    slots[j].soc_percent_end + soc_offset_percent,
                    net_w[j],
                    slots[j].grid_w,
                    horizon.import_eur_per_kwh[j],
                    horizon.export_eur_per_kwh[j],
                )
                for j in range(index, len(slots))
            ],
            battery,
        ),
    )


@dataclass(frozen=True, slots=True)
class _AheadValues:
    """Per slot, what the plan does in the slots after it, as dispatch weighs it."""

    # The highest import price at which the plan discharges later (0: it does not).
    hold_value: tuple[float, ...]
    # The lowest import price later (the slot's own for the last slot).
    lowest_import: tuple[float, ...]
    # The lowest price at which the plan uses stored energy later, before it charges again: the
    # export price where it exports while discharging, the import price where it covers load.
    stored_value: tuple[float | None, ...]


def _ahead_values(plan: Plan, horizon: PriceHorizon) -> _AheadValues:
    """The values of `_AheadValues`, in one pass from the plan's end."""
    count = len(plan.slots)
    hold_value: list[float] = [0.0] * count
    lowest_import: list[float] = [0.0] * count
    stored_value: list[float | None] = [None] * count
    highest_discharging: float | None = None
    lowest: float | None = None
    cheapest_use: float | None = None
    for index in range(count - 1, -1, -1):
        import_price = horizon.import_eur_per_kwh[index]
        hold_value[index] = 0.0 if highest_discharging is None else highest_discharging
        lowest_import[index] = import_price if lowest is None else lowest
        stored_value[index] = cheapest_use
        slot = plan.slots[index]
        lowest = import_price if lowest is None else min(lowest, import_price)
        if slot.discharge_w > 0 and (
            highest_discharging is None or import_price > highest_discharging
        ):
            highest_discharging = import_price
        if slot.charge_w > 0:
            # Energy stored before this slot is not what a later use of the battery takes.
            cheapest_use = None
        elif slot.discharge_w > 0:
            exporting = slot.grid_w < -EXPORT_MARGIN_W
            value = horizon.export_eur_per_kwh[index] if exporting else import_price
            cheapest_use = value if cheapest_use is None else min(cheapest_use, value)
    return _AheadValues(tuple(hold_value), tuple(lowest_import), tuple(stored_value))


def _fill_value(
    ahead: list[tuple[float, float, float, float, float]], battery: BatteryOptions
) -> float | None:
    """What a kWh stored now is worth where the plan's battery is next full (None: empty first).

    `ahead` is (SOC at the slot's end, forecast net load, grid W, import price, export price)
    per slot from now on. With the plan's powers kept, energy stored now stays in the battery
    until its SOC meets a limit. At the maximum the plan stores that much less: a surplus goes to
    the grid instead (the export price), or a charge from the grid is that much smaller (the
    import price). At the floor in a deficit it covers load the grid would have supplied, worth
    more than any export: None. A floor met in a surplus changes nothing, the plan only exports.
    """
    for soc_percent, net_w, grid_w, import_price, export_price in ahead:
        if soc_percent >= battery.max_soc_percent - SOC_LIMIT_MARGIN_PERCENT:
            return import_price if grid_w > EXPORT_MARGIN_W else export_price
        if soc_percent <= battery.min_soc_percent + SOC_LIMIT_MARGIN_PERCENT and net_w > 0:
            return None
    return None


def _last_point_values(
    plan: Plan, horizon: PriceHorizon, net_w: tuple[float, ...], min_soc_percent: float
) -> tuple[float | None, ...]:
    """Per slot: what a kWh kept then is worth when the plan counts on its battery to the last point.

    When the plan's battery is next empty (within a point of the floor: the SOC register counts
    whole percents) in a deficit, before it charges again, the odds are even that the battery is
    short by that point there (a kWh kept then saves that slot's import price) or not (it then
    takes the place of what the plan next charges: the import price where that comes from the
    grid, the export price where it is a PV surplus). With no charge after, a kWh kept covers a
    later deficit: that import price. None when the plan charges before it is empty, or is never
    empty in a deficit. A slot that is itself empty counts; its own charge does not.

    The plan's own SOC, not shifted by the reading: the plan starts each quarter from the
    measured SOC, and a decision that followed every reading within the quarter would switch
    the battery back and forth (in the closed loop, with this rule's first version: 58 writes a
    day instead of 36 on the summer day, 122 instead of 104 on a reseeded spring day, for 0.3
    points of value or none). In one pass from the plan's end.
    """
    slots = plan.slots
    values: list[float | None] = [None] * len(slots)
    later: float | None = None  # the value of the slot after this one
    charged_at: float | None = None  # the price of the first charge after this slot
    for index in range(len(slots) - 1, -1, -1):
        slot = slots[index]
        if slot.soc_percent_end <= min_soc_percent + SOC_LIMIT_MARGIN_PERCENT and net_w[index] > 0:
            shortfall = horizon.import_eur_per_kwh[index]
            values[index] = shortfall if charged_at is None else (shortfall + charged_at) / 2
        elif index + 1 < len(slots) and slots[index + 1].charge_w > 0:
            values[index] = None
        else:
            values[index] = later
        later = values[index]
        if slot.charge_w > 0:
            charged_at = (
                horizon.import_eur_per_kwh[index]
                if slot.grid_w > EXPORT_MARGIN_W
                else horizon.export_eur_per_kwh[index]
            )
    return tuple(values)


@dataclass(frozen=True, slots=True)
class BatteryOptions:
    """What `slot_outlook` needs of the entry's options."""

    capacity_kwh: float
    round_trip_efficiency: float
    peak_limit_w: float
    min_soc_percent: float
    max_soc_percent: float
