"""The PV forecast corrected within the day by the last hour's measured PV (pure)."""

from __future__ import annotations

from datetime import timedelta
import math

import pytest

from custom_components.ems.optimiser.pv_correction import corrected_pv_w, pv_ratio

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
