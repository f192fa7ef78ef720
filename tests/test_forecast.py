"""PV forecasts from entity attributes and the load estimate from recorder statistics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import math
from typing import Any
from unittest.mock import MagicMock, patch
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import (
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_PV_POWER_ENTITIES,
    DOMAIN,
)
from custom_components.ems.optimiser.forecast import (
    ForecastStatus,
    find_load_sources,
    pv_forecast_w,
)
from custom_components.ems.optimiser.load_profile import (
    LoadProfile,
    LoadSources,
    load_forecast_w,
    load_profile_w,
)
from custom_components.ems.optimiser.price_slots import SLOT

from .conftest import INDEVOLT_SERIAL, P1_SERIAL, SIM_START
from .optimiser_helpers import (
    PLAN_SENSOR,
    PRICE_ENTITY,
    SWITCH,
    entsoe_attributes,
    setup_entry,
    switch,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
START = datetime(2026, 6, 21, 10, tzinfo=UTC)
SLOTS = [START + timedelta(minutes=15 * index) for index in range(8)]


def test_solcast_detailed_forecast_in_kw() -> None:
    attributes = {
        "detailedForecast": [
            {"period_start": "2026-06-21T12:00:00+02:00", "pv_estimate": 1.2},
            {"period_start": "2026-06-21T12:30:00+02:00", "pv_estimate": 2.0},
            {"period_start": "garbage", "pv_estimate": 5},
            "not a mapping",
        ],
        "detailedHourly": [{"period_start": "2026-06-21T12:00:00+02:00", "pv_estimate": 9}],
    }
    forecast = pv_forecast_w([attributes], SLOTS, BRUSSELS)
    assert forecast.status is ForecastStatus.OK
    assert forecast.values_w[:4] == (1200.0, 1200.0, 2000.0, 2000.0)
    assert forecast.values_w[4:] == (0.0,) * 4
    assert forecast.detail == "covers 4 of 8 slots; zero elsewhere"


def test_forecast_solar_watts_and_wh_period() -> None:
    watts = {"watts": {"2026-06-21 12:00:00": 800, "2026-06-21 13:00:00": "1600", "x": 1}}
    forecast = pv_forecast_w([watts], SLOTS, BRUSSELS)
    assert forecast.values_w == (800.0,) * 4 + (1600.0,) * 4
    wh_period = {"wh_period": {"2026-06-21T10:00:00+00:00": 500, "2026-06-21T11:00:00+00:00": 0}}
    forecast = pv_forecast_w([wh_period], SLOTS, BRUSSELS)
    assert forecast.values_w == (500.0,) * 4 + (0.0,) * 4
    assert forecast.detail == ""


@pytest.mark.parametrize(
    ("attributes", "status", "detail"),
    [
        (None, ForecastStatus.UNAVAILABLE, "does not exist"),
        ({"friendly_name": "PV"}, ForecastStatus.NO_DATA, "no PV forecast attributes"),
        ({"watts": {"2026-06-21T12:00:00+00:00": True}}, ForecastStatus.NO_DATA, "no PV"),
        (
            {"watts": {"2026-06-22T12:00:00+00:00": 500}},
            ForecastStatus.NO_DATA,
            "does not cover",
        ),
        (
            {"detailedForecast": [{"period_start": "2026-06-21T12:00:00", "pv_estimate": "n"}]},
            ForecastStatus.NO_DATA,
            "no PV",
        ),
    ],
)
def test_unusable_pv_forecast_is_zero(
    attributes: dict[str, Any] | None, status: ForecastStatus, detail: str
) -> None:
    forecast = pv_forecast_w([attributes], SLOTS, BRUSSELS)
    assert forecast.status is status
    assert detail in forecast.detail
    assert forecast.values_w == (0.0,) * len(SLOTS)


def rows(values: dict[datetime, float]) -> list[dict[str, Any]]:
    return [{"start": moment.timestamp(), "mean": value} for moment, value in values.items()]


def recorded(grid: dict[datetime, float], **others: dict[datetime, float]) -> Any:
    """A statistics query's answer: `grid` for the grid power sensor, `others` by object id."""

    def answer(hass: HomeAssistant, start: datetime, end: datetime, ids: set[str], *_: Any) -> Any:
        assert end - start == timedelta(days=7)
        found = {statistic_id.split(".", 1)[1]: statistic_id for statistic_id in ids}
        grid_id = next(statistic_id for statistic_id in ids if statistic_id.endswith("grid_power"))
        return {grid_id: rows(grid)} | {
            found[name]: rows(values) for name, values in others.items()
        }

    return answer


def test_load_profile_per_local_quarter() -> None:
    days = [SIM_START - timedelta(days=day) for day in (1, 2)]
    grid = dict.fromkeys(days, 500.0) | {days[0] + timedelta(minutes=5): 300.0}
    battery = {days[0]: 100.0}
    pv = {days[0]: 1000.0}
    sources = LoadSources("sensor.grid", "sensor.battery", ("sensor.pv1",))
    data = {
        "sensor.grid": [*rows(grid), {"start": 1.0, "mean": None}],
        "sensor.battery": rows(battery),
        "sensor.pv1": rows(pv),
    }
    profile = load_profile_w(data, sources, add_pv=False, tz=BRUSSELS)
    assert profile is not None
    assert len(profile.workday_w) == len(profile.weekend_w) == 96
    quarter = (14 * 60) // 15  # 12:00 UTC is 14:00 in Brussels
    # Saturday (two rows, the first with 100 W from the battery) and Friday apart.
    assert profile.weekend_w[quarter] == pytest.approx((600 + 300) / 2)
    assert profile.workday_w[quarter] == pytest.approx(500)
    # Quarters without data take the mean of all data.
    assert profile.workday_w[0] == profile.weekend_w[0] == pytest.approx((600 + 300 + 500) / 3)
    with_pv = load_profile_w(data, sources, add_pv=True, tz=BRUSSELS)
    assert with_pv is not None
    assert with_pv.weekend_w[quarter] == pytest.approx((1600 + 300) / 2)
    assert load_profile_w({}, sources, add_pv=False, tz=BRUSSELS) is None
    grid_only = load_profile_w(
        {"sensor.grid": rows(grid)}, LoadSources("sensor.grid"), add_pv=False, tz=BRUSSELS
    )
    assert grid_only is not None
    assert grid_only.weekend_w[quarter] == pytest.approx((500 + 300) / 2)
    # Each day's own net load (without PV, with the battery's discharge) for the peak reserve.
    assert len(with_pv.weekend_days_w) == len(with_pv.workday_days_w) == 1
    assert with_pv.weekend_days_w[0][quarter] == pytest.approx((600 + 300) / 2)
    assert with_pv.workday_days_w[0][quarter] == pytest.approx(500)
    assert with_pv.weekend_days_w[0][0] == 0.0  # a quarter the recorder missed: no peak
    saturday = days[0] + timedelta(days=7)
    assert with_pv.days_like(saturday, BRUSSELS) == with_pv.weekend_days_w
    assert with_pv.days_like(saturday - timedelta(days=1), BRUSSELS) == with_pv.workday_days_w
    only_weekdays = replace(with_pv, weekend_days_w=())
    assert only_weekdays.days_like(saturday, BRUSSELS) == with_pv.workday_days_w


def test_a_kind_of_day_without_data_takes_the_other() -> None:
    friday = datetime(2026, 6, 19, 12, tzinfo=UTC)
    data = {"sensor.grid": rows({friday: 400.0, friday + timedelta(hours=1): 800.0})}
    profile = load_profile_w(data, LoadSources("sensor.grid"), add_pv=False, tz=BRUSSELS)
    assert profile is not None
    quarter = (14 * 60) // 15
    assert profile.weekend_w[quarter] == profile.workday_w[quarter] == 400.0
    assert profile.weekend_w[quarter + 4] == 800.0
    assert profile.weekend_w[0] == 600.0


def test_load_forecast_follows_the_local_quarter_and_kind_of_day() -> None:
    profile = LoadProfile(
        tuple(float(index) for index in range(96)), tuple(1000.0 + index for index in range(96))
    )
    # Sunday 2026-06-21 12:00 in Brussels, then Monday.
    assert load_forecast_w(profile, SLOTS[:2], BRUSSELS) == (1048.0, 1049.0)
    monday = [start + timedelta(days=1) for start in SLOTS[:2]]
    assert load_forecast_w(profile, monday, BRUSSELS) == (48.0, 49.0)


async def test_find_load_sources(hass: HomeAssistant) -> None:
    assert find_load_sources(hass, P1_SERIAL, INDEVOLT_SERIAL) is None
    registry = er.async_get(hass)
    registry.async_get_or_create("sensor", DOMAIN, f"{P1_SERIAL}_active_power_w")
    registry.async_get_or_create("sensor", DOMAIN, f"{INDEVOLT_SERIAL}_battery_power")
    registry.async_get_or_create("sensor", DOMAIN, f"{INDEVOLT_SERIAL}_1664")
    sources = find_load_sources(hass, P1_SERIAL, INDEVOLT_SERIAL)
    assert sources is not None
    assert sources.grid_power.startswith("sensor.")
    assert sources.battery_discharge_power is not None
    assert len(sources.pv_power) == 1


# -- the optimiser's load estimate in Home Assistant ----------------------------------------


@pytest.fixture
def recorder_statistics(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Iterator[MagicMock]:
    """A recorder that answers statistics queries from a mock (no database), at noon."""
    freezer.move_to(SIM_START + timedelta(seconds=1))
    hass.config.components.add("recorder")
    instance = MagicMock()
    instance.async_add_executor_job = hass.async_add_executor_job
    with (
        patch("custom_components.ems.optimiser.forecast.get_instance", return_value=instance),
        patch("custom_components.ems.optimiser.forecast.statistics_during_period") as query,
    ):
        yield query


async def plan_load(hass: HomeAssistant, entry: MockConfigEntry, **options: Any) -> Any:
    hass.states.async_set(PRICE_ENTITY, "0.05", entsoe_attributes())
    await setup_entry(hass, entry, **{CONF_PRICE_ENTITY: PRICE_ENTITY, **options})
    await switch(hass, SWITCH, True)
    active = entry.runtime_data.optimiser.active_plan
    assert active is not None
    return active.load


async def test_load_estimate_from_statistics(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    recorder_statistics: MagicMock,
) -> None:

    recorder_statistics.side_effect = recorded({SIM_START - timedelta(days=1): 750.0})
    hass.states.async_set("sensor.solar", "1", {"watts": {SIM_START.isoformat(): 100}})
    load = await plan_load(hass, mock_config_entry, **{CONF_PV_FORECAST_ENTITY: "sensor.solar"})
    assert load.status is ForecastStatus.OK
    assert set(load.values_w) == {750.0}
    assert "7-day statistics of sensor." in load.detail
    assert hass.states.get(PLAN_SENSOR).attributes["load_forecast"] == "ok"  # type: ignore[union-attr]
    # The period, the units and the statistic asked for.
    args = recorder_statistics.call_args.args
    assert args[4:] == ("5minute", {"power": "W"}, {"mean"})
    assert len(args[3]) == 4  # grid, battery, PV1, PV2


@pytest.mark.parametrize(("pv_forecast", "expected_w"), [(True, 1150.0), (False, 750.0)])
async def test_pv_on_an_inverter_of_its_own_is_added_back_to_the_recorded_load(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    recorder_statistics: MagicMock,
    pv_forecast: bool,
    expected_w: float,
) -> None:
    """The grid saw 750 W while an AC-coupled inverter gave 400 W: the house used 1150 W.

    With a PV forecast the plan subtracts that inverter's PV itself, so the load must be the
    gross 1150 W (750 W would count the PV twice); without one the net 750 W is the load.
    """
    inverter = "sensor.inverter_power"

    moment = SIM_START - timedelta(days=1)
    # A KeyError when the inverter is not queried.
    recorder_statistics.side_effect = recorded({moment: 750.0}, inverter_power={moment: 400.0})
    hass.states.async_set("sensor.solar", "1", {"watts": {SIM_START.isoformat(): 100}})
    options: dict[str, Any] = {CONF_PV_POWER_ENTITIES: [inverter]}
    if pv_forecast:
        options[CONF_PV_FORECAST_ENTITY] = "sensor.solar"
    load = await plan_load(hass, mock_config_entry, **options)
    assert set(load.values_w) == {expected_w}
    assert "no statistics of" not in load.source


async def test_a_pv_power_sensor_without_statistics_is_named_in_the_load_source(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    recorder_statistics: MagicMock,
) -> None:
    """A power sensor without a state class has no statistics: the load stays net of its PV."""

    recorder_statistics.side_effect = recorded({SIM_START - timedelta(days=1): 750.0})
    hass.states.async_set("sensor.solar", "1", {"watts": {SIM_START.isoformat(): 100}})
    load = await plan_load(
        hass,
        mock_config_entry,
        **{
            CONF_PV_FORECAST_ENTITY: "sensor.solar",
            CONF_PV_POWER_ENTITIES: ["sensor.inverter_power"],
        },
    )
    assert set(load.values_w) == {750.0}
    source = hass.states.get(PLAN_SENSOR).attributes["load_forecast_source"]  # type: ignore[union-attr]
    assert source.endswith("; no statistics of sensor.inverter_power, its PV not added back")


async def test_the_plan_keeps_a_peak_reserve_from_the_recorded_days(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    recorder_statistics: MagicMock,
) -> None:
    """A day that needed 2000 W above the 4000 W limit at 18:00 local: the plan keeps that."""
    peak = datetime(2026, 6, 20, 16, 0, tzinfo=UTC)  # 18:00 in Brussels, a Saturday

    recorder_statistics.side_effect = recorded({peak - timedelta(hours=1): 750.0, peak: 6000.0})
    await plan_load(hass, mock_config_entry)
    active = mock_config_entry.runtime_data.optimiser.active_plan
    assert active is not None
    starts = [active.start + index * SLOT for index in range(len(active.peak_reserve_wh))]
    reserve = dict(zip(starts, active.peak_reserve_wh, strict=True))
    # One quarter of 2000 W above the limit, through the discharge efficiency (sqrt of 0.8).
    expected_wh = 2000 * 0.25 / math.sqrt(0.8)
    assert reserve[SIM_START] == pytest.approx(expected_wh)  # 14:00 local: the peak is ahead
    assert reserve[peak + timedelta(days=1)] == pytest.approx(expected_wh)
    assert reserve[peak + timedelta(days=1, minutes=15)] == 0.0  # past it


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ({}, "no statistics of sensor."),
        (HomeAssistantError("database locked"), "recorder statistics unavailable"),
    ],
)
async def test_load_estimate_without_history(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    recorder_statistics: MagicMock,
    answer: Any,
    detail: str,
) -> None:
    if isinstance(answer, Exception):
        recorder_statistics.side_effect = answer
    else:
        recorder_statistics.return_value = answer
    load = await plan_load(hass, mock_config_entry)
    assert load.status is ForecastStatus.NO_DATA
    assert detail in load.detail
    assert set(load.values_w) == {0.0}


async def test_load_estimate_without_recorder_or_grid_sensor(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    recorder_statistics: MagicMock,
    freezer: FrozenDateTimeFactory,
) -> None:
    with patch("custom_components.ems.optimiser.plan_inputs.find_load_sources", return_value=None):
        load = await plan_load(hass, mock_config_entry)
    assert load.detail == "the grid power sensor is not registered"
    hass.config.components.remove("recorder")
    optimiser = mock_config_entry.runtime_data.optimiser
    await switch(hass, SWITCH, False)
    # The profile is queried again after an hour.
    freezer.tick(timedelta(hours=1, minutes=1))
    await switch(hass, SWITCH, True)
    assert optimiser.active_plan is not None
    assert optimiser.active_plan.load.detail == "the recorder is not running"
