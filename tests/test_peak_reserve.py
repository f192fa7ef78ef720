"""The peak reserve: energy kept for the peaks still to come, from whole recent days."""

from __future__ import annotations

import pytest

from custom_components.ems.optimiser.peak_reserve import (
    peak_reserve_wh,
    planned_peak_discharge_wh,
)

QUIET = (300.0,) * 96
# A car at 3700 W on top of 300 W, from 20:00 for two and a half hours (10 quarters).
CAR_AT_20 = (300.0,) * 80 + (4000.0,) * 10 + (300.0,) * 6
CAR_AT_21 = (300.0,) * 84 + (4000.0,) * 10 + (300.0,) * 2


def reserve(days: list[tuple[float, ...]], quarter: int, **overrides: float) -> float:
    options = {"peak_limit_w": 2500.0, "max_discharge_w": 2400.0, "discharge_efficiency": 1.0}
    return peak_reserve_wh(days, quarter, **(options | overrides))


def test_the_worst_recent_day_from_this_quarter_on_sets_the_reserve() -> None:
    # 10 quarters of 1500 W above the limit: 3750 Wh.
    assert reserve([QUIET, CAR_AT_20], 0) == pytest.approx(3750.0)
    # The mean of the two days is under the limit all evening: a mean sees no peak at all.
    mean = tuple((a + b) / 2 for a, b in zip(QUIET, CAR_AT_20, strict=True))
    assert reserve([mean], 0) == 0.0
    # Later in the evening only what is still to come counts; the later car needs more then.
    assert reserve([CAR_AT_20, CAR_AT_21], 86) == pytest.approx(8 * 375.0)
    assert reserve([CAR_AT_20, CAR_AT_21], 94) == 0.0
    assert reserve([], 0) == 0.0


def test_the_reserve_counts_what_the_battery_can_give_through_its_efficiency() -> None:
    # No more than the battery's power per quarter: 1000 W of the 1500 W excess.
    assert reserve([CAR_AT_20], 0, max_discharge_w=1000.0) == pytest.approx(2500.0)
    # Stored energy is lost on the way out.
    assert reserve([CAR_AT_20], 0, discharge_efficiency=0.5) == pytest.approx(7500.0)
    with pytest.raises(ValueError, match="discharge_efficiency"):
        reserve([CAR_AT_20], 0, discharge_efficiency=0.0)


def test_the_plan_own_peak_discharge_until_it_charges_again() -> None:
    def planned(slots: list[tuple[float, float, float]]) -> float:
        return planned_peak_discharge_wh(
            slots, peak_limit_w=2500.0, margin_w=50.0, slot_hours=0.25, discharge_efficiency=0.8
        )

    at_limit = (0.0, 1600.0, 2480.0)
    below = (0.0, 800.0, 300.0)
    assert planned([below, at_limit, at_limit]) == pytest.approx(2 * 1600 * 0.25 / 0.8)
    # A charge in between: the later peak is served by other energy.
    assert planned([at_limit, (2000.0, 0.0, 2400.0), at_limit]) == pytest.approx(500.0)
    assert planned([]) == 0.0
