"""The PV forecast corrected within the day by the last hours' measured PV (pure)."""

from __future__ import annotations

from datetime import timedelta
import math

import pytest

from custom_components.ems.optimiser.pv_correction import (
    CORRECTION_DECAY,
    PERSISTENT_DECAY,
    corrected_pv_w,
    is_persistent,
    pv_miss,
    pv_ratio,
)

from .conftest import SIM_START


@pytest.mark.parametrize(
    ("recent", "expected"),
    [
        # A morning of haze: 12 quarters at half the forecast, the forecast's credit of 4000.
        ([(2000.0, 1000.0)] * 12, (12_000 + 4000) / (24_000 + 4000)),
        # One dull quarter at dawn moves the ratio little.
        ([(200.0, 0.0)], 4000 / 4200),
        ([(400.0, 3000.0)] * 12, 2.0),  # far sunnier: capped at twice
        ([(0.0, 0.0)] * 4, 1.0),  # night
        ([], None),
    ],
)
def test_the_ratio_is_measured_over_forecast_pv_of_the_last_quarters(
    recent: list[tuple[float, float]], expected: float | None
) -> None:
    assert pv_ratio(recent) == (None if expected is None else pytest.approx(expected))


def test_the_pv_correction_scales_now_and_fades_over_the_next_hours() -> None:
    now = SIM_START + timedelta(minutes=5)
    starts = [SIM_START + timedelta(hours=hours) for hours in (0, 2, 4, 24)]
    corrected = corrected_pv_w([1000.0] * 4, starts, now=now, ratio=0.5)
    assert corrected[0] == pytest.approx(500.0)
    # Two hours on (115 minutes from now) the correction has exp(-115/180) of its weight.
    assert corrected[1] == pytest.approx(1000 - 500 * math.exp(-(115 / 180)), rel=1e-3)
    assert corrected[1] < corrected[2] < corrected[3]
    assert corrected[3] == pytest.approx(1000.0, abs=0.5)
    assert corrected_pv_w([1000.0], starts[:1], now=now, ratio=None) == (1000.0,)


HAZE_HOUR = [(2000.0, 1100.0)] * 4  # 45 % of the light lost, every quarter
CLEAR_HOUR = [(2000.0, 2000.0)] * 4
DAWN_HOUR = [(100.0, 70.0)] * 4  # dim: 30 % less of little light stays near the forecast
SUNNY_HOUR = [(1000.0, 1600.0)] * 4


@pytest.mark.parametrize(
    ("hours", "ratio", "persistent"),
    [
        ([HAZE_HOUR] * 3, 0.6, True),  # haze all morning: the day's weather
        # A clear sky the forecast did not see fades as before: counting on sun that does not
        # come costs the evening's import, expecting too little only midday energy.
        ([SUNNY_HOUR] * 3, 1.4, False),
        ([HAZE_HOUR, HAZE_HOUR, CLEAR_HOUR], 0.7, False),  # two dark hours: clouds come and go
        ([CLEAR_HOUR, HAZE_HOUR, HAZE_HOUR], 0.7, False),
        ([HAZE_HOUR, HAZE_HOUR, DAWN_HOUR], 0.7, False),  # dawn said too little
        ([HAZE_HOUR, HAZE_HOUR, []], 0.7, False),  # an hour without PV quarters
        ([HAZE_HOUR] * 2, 0.6, False),  # only two hours measured
        ([HAZE_HOUR, HAZE_HOUR, SUNNY_HOUR], 0.8, False),  # a miss the other way
    ],
)
def test_a_miss_is_the_days_weather_only_when_each_hour_shares_it(
    hours: list[list[tuple[float, float]]], ratio: float, persistent: bool
) -> None:
    assert is_persistent(hours, ratio) is persistent


def test_the_days_weather_fades_over_the_rest_of_the_day() -> None:
    now = SIM_START
    starts = [SIM_START + timedelta(hours=hours) for hours in (0, 3, 6)]
    passing = corrected_pv_w([1000.0] * 3, starts, now=now, ratio=0.5)
    weather = corrected_pv_w([1000.0] * 3, starts, now=now, ratio=0.5, decay=PERSISTENT_DECAY)
    assert passing[0] == weather[0] == pytest.approx(500.0)
    assert weather[2] == pytest.approx(1000 - 500 * math.exp(-6 / 48))
    assert passing[2] == pytest.approx(1000 - 500 * math.exp(-2))


def test_the_miss_groups_the_quarters_into_the_hours_before_now() -> None:
    now = SIM_START + timedelta(minutes=5)
    starts = [SIM_START - index * timedelta(minutes=15) for index in range(1, 13)]
    published = dict.fromkeys(starts, 2000.0)
    # The last two hours dull, the hour before them as forecast: clouds that came.
    measured = {start: 1100.0 if index < 8 else 2000.0 for index, start in enumerate(starts)}
    miss = pv_miss(measured, published, now)
    assert miss is not None
    assert miss.ratio == pytest.approx((8 * 1100 + 4 * 2000 + 4000) / (12 * 2000 + 4000))
    assert (miss.persistent, miss.decay) == (False, CORRECTION_DECAY)
    dull = pv_miss(dict.fromkeys(starts, 1100.0), published, now)
    assert dull is not None
    assert (dull.persistent, dull.decay) == (True, PERSISTENT_DECAY)
    # Nor does the quarter under way.
    assert pv_miss(measured | {SIM_START: 0.0}, published | {SIM_START: 2000.0}, now) == miss
    # Quarters the published forecast no longer lists say nothing.
    assert pv_miss(measured, {}, now) is None
    assert pv_miss(measured, {starts[0]: 2000.0}, now) == pv_miss(
        {starts[0]: 1100.0}, published, now
    )
