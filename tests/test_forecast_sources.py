"""PV forecast sources (Solcast today + tomorrow, two arrays, the Energy dashboard) and the
within-day correction of the load profile."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.energy.data import async_get_manager
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    mock_integration,
    mock_platform,
)

from custom_components.ems.const import (
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_PV_FORECAST_EXTRA_ENTITIES,
    CONF_PV_FORECAST_FROM_ENERGY,
)
from custom_components.ems.optimiser.forecast import (
    ForecastStatus,
    async_energy_solar_forecasts,
    pv_forecast_w,
)
from custom_components.ems.optimiser.load_profile import (
    corrected_load_w,
    persistent_error_w,
)

from .conftest import SIM_START
from .optimiser_helpers import (
    PLAN_SENSOR,
    PRICE_ENTITY,
    SWITCH,
    entsoe_attributes,
    setup_entry,
    switch,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def solcast_day(day: datetime, peak_kw: float) -> dict[str, Any]:
    """A Solcast (HACS) 'forecast today/tomorrow' sensor's attributes for one local day.

    As the integration writes them: half-hourly `detailedForecast` with the 10 % / 90 %
    estimates, hourly `detailedHourly`, and the day's totals.
    """
    detailed = []
    for half_hour in range(48):
        start = day + timedelta(minutes=30 * half_hour)
        # A bell from 06:00 to 22:00 local, highest at 14:00.
        shape = max(0.0, 1 - abs(start.hour + start.minute / 60 - 14) / 8)
        detailed.append(
            {
                "period_start": start.isoformat(),
                "pv_estimate": round(peak_kw * shape, 4),
                "pv_estimate10": round(peak_kw * shape * 0.6, 4),
                "pv_estimate90": round(peak_kw * shape * 1.1, 4),
            }
        )
    hourly = [dict(entry) for entry in detailed[::2]]
    return {
        "estimate": 30.5,
        "estimate10": 18.3,
        "estimate90": 33.6,
        "dayname": day.strftime("%A"),
        "dataCorrect": True,
        "detailedForecast": detailed,
        "detailedHourly": hourly,
        "unit_of_measurement": "kWh",
        "friendly_name": "Solcast PV Forecast Forecast today",
    }


TODAY = datetime(2026, 6, 21, tzinfo=AMSTERDAM)
TOMORROW = TODAY + timedelta(days=1)


def test_solcast_today_and_tomorrow_entities_together() -> None:
    # Plan from 23:00 today to 01:00 tomorrow, then 14:00 tomorrow.
    starts = [TODAY + timedelta(hours=23, minutes=15 * index) for index in range(8)]
    starts.append(TOMORROW + timedelta(hours=14))
    today, tomorrow = solcast_day(TODAY, 4.0), solcast_day(TOMORROW, 3.0)
    only_today = pv_forecast_w([today], starts, AMSTERDAM)
    assert only_today.detail == "covers 4 of 9 slots; zero elsewhere"
    forecast = pv_forecast_w([today, tomorrow], starts, AMSTERDAM)
    assert forecast.status is ForecastStatus.OK
    assert forecast.detail == ""
    assert forecast.values_w[-1] == pytest.approx(3000.0)
    # Night, from either day's entity.
    assert forecast.values_w[:2] == pytest.approx([0.0, 0.0])


def test_two_arrays_add_up() -> None:
    starts = [TODAY + timedelta(hours=14)]
    east, west = solcast_day(TODAY, 2.0), solcast_day(TODAY, 1.5)
    assert pv_forecast_w([east, west], starts, AMSTERDAM).values_w == (3500.0,)
    # A missing second entity leaves the first.
    assert pv_forecast_w([east, None], starts, AMSTERDAM).values_w == (2000.0,)


def test_correction_fades_over_the_next_hours() -> None:
    now = SIM_START + timedelta(minutes=5)
    starts = [SIM_START + timedelta(hours=hours) for hours in (0, 2, 4, 24)]
    corrected = corrected_load_w([500.0] * 4, starts, now=now, recent_error_w=300.0)
    # Full weight in the current quarter, 1/e two hours on, about nothing a day on.
    assert corrected[0] == pytest.approx(800.0)
    assert corrected[1] == pytest.approx(500 + 300 * 0.3679 * 1.0425, rel=1e-3)
    assert corrected[1] > corrected[2] > corrected[3]
    assert corrected[3] == pytest.approx(500.0, abs=0.01)
    # A load measured far below the profile never makes a negative forecast.
    assert corrected_load_w([100.0], starts[:1], now=now, recent_error_w=-400.0) == (0.0,)
    assert corrected_load_w([100.0], starts[:1], now=now, recent_error_w=None) == (100.0,)


# -- in Home Assistant -----------------------------------------------------------------------


async def test_plan_uses_solcast_today_and_tomorrow(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(SIM_START)
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    hass.states.async_set(PRICE_ENTITY, "0.05", entsoe_attributes())
    hass.states.async_set("sensor.solcast_today", "30.5", solcast_day(TODAY, 4.0))
    hass.states.async_set("sensor.solcast_tomorrow", "28.1", solcast_day(TOMORROW, 3.0))
    await setup_entry(
        hass,
        mock_config_entry,
        **{
            CONF_PRICE_ENTITY: PRICE_ENTITY,
            CONF_PV_FORECAST_ENTITY: "sensor.solcast_today",
            CONF_PV_FORECAST_EXTRA_ENTITIES: ["sensor.solcast_tomorrow"],
        },
    )
    await switch(hass, SWITCH, True)
    active = mock_config_entry.runtime_data.optimiser.active_plan
    assert active is not None
    tomorrow_14h = int((TOMORROW + timedelta(hours=14) - active.start) / timedelta(minutes=15))
    assert active.pv.values_w[tomorrow_14h] == pytest.approx(3000.0)
    attributes = hass.states.get(PLAN_SENSOR).attributes  # type: ignore[union-attr]
    assert attributes["pv_forecast"] == "ok"
    assert attributes["pv_forecast_source"] == "sensor.solcast_today + sensor.solcast_tomorrow"
    # Nothing measured yet: no error to show.
    assert attributes["pv_forecast_error_w"] is None


def forecast_solar_wh_hours(day: datetime) -> dict[str, int]:
    """Forecast.Solar's energy platform: `wh_hours` per hour start, zero hours at night left out
    except midnight (as `forecast_solar/energy.py` filters them)."""
    wh_hours = {}
    for hour in range(5, 22):
        start = day + timedelta(hours=hour)
        wh_hours[start.isoformat()] = round(max(0.0, 1 - abs(hour + 0.5 - 13.5) / 8) * 2500)
    return wh_hours


@pytest.fixture
def forecast_solar_platform(hass: HomeAssistant) -> list[str]:
    """A Forecast.Solar stand-in: its energy platform answers with `wh_hours` (the library the
    real integration needs is not installed)."""
    asked: list[str] = []

    async def async_get_solar_forecast(
        hass: HomeAssistant, config_entry_id: str
    ) -> dict[str, dict[str, float | int]] | None:
        asked.append(config_entry_id)
        if config_entry_id == "unknown":
            return None
        return {"wh_hours": forecast_solar_wh_hours(TODAY) | forecast_solar_wh_hours(TOMORROW)}

    mock_integration(hass, MockModule("forecast_solar"))
    platform = ModuleType("forecast_solar.energy")
    platform.async_get_solar_forecast = async_get_solar_forecast  # type: ignore[attr-defined]
    mock_platform(hass, "forecast_solar.energy", platform)
    mock_integration(hass, MockModule("no_forecast"))
    mock_platform(hass, "no_forecast.energy", ModuleType("no_forecast.energy"))
    return asked


async def test_energy_dashboard_solar_forecast(
    hass: HomeAssistant, forecast_solar_platform: list[str]
) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    assert await async_energy_solar_forecasts(hass) == []
    house = MockConfigEntry(domain="forecast_solar", title="Roof")
    house.add_to_hass(hass)
    unknown = MockConfigEntry(domain="forecast_solar", entry_id="unknown", title="Gone")
    unknown.add_to_hass(hass)
    other = MockConfigEntry(domain="no_forecast", title="No platform function")
    other.add_to_hass(hass)
    missing = MockConfigEntry(domain="not_installed_anywhere", title="Not installed")
    missing.add_to_hass(hass)
    manager = await async_get_manager(hass)
    ids = [house.entry_id, unknown.entry_id, other.entry_id, missing.entry_id, "removed"]
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "solar",
                    "stat_energy_from": "sensor.solar_energy",
                    "config_entry_solar_forecast": ids,
                },
                {
                    "type": "solar",
                    "stat_energy_from": "sensor.other",
                    "config_entry_solar_forecast": None,
                },
            ]
        }
    )
    forecasts = await async_energy_solar_forecasts(hass)
    assert [title for title, _ in forecasts] == ["Roof"]
    assert forecast_solar_platform == [house.entry_id, "unknown"]
    starts = [TODAY + timedelta(hours=10, minutes=15 * index) for index in range(4)]
    values = pv_forecast_w([forecasts[0][1]], starts, AMSTERDAM).values_w
    # 10:00-11:00 has 1562 Wh: 1562 W on average in each of its quarters.
    assert values == (1562.0,) * 4


async def test_plan_uses_the_energy_dashboard_forecast(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    forecast_solar_platform: list[str],
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(SIM_START)
    hass.states.async_set(PRICE_ENTITY, "0.05", entsoe_attributes())
    await setup_entry(
        hass,
        mock_config_entry,
        **{CONF_PRICE_ENTITY: PRICE_ENTITY, CONF_PV_FORECAST_FROM_ENERGY: True},
    )
    await switch(hass, SWITCH, True)
    optimiser = mock_config_entry.runtime_data.optimiser
    assert optimiser.active_plan is not None
    assert optimiser.active_plan.pv.status is ForecastStatus.NO_DATA
    assert optimiser.active_plan.pv.detail == "the Energy dashboard has no solar forecast"
    roof = MockConfigEntry(domain="forecast_solar", title="Roof")
    roof.add_to_hass(hass)
    manager = await async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "solar",
                    "stat_energy_from": "sensor.solar_energy",
                    "config_entry_solar_forecast": [roof.entry_id],
                }
            ]
        }
    )
    await switch(hass, SWITCH, False)
    await switch(hass, SWITCH, True)
    assert optimiser.active_plan is not None
    assert optimiser.active_plan.pv.status is ForecastStatus.OK
    assert optimiser.active_plan.pv.source == "Energy dashboard: Roof"
    assert max(optimiser.active_plan.pv.values_w) == pytest.approx(2500.0)


@pytest.mark.parametrize(
    ("errors_w", "expected_w"),
    [
        ([], None),
        ([300.0, 250.0, 400.0, 320.0], 250.0),  # the house uses more all hour: a level shift
        ([-150.0, -90.0, -200.0, -120.0], -90.0),
        ([0.0, 0.0, 2200.0, 0.0], 0.0),  # one quarter of a kettle or a car is no trend
        ([-100.0, 2000.0, 50.0, -30.0], 0.0),
    ],
)
def test_only_a_shift_every_recent_quarter_shares_corrects_the_load(
    errors_w: list[float], expected_w: float | None
) -> None:
    assert persistent_error_w(errors_w) == expected_w
