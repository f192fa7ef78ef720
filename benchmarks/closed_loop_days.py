"""The days of the closed-loop benchmark: a house, a roof, a market and a tariff each.

Prices are bare day-ahead prices per local hour (EUR/kWh, as ENTSO-E publishes them); the
options turn them into what the household pays (markup, energy tax, VAT) and gets for export
(the bare price: no net metering, as in the Netherlands from 2027 and in Belgium today).

Five days are synthetic: the house model is seeded and documented in `ems_simulator/house.py`.
One is measured: a household's load per minute from the UCI Machine Learning Repository
(`data/uci_household_2007-02.csv`, CC BY 4.0; two February days of a house in Sceaux, France,
without PV), the first day serving as the recorder's history of the second.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from custom_components.ems.const import (
    CONF_ENERGY_TAX,
    CONF_IMPORT_MARKUP,
    CONF_MAX_GRID_PEAK_W,
    CONF_VAT_PERCENT,
)
from ems_simulator.house import Appliance, DaySeries, HouseSpec, day_series

DATA = Path(__file__).with_name("data")

NL_TARIFF: dict[str, Any] = {
    CONF_IMPORT_MARKUP: 0.02,
    CONF_ENERGY_TAX: 0.1108,
    CONF_VAT_PERCENT: 21.0,
}
BE_TARIFF: dict[str, Any] = {
    CONF_IMPORT_MARKUP: 0.015,
    CONF_ENERGY_TAX: 0.05,
    CONF_VAT_PERCENT: 6.0,
}


@dataclass(frozen=True)
class Day:
    """One benchmark day."""

    name: str
    day: date
    time_zone: str
    house: HouseSpec
    hourly_price: tuple[float, ...]  # bare, per local hour, 24 values
    options: dict[str, Any] = field(default_factory=dict)
    initial_soc_percent: float = 30.0
    seed: int = 1
    # A measured load per minute (`data/`): the house's load instead of the model's, no PV.
    measured_load: str | None = None

    def series(self, day: date) -> DaySeries | None:
        """The house on local calendar `day` (None: a measured day's file does not have it)."""
        if self.measured_load is None:
            return day_series(self.house, day, self.tz, self.seed)
        return measured_series(DATA / self.measured_load, day, self.tz)

    @property
    def tz(self) -> ZoneInfo:
        """The day's time zone."""
        return ZoneInfo(self.time_zone)

    def import_price(self, bare: float) -> float:
        """What a kWh from the grid costs, as the optimiser's options compute it."""
        markup = float(self.options.get(CONF_IMPORT_MARKUP, 0.0))
        tax = float(self.options.get(CONF_ENERGY_TAX, 0.0))
        vat = float(self.options.get(CONF_VAT_PERCENT, 0.0))
        return (bare + markup + tax) * (1 + vat / 100)

    @property
    def peak_limit_w(self) -> float:
        """The quarter peak the user asks for."""
        return float(self.options.get(CONF_MAX_GRID_PEAK_W, 4000))


NL_SUMMER = Day(
    name="NL summer, negative prices",
    day=date(2026, 6, 20),
    time_zone="Europe/Amsterdam",
    house=HouseSpec(ac_pv_peak_w=3000.0, sunrise_h=5.3, sunset_h=22.0, cloudiness=0.25),
    hourly_price=(
        0.09,
        0.085,
        0.08,
        0.08,
        0.085,
        0.09,
        0.11,
        0.13,
        0.12,
        0.06,
        0.01,
        -0.03,
        -0.08,
        -0.19,
        -0.22,
        -0.10,
        -0.02,
        0.04,
        0.10,
        0.16,
        0.24,
        0.27,
        0.19,
        0.12,
    ),
    options=NL_TARIFF,
    initial_soc_percent=25.0,
    seed=11,
)

NL_WINTER = Day(
    name="NL winter, evening spike",
    day=date(2026, 1, 14),
    time_zone="Europe/Amsterdam",
    house=HouseSpec(
        base_w=300.0,
        evening_w=1000.0,
        appliances=(
            Appliance("kettle", 2000.0, 3.0, 5, (6.5, 22.0)),
            Appliance("heat pump", 1800.0, 45.0, 6, (0.0, 24.0)),
            Appliance("oven", 2300.0, 40.0, 1, (17.0, 19.0)),
            Appliance("dishwasher", 1900.0, 30.0, 1, (19.5, 23.0)),
        ),
        pv_peak_w=1800.0,
        sunrise_h=8.8,
        sunset_h=16.7,
        cloudiness=0.6,
    ),
    hourly_price=(
        0.09,
        0.085,
        0.08,
        0.08,
        0.085,
        0.10,
        0.14,
        0.19,
        0.21,
        0.17,
        0.13,
        0.12,
        0.11,
        0.11,
        0.12,
        0.15,
        0.24,
        0.48,
        0.62,
        0.45,
        0.26,
        0.18,
        0.13,
        0.10,
    ),
    options=NL_TARIFF,
    initial_soc_percent=20.0,
    seed=12,
)

BE_PEAK = Day(
    name="BE peak day (2.5 kW limit)",
    day=date(2026, 11, 18),
    time_zone="Europe/Brussels",
    house=HouseSpec(
        base_w=280.0,
        appliances=(
            Appliance("kettle", 2000.0, 3.0, 4, (6.5, 22.0)),
            Appliance("induction hob", 3000.0, 35.0, 1, (17.5, 19.0)),
            Appliance("electric car", 3700.0, 150.0, 1, (19.0, 23.5)),
            Appliance("dryer", 2400.0, 60.0, 1, (10.0, 16.0)),
        ),
        pv_peak_w=2200.0,
        sunrise_h=8.0,
        sunset_h=16.8,
        cloudiness=0.5,
    ),
    hourly_price=(
        0.10,
        0.095,
        0.09,
        0.09,
        0.095,
        0.11,
        0.15,
        0.19,
        0.18,
        0.14,
        0.12,
        0.11,
        0.10,
        0.10,
        0.11,
        0.13,
        0.17,
        0.23,
        0.26,
        0.22,
        0.17,
        0.14,
        0.12,
        0.11,
    ),
    options={**BE_TARIFF, CONF_MAX_GRID_PEAK_W: 2500},
    initial_soc_percent=40.0,
    seed=13,
)

NL_SPRING = Day(
    name="NL spring, clouds, two peaks",
    day=date(2026, 4, 15),
    time_zone="Europe/Amsterdam",
    house=HouseSpec(ac_pv_peak_w=1200.0, sunrise_h=6.8, sunset_h=20.6, cloudiness=0.5),
    hourly_price=(
        0.10,
        0.095,
        0.09,
        0.09,
        0.10,
        0.13,
        0.19,
        0.24,
        0.21,
        0.12,
        0.06,
        0.03,
        0.02,
        0.02,
        0.04,
        0.07,
        0.12,
        0.19,
        0.27,
        0.31,
        0.25,
        0.18,
        0.13,
        0.11,
    ),
    options=NL_TARIFF,
    initial_soc_percent=30.0,
    seed=14,
)

NL_HAZE = Day(
    name="NL autumn, haze the forecast missed",
    day=date(2026, 10, 7),
    time_zone="Europe/Amsterdam",
    # PV on the Indevolt and on an inverter of its own; 45 % of the light lost to haze all day,
    # which the forecast (clear sky times the mean clouds) does not know.
    house=HouseSpec(
        pv_peak_w=1600.0,
        ac_pv_peak_w=1500.0,
        sunrise_h=8.0,
        sunset_h=19.1,
        cloudiness=0.2,
        haze=0.45,
    ),
    hourly_price=(
        0.11,
        0.10,
        0.095,
        0.09,
        0.095,
        0.11,
        0.16,
        0.24,
        0.26,
        0.19,
        0.13,
        0.10,
        0.08,
        0.07,
        0.08,
        0.11,
        0.15,
        0.22,
        0.29,
        0.31,
        0.24,
        0.17,
        0.13,
        0.12,
    ),
    options=NL_TARIFF,
    initial_soc_percent=20.0,
    seed=15,
)

MEASURED_BE = Day(
    name="Measured house (UCI, 2007-02-02), BE prices, 2.5 kW limit",
    day=date(2007, 2, 2),
    time_zone="Europe/Brussels",
    house=HouseSpec(pv_peak_w=0.0),
    hourly_price=BE_PEAK.hourly_price,
    options={**BE_TARIFF, CONF_MAX_GRID_PEAK_W: 2500},
    initial_soc_percent=40.0,
    measured_load="uci_household_2007-02.csv",
)

DAYS: tuple[Day, ...] = (NL_SUMMER, NL_WINTER, BE_PEAK, NL_SPRING, NL_HAZE, MEASURED_BE)


def measured_series(path: Path, day: date, tz: ZoneInfo) -> DaySeries | None:
    """A day of a measured load per minute, held for each of its seconds; None if not in `path`."""
    prefix = day.isoformat()
    minutes = [
        float(line.split(",")[1])
        for line in path.read_text().splitlines()
        if line.startswith(prefix)
    ]
    if not minutes:
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    seconds = round((start + timedelta(days=1) - start).total_seconds())
    load = array("d", (minutes[min(second // 60, len(minutes) - 1)] for second in range(seconds)))
    zeros = array("d", bytes(8 * seconds))
    return DaySeries(start.astimezone(ZoneInfo("UTC")), load, zeros, array("d", zeros))
