"""A physical house for closed-loop runs: a seeded day of load and PV, and a battery that reacts.

`HomeModel`'s own house is a fixed formula (good for tests that want to predict a reading). A
`PhysicalHouse` instead plays one local calendar day generated from a `HouseSpec`, second by
second: a base load with morning and evening use, a fridge that cycles, appliances (kettle,
oven, washing machine, heat pump, ...) that switch on at seeded random times, and PV under a
daylight arc with clouds that come and go. The same spec, date and seed give the same day.

The battery behaves as the PowerFlex2000 is observed to in self-consumption mode (47005 = 1): it
regulates on its own CT, sampled every 5 s, toward a grid exchange of zero, and ignores errors
within a small deadband; so a kettle switching on is imported for up to a sample period. The
battery management system draws a small constant power from the cells in every mode.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
import math
import random
from zoneinfo import ZoneInfo

from .model import CT_REFRESH_S, MODE_SELF_CONSUMPTION, HomeModel

# Self-consumption control: grid errors below this are left alone (W).
SELF_CONSUMPTION_DEADBAND_W = 15.0
# What the battery management system draws from the cells, in every mode (W).
BMS_DRAIN_W = 8.0


@dataclass(frozen=True, slots=True)
class Appliance:
    """A load that switches on `runs` times a day, each time for `duration_min`, in a window."""

    name: str
    power_w: float
    duration_min: float
    runs: int
    window_h: tuple[float, float] = (0.0, 24.0)


@dataclass(frozen=True, slots=True)
class HouseSpec:
    """A household and its roof: what varies between benchmark days."""

    base_w: float = 220.0
    morning_w: float = 450.0
    evening_w: float = 800.0
    appliances: tuple[Appliance, ...] = (
        Appliance("kettle", 2000.0, 3.0, 4, (6.5, 22.0)),
        Appliance("washing machine", 2000.0, 25.0, 1, (9.0, 17.0)),
        Appliance("oven", 2300.0, 40.0, 1, (17.0, 19.0)),
    )
    pv_peak_w: float = 2400.0  # on the Indevolt's DC inputs (at most its 2400 W)
    ac_pv_peak_w: float = 0.0  # on an inverter of its own, seen by the P1 meter only
    sunrise_h: float = 5.5  # local hours
    sunset_h: float = 21.5
    cloudiness: float = 0.3  # share of daylight under a cloud
    cloud_transmission: tuple[float, float] = (0.25, 0.6)  # what a cloud lets through
    # Share of the light lost all day to haze or fog that a forecast does not foresee.
    haze: float = 0.0


@dataclass(slots=True)
class DaySeries:
    """One local day, per second, from `start` (UTC): load, PV on the Indevolt, other PV (W)."""

    start: datetime
    load_w: array[float] = field(default_factory=lambda: array("d"))
    pv_w: array[float] = field(default_factory=lambda: array("d"))
    ac_pv_w: array[float] = field(default_factory=lambda: array("d"))


def day_series(spec: HouseSpec, day: date, tz: ZoneInfo, seed: int) -> DaySeries:
    """The house's load and PV for every second of local calendar `day` (23, 24 or 25 h)."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = start + timedelta(days=1)
    seconds = int(
        (end.astimezone(ZoneInfo("UTC")) - start.astimezone(ZoneInfo("UTC"))).total_seconds()
    )
    rng = random.Random(f"{seed}-{day.isoformat()}")
    load = _load(spec, rng, seconds)
    pv, ac_pv = _pv(spec, rng, seconds)
    return DaySeries(start.astimezone(ZoneInfo("UTC")), load, pv, ac_pv)


def sun(spec: HouseSpec, hour: float) -> float:
    """The clear-sky share of the PV peak at local `hour` (0..1)."""
    if not spec.sunrise_h < hour < spec.sunset_h:
        return 0.0
    daylight = spec.sunset_h - spec.sunrise_h
    return math.pow(math.sin(math.pi * (hour - spec.sunrise_h) / daylight), 1.2)


def expected_pv_w(spec: HouseSpec, hour: float) -> float:
    """All PV a forecast expects at local `hour`: clear sky times the mean cloud transmission.

    Haze (`HouseSpec.haze`) is what the forecast did not see coming.
    """
    low, high = spec.cloud_transmission
    mean_transmission = 1 - spec.cloudiness * (1 - (low + high) / 2)
    return (spec.pv_peak_w + spec.ac_pv_peak_w) * sun(spec, hour) * mean_transmission


def _load(spec: HouseSpec, rng: random.Random, seconds: int) -> array[float]:
    fridge_phase = rng.randrange(2400)
    load = array("d", bytes(8 * seconds))
    for second in range(seconds):
        hour = second / 3600
        smooth = (
            spec.base_w
            + spec.morning_w * math.exp(-(((hour - 7.5) / 1.0) ** 2))
            + spec.evening_w * math.exp(-(((hour - 19.5) / 1.8) ** 2))
        )
        fridge = 90.0 if ((second + fridge_phase) // 1200) % 2 == 0 else 0.0
        load[second] = smooth + fridge + 40.0 * math.sin(second / 7.3)
    for appliance in spec.appliances:
        duration = round(appliance.duration_min * 60)
        first, last = (round(h * 3600) for h in appliance.window_h)
        for _ in range(appliance.runs):
            on = rng.randrange(first, max(first + 1, min(last, seconds) - duration))
            for second in range(on, min(seconds, on + duration)):
                load[second] += appliance.power_w
    return load


def _pv(spec: HouseSpec, rng: random.Random, seconds: int) -> tuple[array[float], array[float]]:
    pv = array("d", bytes(8 * seconds))
    ac_pv = array("d", bytes(8 * seconds))
    transmission = 1.0
    target = 1.0
    for second in range(seconds):
        if second % 60 == 0:
            # Each minute a cloud may arrive or leave; episodes last minutes to an hour.
            cloudy = target < 1.0
            if cloudy and rng.random() < 0.08:
                target = 1.0
            elif not cloudy and rng.random() < 0.08 * spec.cloudiness / max(
                0.05, 1 - spec.cloudiness
            ):
                target = rng.uniform(*spec.cloud_transmission)
        # Cloud edges take some 20 s to pass.
        transmission += (target - transmission) / 20
        light = sun(spec, second / 3600) * transmission * (1 - spec.haze)
        pv[second] = spec.pv_peak_w * light
        ac_pv[second] = spec.ac_pv_peak_w * light
    return pv, ac_pv


class PhysicalHouse(HomeModel):
    """`HomeModel` playing a `DaySeries`, with the battery's own self-consumption control."""

    def __init__(
        self,
        clock: Callable[[], float],
        series: DaySeries,
        *,
        initial_soc_percent: float,
        backup_soc_percent: int,
    ) -> None:
        """Start at the series' first second; after its last second the day repeats."""
        self.series = series
        self._self_consumption_w = 0.0
        super().__init__(
            clock,
            start=series.start,
            initial_soc_percent=initial_soc_percent,
            backup_soc_percent=backup_soc_percent,
            ct_gain=1.0,
        )

    def _house_load_w(self, tick: int, hour: float) -> float:
        # PV on its own inverter lowers what the house takes from the Indevolt and the grid.
        second = tick % len(self.series.load_w)
        return self.series.load_w[second] - self.series.ac_pv_w[second]

    def _pv_power_w(self, tick: int, hour: float) -> float:
        return self.series.pv_w[tick % len(self.series.pv_w)]

    def _setpoint_w(self, house_w: float, pv_w: float) -> float:
        if self.mode != MODE_SELF_CONSUMPTION:
            self._self_consumption_w = self.battery_w
            return super()._setpoint_w(house_w, pv_w)
        if self.tick % CT_REFRESH_S == 0 and abs(self.grid_w) > SELF_CONSUMPTION_DEADBAND_W:
            # The grid sample is the previous second's: the battery corrects what it saw.
            self._self_consumption_w = self.battery_w - self.grid_w
        return self._self_consumption_w

    def _step_to(self, tick: int) -> None:
        super()._step_to(tick)
        if tick:
            self.energy_wh = max(0.0, self.energy_wh - BMS_DRAIN_W / 3600)
