"""Savings against the battery's own self-consumption mode: a virtual battery on the real house.

Pure logic, no I/O. What the optimiser adds beyond the device is the difference between the
bill the house would have had with the battery in its own self-consumption mode and the bill it
has. The first cannot be measured, so a virtual battery plays self-consumption on the measured
house: each poll, the house's own net power (the P1 power minus the battery's) is what it
absorbs (a surplus) or covers (a deficit), within its power limits and between the SOC floor and
the max SOC, with the round-trip efficiency split evenly over charge and discharge.

The virtual battery starts at the measured SOC when the optimiser switches on, and is set to the
measured SOC again at each local midnight, so "today" compares days that start alike. Savings are
counted at the quarter's prices over the interval since the previous poll; a gap of more than
five minutes (a restart, a dead device) is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
import math


@dataclass(slots=True)
class VirtualBattery:
    """A battery in self-consumption mode, in kWh and W."""

    capacity_kwh: float
    soc_percent: float
    min_soc_percent: float
    max_soc_percent: float
    max_charge_w: float
    max_discharge_w: float
    round_trip_efficiency: float

    def run(self, house_net_w: float, hours: float) -> float:
        """Follow the house's net power (+ deficit) for `hours`; the grid power it leaves."""
        one_way = math.sqrt(self.round_trip_efficiency)
        capacity_wh = self.capacity_kwh * 1000
        stored_wh = capacity_wh * self.soc_percent / 100
        if house_net_w < 0:
            room_wh = capacity_wh * self.max_soc_percent / 100 - stored_wh
            power_w = min(-house_net_w, self.max_charge_w, max(room_wh, 0.0) / one_way / hours)
            stored_wh += power_w * one_way * hours
        else:
            available_wh = stored_wh - capacity_wh * self.min_soc_percent / 100
            power_w = -min(
                house_net_w, self.max_discharge_w, max(available_wh, 0.0) * one_way / hours
            )
            stored_wh += power_w / one_way * hours
        self.soc_percent = 100 * stored_wh / capacity_wh
        return house_net_w + power_w


def energy_cost_eur(grid_w: float, hours: float, import_price: float, export_price: float) -> float:
    """The cost of a grid power held for `hours` (import +, export -)."""
    price = import_price if grid_w > 0 else export_price
    return grid_w * price * hours / 1000


@dataclass(slots=True)
class SavingsAgainstDevice:
    """Savings against the virtual self-consumption battery: today's (local) and in total."""

    today_eur: float = 0.0
    total_eur: float = 0.0
    day: date | None = None
    day_started: datetime | None = None

    def start_day(self, day: date, started: datetime) -> None:
        """A new local day (or a start): today's count starts from 0 unless it is the same day."""
        if day != self.day:
            self.today_eur = 0.0
        self.day = day
        self.day_started = started

    def add(self, eur: float) -> None:
        """Add one interval's saving to both counts."""
        self.today_eur += eur
        self.total_eur += eur
