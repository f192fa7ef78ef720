"""Bills of the closed-loop benchmark: a meter on the simulated house, and the LP optimum.

Every policy is billed the same way: per local quarter, the imported energy at the effective
import price minus the exported energy at the export price, less the value of the energy the
battery holds at the end above what it held at the start (`EndValue`, the same rule for all
three bills). Tomorrow repeats today, so stored energy is worth what it saves tomorrow: the
value function of tomorrow's perfect-foresight LP, V(E) = tomorrow's cost from the floor -
tomorrow's cost from E (`end_value`). A flat value per kWh would reward ending full on a sunny
day, which no household gains from; a rule of thumb ("tomorrow's deficit before its first PV
surplus at its import price", used until 2026-11-30) paid more for the first kWh than tomorrow's
cheap night hours ask for it, and less for the rest, and so favoured whoever happened to end at
that deficit.

The perfect-foresight optimum is a linear programme over the day at one-minute resolution with
the simulator's physics: the minute's mean load and PV, the battery's charge and discharge
efficiencies, its power limit, the inverter's AC limit, the SOC window, the cells' constant BMS
drain, curtailment of the PV on the Indevolt's DC inputs only (what its feed-in limit can hold
back; PV on an inverter of its own cannot be curtailed), and each quarter's mean import at most
the peak limit (a soft limit, so a day where no schedule can stay under it still solves; its
highest quarter is reported).
Within a minute it nets load and PV perfectly, which the real battery (5-s CT) cannot: the
optimum is, if anything, slightly too good.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

from ems_simulator.house import BMS_DRAIN_W, DaySeries
from ems_simulator.model import MAX_POWER_W, HomeModel

PEAK_PENALTY_EUR_PER_WH = 1.0


@dataclass
class Bill:
    """What a policy paid over the day."""

    energy_eur: float = 0.0
    end_value_eur: float = 0.0
    max_quarter_import_w: float = 0.0

    @property
    def total_eur(self) -> float:
        """The bill, stored energy at the end valued fairly (credited)."""
        return self.energy_eur - self.end_value_eur


class Meter:
    """Reads the simulated house's counters at each quarter boundary and bills the quarter."""

    def __init__(self, model: HomeModel, import_prices: list[float], export_prices: list[float]):
        self.model = model
        self.import_prices = import_prices
        self.export_prices = export_prices
        self.bill = Bill()
        self.quarter = 0
        self.start_energy_wh = model.energy_wh
        self._import_wh = sum(model.import_wh)
        self._export_wh = sum(model.export_wh)

    def close_quarter(self) -> None:
        """Bill the quarter that just ended (call with the model at the boundary)."""
        imported = sum(self.model.import_wh) - self._import_wh
        exported = sum(self.model.export_wh) - self._export_wh
        self._import_wh += imported
        self._export_wh += exported
        q = self.quarter
        self.bill.energy_eur += (
            imported * self.import_prices[q] - exported * self.export_prices[q]
        ) / 1000
        self.bill.max_quarter_import_w = max(self.bill.max_quarter_import_w, imported * 4)
        self.quarter += 1

    def close_day(self, end: EndValue) -> Bill:
        """Value the energy stored, against the start; the bill of the day."""
        self.bill.end_value_eur = end.value_eur(self.model.energy_wh) - end.value_eur(
            self.start_energy_wh
        )
        return self.bill


@dataclass(frozen=True)
class Battery:
    """The simulated battery, as the optimum sees it."""

    capacity_wh: float
    floor_wh: float
    charge_efficiency: float
    discharge_efficiency: float
    peak_limit_w: float


@dataclass(frozen=True)
class EndValue:
    """What the energy in the battery at the end of the day is worth: concave, piecewise linear.

    `energy_wh` are breakpoints from the floor up, `value_eur` the value of holding each (0 at
    the floor); below the floor nothing is usable.
    """

    energy_wh: tuple[float, ...]
    value_eur_at: tuple[float, ...]

    @property
    def floor_wh(self) -> float:
        """The energy below which nothing is usable."""
        return self.energy_wh[0]

    def value_eur(self, energy_wh: float) -> float:
        """The value of holding `energy_wh`."""
        return float(np.interp(energy_wh, self.energy_wh, self.value_eur_at))

    def segments(self) -> list[tuple[float, float]]:
        """(width Wh, EUR per Wh) from the floor up, the slopes never increasing."""
        widths = np.diff(self.energy_wh)
        values = np.diff(self.value_eur_at)
        # A breakpoint may repeat (no deficit tomorrow before its first surplus): no segment.
        return [(float(w), float(v / w)) for w, v in zip(widths, values, strict=True) if w > 0]


def heuristic_end_value(
    series: DaySeries, import_prices: list[float], export_prices: list[float], battery: Battery
) -> EndValue:
    """A rule of thumb for the day after tomorrow: tomorrow's deficit before its first surplus.

    Stored energy is worth up to that deficit at its import price; beyond it the PV would have
    filled the battery anyway, and it is worth the export price of the surplus hours (both times
    the discharge efficiency). Used only as the end of tomorrow in `end_value`, a day away from
    the end it values, where its error hardly reaches.
    """
    need_wh = need_eur = 0.0
    surplus_quarters: list[int] = []
    for q, price in enumerate(import_prices):
        chunk = slice(q * 900, (q + 1) * 900)
        net_w = (
            sum(series.load_w[chunk]) - sum(series.pv_w[chunk]) - sum(series.ac_pv_w[chunk])
        ) / 900
        if net_w < 0:
            surplus_quarters.append(q)
        elif not surplus_quarters:
            need_wh += net_w / 4
            need_eur += net_w / 4 * price / 1000
    rest = surplus_quarters or list(range(len(export_prices)))
    rest_price = max(0.0, sum(export_prices[q] for q in rest) / len(rest))
    need_price = need_eur / need_wh * 1000 if need_wh else rest_price
    efficiency = battery.discharge_efficiency
    need_wh = min(need_wh / efficiency, battery.capacity_wh - battery.floor_wh)
    top_wh = battery.capacity_wh - battery.floor_wh
    need_value = need_wh * need_price * efficiency / 1000
    rest_value = need_value + (top_wh - need_wh) * rest_price * efficiency / 1000
    return EndValue(
        energy_wh=(battery.floor_wh, battery.floor_wh + need_wh, battery.capacity_wh),
        value_eur_at=(0.0, need_value, rest_value),
    )


def end_value(
    series: DaySeries,
    import_prices: list[float],
    export_prices: list[float],
    battery: Battery,
    *,
    points: int = 19,
) -> EndValue:
    """The value of the energy at the end of a day that repeats, to a perfect-foresight tomorrow.

    V(E) = what tomorrow costs starting at the floor - what it costs starting with E, each
    tomorrow solved as the perfect-foresight LP (its own end valued by `heuristic_end_value`).
    That is the value of energy at midnight whoever holds it: tomorrow's cheap night hours can
    refill the battery, so energy is worth no more than buying it then, and no less. Solved at
    `points` energies from the floor to full; the concave hull keeps the LP's value concave
    against rounding.
    """
    tomorrow_end = heuristic_end_value(series, import_prices, export_prices, battery)
    energies = np.linspace(battery.floor_wh, battery.capacity_wh, points)
    costs = [
        _day_cost(
            series,
            import_prices,
            export_prices,
            battery,
            start_wh=float(start_wh),
            end=tomorrow_end,
        )
        for start_wh in energies
    ]
    values = costs[0] - np.asarray(costs)
    # Concave hull from the left: no slope above the one before it.
    slopes = np.diff(values) / np.diff(energies)
    slopes = np.minimum.accumulate(np.maximum(slopes, 0.0))
    hull = np.concatenate(([0.0], np.cumsum(slopes * np.diff(energies))))
    return EndValue(tuple(float(e) for e in energies), tuple(float(v) for v in hull))


def optimum_bill(
    series: DaySeries,
    import_prices: list[float],
    export_prices: list[float],
    battery: Battery,
    *,
    initial_soc_percent: float,
    end: EndValue,
    wear_factor: float = 0.0,
) -> Bill:
    """The perfect-foresight bill of the day (LP, one-minute steps).

    `wear_factor` > 0 gives the optimum that obeys the optimiser's minimum price spread (its
    wear margin): every Wh charged also costs that share of what charging it costs (the
    import it adds or the export it forgoes), as the planner's virtual cost does. Its bill is
    still the plain energy bill.
    """
    start_wh = battery.capacity_wh * initial_soc_percent / 100
    solution = _solve(
        series,
        import_prices,
        export_prices,
        battery,
        start_wh=start_wh,
        end=end,
        wear_factor=wear_factor,
    )
    bill = Bill()
    bill.energy_eur = solution.energy_eur
    bill.end_value_eur = end.value_eur(solution.end_wh) - end.value_eur(start_wh)
    bill.max_quarter_import_w = solution.max_quarter_import_w
    return bill


def _day_cost(
    series: DaySeries,
    import_prices: list[float],
    export_prices: list[float],
    battery: Battery,
    *,
    start_wh: float,
    end: EndValue,
) -> float:
    """The day's perfect-foresight energy bill less the value of what it ends with."""
    solution = _solve(series, import_prices, export_prices, battery, start_wh=start_wh, end=end)
    return solution.energy_eur - end.value_eur(solution.end_wh)


@dataclass(frozen=True)
class _Solution:
    energy_eur: float
    end_wh: float
    max_quarter_import_w: float


def _solve(
    series: DaySeries,
    import_prices: list[float],
    export_prices: list[float],
    battery: Battery,
    *,
    start_wh: float,
    end: EndValue,
    wear_factor: float = 0.0,
) -> _Solution:
    """The LP over the day: energy cost less the end value, quarters under the peak (soft)."""
    quarters = len(import_prices)
    steps = quarters * 15
    load = _minute_means(series.load_w, steps) - _minute_means(series.ac_pv_w, steps)
    pv = _minute_means(series.pv_w, steps)
    p_import = np.repeat(np.array(import_prices), 15)
    p_export = np.repeat(np.array(export_prices), 15)
    segments = end.segments()
    # Variables: charge[t], discharge[t], import[t], energy[t] (end of minute t), slack[q],
    # the end energy above the floor split into the end value's segments, the DC PV
    # curtailed[t] and the wear margin's virtual cost wear[t] (EUR).
    charge, discharge, grid_in, energy = (np.arange(steps) + k * steps for k in range(4))
    slack = 4 * steps + np.arange(quarters)
    segment = 4 * steps + quarters + np.arange(len(segments))
    curtailed = 4 * steps + quarters + len(segments) + np.arange(steps)
    wear = 5 * steps + quarters + len(segments) + np.arange(steps)
    count = 6 * steps + quarters + len(segments)
    minute_h = 1 / 60
    cost = np.zeros(count)
    # Energy cost: (p_i - p_e) * import + p_e * (load - pv + curtailed + charge - discharge),
    # per Wh.
    cost[grid_in] = (p_import - p_export) * minute_h / 1000
    cost[charge] = p_export * minute_h / 1000
    cost[discharge] = -p_export * minute_h / 1000
    cost[curtailed] = p_export * minute_h / 1000
    cost[segment] = [-slope for _, slope in segments]
    cost[slack] = PEAK_PENALTY_EUR_PER_WH
    cost[wear] = 1.0

    equalities = lil_matrix((steps + 1, count))
    equality_rhs = np.full(steps + 1, -BMS_DRAIN_W * minute_h)
    for t in range(steps):
        equalities[t, energy[t]] = 1.0
        if t:
            equalities[t, energy[t - 1]] = -1.0
        equalities[t, charge[t]] = -battery.charge_efficiency * minute_h
        equalities[t, discharge[t]] = minute_h / battery.discharge_efficiency
    equality_rhs[0] += start_wh
    # energy at the end = floor + the segments
    equalities[steps, energy[-1]] = 1.0
    for index in segment:
        equalities[steps, index] = -1.0
    equality_rhs[steps] = end.floor_wh

    rows = 4 * steps + quarters
    upper = lil_matrix((rows, count))
    upper_rhs = np.zeros(rows)
    net = load - pv
    cost_without_battery = (
        (p_import * np.maximum(net, 0) - p_export * np.maximum(-net, 0)) * minute_h / 1000
    )
    for t in range(steps):
        # import >= load - pv + curtailed + charge - discharge
        upper[t, grid_in[t]] = -1.0
        upper[t, charge[t]] = 1.0
        upper[t, discharge[t]] = -1.0
        upper[t, curtailed[t]] = 1.0
        upper_rhs[t] = pv[t] - load[t]
        # The inverter's AC side: |pv - curtailed - (charge - discharge)| <= MAX_POWER_W.
        upper[steps + t, charge[t]] = -1.0
        upper[steps + t, discharge[t]] = 1.0
        upper[steps + t, curtailed[t]] = -1.0
        upper_rhs[steps + t] = MAX_POWER_W - pv[t]
        upper[2 * steps + t, charge[t]] = 1.0
        upper[2 * steps + t, discharge[t]] = -1.0
        upper[2 * steps + t, curtailed[t]] = 1.0
        upper_rhs[2 * steps + t] = MAX_POWER_W + pv[t]
        # wear >= factor x (the minute's energy cost - its cost without the battery): what
        # charging adds; 0 while discharging.
        per_wh = wear_factor * minute_h / 1000
        row = 3 * steps + quarters + t
        upper[row, grid_in[t]] = per_wh * (p_import[t] - p_export[t])
        for index in (charge[t], curtailed[t]):
            upper[row, index] = per_wh * p_export[t]
        upper[row, discharge[t]] = -per_wh * p_export[t]
        upper[row, wear[t]] = -1.0
        upper_rhs[row] = wear_factor * cost_without_battery[t] - per_wh * p_export[t] * net[t]
    for q in range(quarters):
        row = 3 * steps + q
        for t in range(q * 15, q * 15 + 15):
            upper[row, grid_in[t]] = minute_h
        upper[row, slack[q]] = -1.0
        upper_rhs[row] = battery.peak_limit_w * 0.25

    bounds = np.zeros((count, 2))
    bounds[charge] = (0, MAX_POWER_W)
    bounds[discharge] = (0, MAX_POWER_W)
    bounds[grid_in] = (0, math.inf)
    bounds[energy] = (battery.floor_wh, battery.capacity_wh)
    bounds[slack] = (0, math.inf)
    bounds[curtailed] = np.column_stack((np.zeros(steps), pv))
    bounds[wear] = (0, math.inf if wear_factor > 0 else 0)
    for index, (width, _) in zip(segment, segments, strict=True):
        bounds[index] = (0, width)
    result = linprog(
        cost,
        A_ub=upper.tocsr(),
        b_ub=upper_rhs,
        A_eq=equalities.tocsr(),
        b_eq=equality_rhs,
        bounds=bounds,
        method="highs",
    )
    if not result.success:
        raise RuntimeError(f"the optimum did not solve: {result.message}")
    x = result.x
    grid = load - pv + x[curtailed] + x[charge] - x[discharge]
    imported = x[grid_in]
    exported = imported - grid
    quarter_import = imported.reshape(quarters, 15).sum(axis=1) * minute_h * 4
    return _Solution(
        energy_eur=float(np.sum(p_import * imported - p_export * exported) * minute_h / 1000),
        end_wh=float(x[energy[-1]]),
        max_quarter_import_w=float(quarter_import.max()),
    )


def _minute_means(values: object, steps: int) -> np.ndarray:
    series = np.asarray(values, dtype=float)[: steps * 60]
    return series.reshape(steps, 60).mean(axis=1)
