"""The one SOC floor of the planner, the shaver and the controller."""

from __future__ import annotations

import math

import pytest

from custom_components.ems.soc_floor import soc_floor_percent


@pytest.mark.parametrize(
    ("min_soc", "backup", "floor"),
    [
        (10.0, None, 10),
        (10.0, 5, 10),
        (10.0, 30, 30),
        (10.5, None, 11),  # whole percents, rounded up: the device never goes below
        (10.0, 29.2, 30),
        (10.0, math.nan, 10),  # an unreadable backup SOC is ignored
        (10.0, math.inf, 10),
    ],
)
def test_floor_is_the_higher_of_min_soc_and_backup_soc(
    min_soc: float, backup: float | None, floor: int
) -> None:
    assert soc_floor_percent(min_soc, backup) == floor
