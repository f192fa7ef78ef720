"""The harness half of the closed-loop benchmark (see closed_loop.py): one pytest test per day.

Collected only when `closed_loop.py` runs it (the test suite's testpaths is `tests/`); imports
Home Assistant, so it must be imported after pytest has loaded Home Assistant's plugin.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time as dt_time, timedelta
import json
import os
from pathlib import Path
import sys
import time
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from closed_loop_days import DAYS, Day
from closed_loop_optimum import Battery, Bill, EndValue, Meter, end_value, optimum_bill
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ems.const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_INDEVOLT_SERIAL,
    CONF_MIN_SOC,
    CONF_P1_HOST,
    CONF_P1_SERIAL,
    CONF_POLL_INTERVAL,
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_PV_POWER_ENTITIES,
    CONF_REQUEST_METHOD,
    CONF_ROUND_TRIP_EFFICIENCY,
    DEFAULT_OPTIONS,
    DOMAIN,
)
from custom_components.ems.optimiser import Optimiser
from custom_components.ems.optimiser.active_plan import ActivePlan
from custom_components.ems.optimiser.load_profile import (
    LoadProfile,
)
from custom_components.ems.optimiser.plan_inputs import PlanInputs
from custom_components.ems.optimiser.planner import PlannerParams
from ems_simulator import Simulator, serve
from ems_simulator.house import DaySeries, PhysicalHouse, expected_pv_w
from ems_simulator.model import MODE_SELF_CONSUMPTION

POLL_S = 5
MIN_SOC_PERCENT = 10.0
CAPACITY_WH = 12_000.0
# The simulated battery's charge and discharge efficiencies (0.95 each), AC to AC.
ROUND_TRIP_EFFICIENCY = 0.90
PRICE_ENTITY = "sensor.day_ahead_price"
PV_FORECAST_ENTITY = "sensor.pv_forecast"
AC_PV_ENTITY = "sensor.ac_pv_power"
SWITCH = "switch.indevolt_cms_sf2000_optimiser"
RESULTS_ENV = "EMS_CLOSED_LOOP_RESULTS"
SELECTION_ENV = "EMS_CLOSED_LOOP_DAYS"
HOURS_ENV = "EMS_CLOSED_LOOP_HOURS"
TRACE_ENV = "EMS_CLOSED_LOOP_TRACE"
SEED_ENV = "EMS_CLOSED_LOOP_SEED_OFFSET"
POLLS_ENV = "EMS_CLOSED_LOOP_POLLS"
TOMORROW_ENV = "EMS_CLOSED_LOOP_TOMORROW_AT"
FORECASTS_ENV = "EMS_CLOSED_LOOP_FORECASTS"
# Day-ahead prices for tomorrow reach a home around 13:00 (EPEX publishes at 12:45 CET); until
# then the price entity has today's only, as ENTSO-E's and Nord Pool's integrations show them.
TOMORROW_PUBLISHED_AT = dt_time(13)


class FakeClock:
    """The simulator's clock (seconds), moved by the runner only."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class LoopStats:
    """What the optimiser's run did besides its bill."""

    writes: int = 0
    max_writes_per_poll: int = 0
    direction_changes: int = 0
    left_forced_after_off: bool = False
    left_forced_after_unload: bool = False
    wall_s: float = 0.0


@dataclass
class DayResult:
    """One day's three bills and the optimiser's behaviour."""

    name: str
    self_consumption: Bill
    optimiser: Bill
    optimum: Bill
    stats: LoopStats
    # The optimum that also obeys the options' minimum price spread (the wear margin), for
    # telling a gap the margin chooses from one that forecast error costs.
    wear_aware_optimum: Bill

    @property
    def captured(self) -> float | None:
        """(SC - optimiser) / (SC - optimum); None when the optimum saves (almost) nothing."""
        return _captured(self.self_consumption, self.optimiser, self.optimum)

    @property
    def captured_wear_aware(self) -> float | None:
        """(SC - optimiser) / (SC - the wear-aware optimum)."""
        return _captured(self.self_consumption, self.optimiser, self.wear_aware_optimum)


def _captured(self_consumption: Bill, optimiser: Bill, optimum: Bill) -> float | None:
    possible = self_consumption.total_eur - optimum.total_eur
    if possible < 0.005:
        return None
    return (self_consumption.total_eur - optimiser.total_eur) / possible


def entry_options(day: Day) -> dict[str, Any]:
    """The options of the day's config entry."""
    return {
        **DEFAULT_OPTIONS,
        **day.options,
        CONF_POLL_INTERVAL: POLL_S,
        CONF_MIN_SOC: MIN_SOC_PERCENT,
        # The options describe the simulated battery, as its owner would set them.
        CONF_ROUND_TRIP_EFFICIENCY: ROUND_TRIP_EFFICIENCY,
        CONF_PRICE_ENTITY: PRICE_ENTITY,
        CONF_PV_FORECAST_ENTITY: PV_FORECAST_ENTITY,
        # The AC-coupled PV's inverter, as its owner would name it for the load.
        CONF_PV_POWER_ENTITIES: [AC_PV_ENTITY] if day.house.ac_pv_peak_w else [],
    }


def quarter_prices(day: Day, hours: float) -> tuple[list[float], list[float]]:
    """Effective import and export price per quarter of the run."""
    quarters = round(hours * 4)
    bare = [day.hourly_price[q // 4 % 24] for q in range(quarters)]
    return [day.import_price(price) for price in bare], bare


def price_attributes(day: Day, *, tomorrow: bool = True) -> dict[str, Any]:
    """The day's prices, and the next day's once published, as ENTSO-E's integration shows them."""
    start = datetime(day.day.year, day.day.month, day.day.day, tzinfo=day.tz)

    def entries(offset_days: int) -> list[dict[str, Any]]:
        first = start + timedelta(days=offset_days)
        return [
            {
                "time": (first + timedelta(hours=h))
                .astimezone(dt_util.UTC)
                .strftime("%Y-%m-%d %H:%M:%S+00:00"),
                "price": day.hourly_price[h],
            }
            for h in range(24)
        ]

    return {
        "unit_of_measurement": "EUR/kWh",
        "prices_today": entries(0),
        "prices_tomorrow": entries(1) if tomorrow else [],
    }


def pv_forecast_attributes(day: Day, *, perfect: bool = False) -> dict[str, Any]:
    """Forecast.Solar's `watts` for the day and the next: no clouds foreseen, only their mean.

    `perfect`: each quarter's mean of the PV that will be measured (both days), as a forecast
    that knows the clouds and the haze would give it.
    """
    start = datetime(day.day.year, day.day.month, day.day.day, tzinfo=day.tz)
    if perfect:
        values = [
            value
            for offset in (0, 1)
            for value in _quarter_means(day.series(day.day + timedelta(days=offset)), pv=True)
        ]
    else:
        values = [expected_pv_w(day.house, (q % 96) / 4 + 0.125) for q in range(2 * 96)]
    watts = {
        (start + timedelta(minutes=15 * q)).isoformat(): round(value)
        for q, value in enumerate(values)
    }
    return {"watts": watts}


def load_profile(day: Day, *, perfect: bool = False) -> LoadProfile:
    """The recorder's view of the 7 days before: the mean load per quarter, and each day's own.

    The simulated house knows no weekends: one profile serves both kinds of day. Each day's own
    series is its load net of all PV, for the peak reserve. A measured day has the days its file
    has before it. `perfect`: the day itself, as if every day of the house were the same.
    """
    sums = [0.0] * 96
    days: list[tuple[float, ...]] = []
    for back in (0,) if perfect else range(1, 8):
        series = day.series(day.day - timedelta(days=back))
        if series is None:
            break
        load = _quarter_means(series, pv=False)
        pv = _quarter_means(series, pv=True)
        for quarter in range(96):
            sums[quarter] += load[quarter]
        days.append(tuple(load_w - pv_w for load_w, pv_w in zip(load, pv, strict=True)))
    mean_w = tuple(total / len(days) for total in sums)
    return LoadProfile(mean_w, mean_w, tuple(days), tuple(days))


def _quarter_means(series: DaySeries | None, *, pv: bool) -> list[float]:
    """The day's mean load (or all PV) per quarter; zeros without the day."""
    if series is None:
        return [0.0] * 96
    means = []
    for quarter in range(96):
        chunk = slice(quarter * 900, (quarter + 1) * 900)
        if pv:
            means.append((sum(series.pv_w[chunk]) + sum(series.ac_pv_w[chunk])) / 900)
        else:
            means.append(sum(series.load_w[chunk]) / 900)
    return means


def day_battery(day: Day) -> Battery:
    """The simulated battery of every bill."""
    return Battery(
        capacity_wh=CAPACITY_WH,
        floor_wh=CAPACITY_WH * MIN_SOC_PERCENT / 100,
        charge_efficiency=0.95,
        discharge_efficiency=0.95,
        peak_limit_w=day.peak_limit_w,
    )


def day_end_value(day: Day, series: DaySeries, hours: float) -> EndValue:
    """The value of the energy left in the battery, the same for every policy."""
    import_prices, export_prices = quarter_prices(day, hours)
    return end_value(series, import_prices, export_prices, day_battery(day))


def new_house(clock: FakeClock, day: Day, series: DaySeries) -> PhysicalHouse:
    """The house at the start of the day, the battery floor at the optimiser's min SOC."""
    return PhysicalHouse(
        clock,
        series,
        initial_soc_percent=day.initial_soc_percent,
        backup_soc_percent=round(MIN_SOC_PERCENT),
    )


def self_consumption_bill(day: Day, series: DaySeries, hours: float, end: EndValue) -> Bill:
    """The battery in its own self-consumption mode all day."""
    clock = FakeClock()
    house = new_house(clock, day, series)
    import_prices, export_prices = quarter_prices(day, hours)
    meter = Meter(house, import_prices, export_prices)
    for _ in import_prices:
        clock.now_s += 900
        house.advance()
        meter.close_quarter()
    return meter.close_day(end)


async def optimiser_bill(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    day: Day,
    series: DaySeries,
    *,
    hours: float,
    end: EndValue,
    tomorrow_at: dt_time = TOMORROW_PUBLISHED_AT,
    perfect_forecasts: bool = False,
) -> tuple[Bill, LoopStats]:
    """The integration with the optimiser on, in closed loop with the simulated house.

    Tomorrow's prices appear on the price entity at `tomorrow_at` (local; midnight: from the
    start). `perfect_forecasts`: the PV forecast and the load profile are what will happen.
    """
    started = time.perf_counter()
    await hass.config.async_set_time_zone(day.time_zone)
    freezer.move_to(series.start)
    clock = FakeClock()
    simulator = Simulator(clock=clock, start=series.start)
    house = new_house(clock, day, series)
    simulator.model = house
    import_prices, export_prices = quarter_prices(day, hours)
    meter = Meter(house, import_prices, export_prices)
    stats = LoopStats()
    published = datetime.combine(day.day, tomorrow_at, tzinfo=day.tz)
    publish_quarter = round((published - series.start) / timedelta(minutes=15))
    hass.states.async_set(
        PRICE_ENTITY,
        str(day.hourly_price[0]),
        price_attributes(day, tomorrow=publish_quarter <= 0),
    )
    hass.states.async_set(
        PV_FORECAST_ENTITY, "0", pv_forecast_attributes(day, perfect=perfect_forecasts)
    )
    profile = load_profile(day, perfect=perfect_forecasts)

    async def recorder_profile(
        self: PlanInputs, now: datetime, add_pv: bool, other_pv: tuple[str, ...]
    ) -> tuple[LoadProfile | None, str, tuple[str, ...]]:
        return profile, "7-day mean of the simulated house", ()

    async with serve(simulator) as running:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="closed loop",
            unique_id="PowerFlex2000-12345678",
            data={
                CONF_P1_HOST: f"127.0.0.1:{running.p1_port}",
                CONF_INDEVOLT_HOST: f"127.0.0.1:{running.indevolt_port}",
                CONF_INDEVOLT_PASSWORD: None,
                CONF_P1_SERIAL: "3c39e7aabbcc",
                CONF_INDEVOLT_SERIAL: "PowerFlex2000-12345678",
                CONF_REQUEST_METHOD: "post",
            },
            options=entry_options(day),
        )
        entry.add_to_hass(hass)
        with patch.object(PlanInputs, "_async_query_load", recorder_profile):
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            coordinator = entry.runtime_data.coordinator
            await hass.services.async_call(
                "switch", "turn_on", {"entity_id": SWITCH}, blocking=True
            )
            await hass.async_block_till_done()
            last_direction = 0
            trace: list[str] = []
            for quarter in range(len(import_prices)):
                if quarter == publish_quarter > 0:
                    hass.states.async_set(
                        PRICE_ENTITY, str(day.hourly_price[0]), price_attributes(day)
                    )
                for step in range(900 // POLL_S):
                    clock.now_s += POLL_S
                    freezer.tick(timedelta(seconds=POLL_S))
                    if step == 900 // POLL_S - 1:
                        house.advance()
                        meter.close_quarter()
                        trace.append(
                            _trace_row(house, meter, import_prices, export_prices)
                            + _plan_trace(entry.runtime_data.optimiser.active_plan, house.now())
                        )
                        async_fire_time_changed(hass, dt_util.utcnow())
                    if day.house.ac_pv_peak_w:
                        hass.states.async_set(
                            AC_PV_ENTITY,
                            str(round(series.ac_pv_w[int(clock.now_s) % len(series.ac_pv_w)])),
                            {"unit_of_measurement": "W", "device_class": "power"},
                        )
                    simulator.requests.clear()
                    await coordinator.async_refresh()
                    await hass.async_block_till_done()
                    _log_poll(entry.runtime_data.optimiser, house)
                    writes = [
                        r.config
                        for r in simulator.requests
                        if r.path == "/rpc/Indevolt.SetData" and isinstance(r.config, dict)
                    ]
                    stats.writes += len(writes)
                    stats.max_writes_per_poll = max(stats.max_writes_per_poll, len(writes))
                    for config in writes:
                        if config.get("t") == 47015 and config["v"][0] in (1, 2):
                            direction = 1 if config["v"][0] == 1 else -1
                            if last_direction and direction != last_direction:
                                stats.direction_changes += 1
                            last_direction = direction
            _write_trace(day, trace)
            bill = meter.close_day(end)
            await hass.services.async_call(
                "switch", "turn_off", {"entity_id": SWITCH}, blocking=True
            )
            await hass.async_block_till_done()
            stats.left_forced_after_off = house.mode != MODE_SELF_CONSUMPTION
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            stats.left_forced_after_unload = house.mode != MODE_SELF_CONSUMPTION
    stats.wall_s = time.perf_counter() - started
    return bill, stats


def _trace_row(
    house: PhysicalHouse, meter: Meter, import_prices: list[float], export_prices: list[float]
) -> str:
    q = meter.quarter - 1
    local = (house.now() - timedelta(minutes=15)).astimezone(dt_util.get_default_time_zone())
    return (
        f"{local:%H:%M} imp {import_prices[q]:6.3f} exp {export_prices[q]:6.3f} "
        f"soc {house.soc_percent:5.1f} mode {house.mode} cmd {house.command.action}/"
        f"{house.command.watts} eur {meter.bill.energy_eur:7.3f}"
    )


def _log_poll(optimiser: Optimiser, house: PhysicalHouse) -> None:
    """One line per poll within the window of `--polls`: readings, dispatch mode, command."""
    if not os.environ.get(POLLS_ENV):
        return
    path, window = os.environ[POLLS_ENV].split("|")
    first, last = window.split("-")
    local = dt_util.as_local(dt_util.utcnow())
    if not first <= f"{local:%H:%M}" < last:
        return
    intent = optimiser.intent
    decision = optimiser.last_decision
    command = "-" if decision is None else decision.command
    with Path(path).open("a") as out:
        out.write(
            f"{local:%H:%M:%S} grid {house.grid_w:6.0f} house {house.house_w:6.0f} "
            f"battery {house.battery_w:6.0f} soc {house.soc_percent:5.1f} "
            f"mode {'-' if intent is None else intent.mode} "
            f"power {'-' if intent is None else round(intent.power_w)} "
            f"target {'-' if intent is None else round(intent.grid_target_w)} "
            f"command {command}\n"
        )


def _plan_trace(active: ActivePlan | None, now: datetime) -> str:
    """What the plan intends for the quarter that starts now: battery, grid, load forecast."""
    index = None if active is None else active.slot_index(now)
    if active is None or index is None:
        return " | no plan"
    slot = active.plan.slots[index]
    return (
        f" | plan batt {slot.charge_w - slot.discharge_w:6.0f} grid {slot.grid_w:6.0f} "
        f"load {active.load.values_w[index]:5.0f} soc {slot.soc_percent_end:5.1f}"
    )


async def run_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    day: Day,
    hours: float = 24,
    *,
    tomorrow_at: dt_time = TOMORROW_PUBLISHED_AT,
    perfect_forecasts: bool = False,
) -> DayResult:
    """All three bills of one day (or of its first `hours`)."""
    series = day.series(day.day)
    if series is None:
        raise ValueError(f"{day.name}: no data for {day.day}")
    import_prices, export_prices = quarter_prices(day, hours)
    end = day_end_value(day, series, hours)
    optimum, wear_aware = (
        optimum_bill(
            series,
            import_prices,
            export_prices,
            day_battery(day),
            initial_soc_percent=day.initial_soc_percent,
            end=end,
            wear_factor=factor,
        )
        for factor in (0.0, PlannerParams.from_options(entry_options(day)).spread_factor)
    )
    self_consumption = self_consumption_bill(day, series, hours, end)
    optimiser, stats = await optimiser_bill(
        hass,
        freezer,
        day,
        series,
        hours=hours,
        end=end,
        tomorrow_at=tomorrow_at,
        perfect_forecasts=perfect_forecasts,
    )
    return DayResult(day.name, self_consumption, optimiser, optimum, stats, wear_aware)


def _selected_days() -> list[Day]:
    names = [name for name in os.environ.get(SELECTION_ENV, "").split(",") if name]
    offset = int(os.environ.get(SEED_ENV, "0"))
    return [
        replace(day, name=f"{day.name} (seed +{offset})", seed=day.seed + offset) if offset else day
        for day in DAYS
        if not names or any(n.lower() in day.name.lower() for n in names)
    ]


@pytest.mark.parametrize("day", _selected_days(), ids=lambda day: day.name)
async def test_closed_loop_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    enable_custom_integrations: None,
    socket_enabled: None,
    day: Day,
) -> None:
    """One day of the benchmark (collected only when this file is run by `main`)."""
    asyncio.get_running_loop().set_debug(False)  # the harness's debug mode costs more than ems
    result = await run_day(
        hass,
        freezer,
        day,
        float(os.environ.get(HOURS_ENV, "24")),
        tomorrow_at=dt_time.fromisoformat(os.environ.get(TOMORROW_ENV, "13:00")),
        perfect_forecasts=os.environ.get(FORECASTS_ENV) == "perfect",
    )
    _append_result(result)


def _append_result(result: DayResult) -> None:
    path = Path(os.environ[RESULTS_ENV])
    rows = json.loads(path.read_text()) if path.exists() else []
    rows.append(
        {
            **asdict(result),
            "captured": result.captured,
            "captured_wear_aware": result.captured_wear_aware,
        }
    )
    path.write_text(json.dumps(rows))


def _write_trace(day: Day, trace: list[str]) -> None:
    if os.environ.get(TRACE_ENV):
        with Path(os.environ[TRACE_ENV]).open("a") as out:
            out.write(f"# {day.name}\n" + "\n".join(trace) + "\n")
