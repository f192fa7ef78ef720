"""The physical house of the simulator and one short day of the closed-loop benchmark."""

from __future__ import annotations

from array import array
from datetime import UTC, date, datetime
from pathlib import Path
import sys
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from ems_simulator.house import (
    DaySeries,
    HouseSpec,
    PhysicalHouse,
    day_series,
    expected_pv_w,
)
from ems_simulator.model import MODE_REALTIME

from .conftest import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from closed_loop_days import NL_HAZE, NL_WINTER
from closed_loop_optimum import Battery, EndValue, optimum_bill
from closed_loop_run import load_profile, price_attributes, pv_forecast_attributes, run_day

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_a_day_is_the_same_for_the_same_seed_and_differs_between_days() -> None:
    spec = HouseSpec(ac_pv_peak_w=1000.0)
    first = day_series(spec, date(2026, 6, 20), AMSTERDAM, seed=1)
    again = day_series(spec, date(2026, 6, 20), AMSTERDAM, seed=1)
    other = day_series(spec, date(2026, 6, 21), AMSTERDAM, seed=1)
    assert len(first.load_w) == 86_400
    assert first.load_w == again.load_w
    assert first.pv_w == again.pv_w
    assert first.load_w != other.load_w
    # Midnight is dark, noon is not; appliances push the load well above its smooth shape.
    assert first.pv_w[0] == 0.0
    assert first.pv_w[13 * 3600] > 0.0
    assert first.ac_pv_w[13 * 3600] > 0.0
    assert max(first.load_w) > 2000.0


def test_haze_takes_light_the_forecast_still_expects() -> None:
    clear = HouseSpec(ac_pv_peak_w=1000.0)
    hazy = HouseSpec(ac_pv_peak_w=1000.0, haze=0.4)
    day = date(2026, 6, 20)
    sunny = day_series(clear, day, AMSTERDAM, seed=1)
    dull = day_series(hazy, day, AMSTERDAM, seed=1)
    noon = 13 * 3600
    assert dull.pv_w[noon] == pytest.approx(sunny.pv_w[noon] * 0.6)
    assert dull.ac_pv_w[noon] == pytest.approx(sunny.ac_pv_w[noon] * 0.6)
    assert dull.load_w == sunny.load_w
    assert expected_pv_w(hazy, 13.0) == expected_pv_w(clear, 13.0)


def test_self_consumption_follows_the_house_with_the_ct_lag() -> None:
    clock = FakeClock(0.0)
    series = day_series(HouseSpec(), date(2026, 1, 14), AMSTERDAM, seed=3)
    house = PhysicalHouse(clock, series, initial_soc_percent=60.0, backup_soc_percent=10)
    grid: list[float] = []
    for _ in range(3600):
        clock.advance(1)
        house.advance()
        grid.append(house.grid_w)
    # The battery covers the night's load: most seconds the grid is within the deadband, and
    # a step in the load shows for at most one CT sample period.
    near_zero = sum(abs(value) <= 100 for value in grid)
    assert near_zero > 0.9 * len(grid)
    assert house.soc_percent < 60.0


def test_the_bms_drains_the_cells_in_real_time_standby() -> None:
    clock = FakeClock(0.0)
    series = day_series(HouseSpec(), date(2026, 1, 14), AMSTERDAM, seed=3)
    house = PhysicalHouse(clock, series, initial_soc_percent=50.0, backup_soc_percent=10)
    house.set_mode(MODE_REALTIME)
    clock.advance(3600)
    house.advance()
    assert house.battery_w == 0.0
    assert 49.0 < house.soc_percent < 50.0


async def test_one_hour_of_a_benchmark_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    enable_custom_integrations: None,
    socket_enabled: None,
) -> None:
    result = await run_day(hass, freezer, NL_WINTER, hours=1.0)
    # The optimum is never worse than self-consumption; the optimiser ran and let go.
    assert result.optimum.total_eur <= result.self_consumption.total_eur + 1e-9
    assert result.optimum.total_eur <= result.wear_aware_optimum.total_eur + 1e-9
    assert result.optimiser.energy_eur > 0.0
    assert not result.stats.left_forced_after_off
    assert not result.stats.left_forced_after_unload


@pytest.mark.parametrize(
    ("dear_price", "cycles_with_margin"), [(0.30, False), (0.40, True)], ids=["thin", "wide"]
)
def test_the_wear_aware_optimum_cycles_only_across_the_spread(
    dear_price: float, cycles_with_margin: bool
) -> None:
    # Two hours of a flat 1 kW load: 0.25 EUR/kWh, then dearer. Through 90 % round trip,
    # 0.30 pays for the losses (0.278) but not for a 25 % spread (0.3125); 0.40 pays for both.
    seconds = 2 * 3600
    series = DaySeries(
        datetime(2026, 11, 30, tzinfo=UTC),
        array("d", [1000.0] * seconds),
        array("d", [0.0] * seconds),
        array("d", [0.0] * seconds),
    )
    import_prices = [0.25] * 4 + [dear_price] * 4
    battery = Battery(12_000.0, 1_200.0, 0.9**0.5, 0.9**0.5, 10_000.0)
    end = EndValue((1_200.0, 12_000.0), (0.0, 0.0))
    no_battery_eur = (0.25 + dear_price) * 1.0
    bills = [
        optimum_bill(
            series,
            import_prices,
            [0.0] * 8,
            battery,
            initial_soc_percent=10.0,
            end=end,
            wear_factor=factor,
        )
        for factor in (0.0, 1.25 * 0.9 - 1)
    ]
    physics, wear_aware = (bill.total_eur for bill in bills)
    # The BMS's own drain costs a little either way.
    assert physics < no_battery_eur - 0.01
    assert physics <= wear_aware + 1e-9
    if cycles_with_margin:
        assert wear_aware == pytest.approx(physics, abs=1e-6)
    else:
        assert wear_aware == pytest.approx(no_battery_eur, abs=0.005)


def test_tomorrows_prices_are_on_the_price_entity_only_once_published() -> None:
    before, after = (price_attributes(NL_WINTER, tomorrow=published) for published in (False, True))
    assert len(before["prices_today"]) == len(after["prices_tomorrow"]) == 24
    assert before["prices_tomorrow"] == []
    assert after["prices_tomorrow"][0]["time"] > after["prices_today"][-1]["time"]


def test_perfect_forecasts_are_the_days_own_quarters() -> None:
    """`--forecasts perfect`: what will be measured, where the published forecast misses."""
    series = NL_HAZE.series(NL_HAZE.day)
    assert series is not None
    one_pm = slice(13 * 3600, 13 * 3600 + 900)
    measured_pv_w = (sum(series.pv_w[one_pm]) + sum(series.ac_pv_w[one_pm])) / 900
    measured_load_w = sum(series.load_w[one_pm]) / 900
    moment = datetime(2026, 10, 7, 13, 0, tzinfo=NL_HAZE.tz)
    key = moment.isoformat()
    perfect = pv_forecast_attributes(NL_HAZE, perfect=True)["watts"]
    published = pv_forecast_attributes(NL_HAZE)["watts"]
    assert len(perfect) == len(published) == 2 * 96
    assert perfect[key] == round(measured_pv_w)
    # The haze the published forecast does not see.
    assert published[key] > 1.5 * perfect[key]
    assert load_profile(NL_HAZE, perfect=True).at(moment, NL_HAZE.tz) == pytest.approx(
        measured_load_w
    )
    assert load_profile(NL_HAZE).at(moment, NL_HAZE.tz) != pytest.approx(measured_load_w)
