"""The decision to lower the feed-in limit at a negative export price, and the override watch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.ems.const import MODE_REPORT_LAG_POLLS
from custom_components.ems.control_store import FeedInLimitRecord
from custom_components.ems.optimiser.export_limit import (
    LOWEST_FEED_IN_LIMIT_W,
    ExportReading,
    WrittenLimitWatch,
    dc_pv_export_w,
    export_limit_wanted,
    lowered_limit_w,
)


def reading(
    price: float | None = -0.05, grid_w: float = -1200.0, dc_pv_w: float = 1800.0, battery_w=0.0
) -> ExportReading:
    return ExportReading(export_price=price, grid_w=grid_w, dc_pv_w=dc_pv_w, battery_w=battery_w)


@pytest.mark.parametrize(
    ("sample", "expected_w"),
    [
        (reading(), 1200.0),  # all the export is the Indevolt's PV
        (reading(grid_w=-1200.0, dc_pv_w=500.0), 500.0),  # the rest is PV on its own inverter
        (reading(grid_w=-1200.0, dc_pv_w=1500.0, battery_w=1400.0), 100.0),  # the battery takes
        (reading(grid_w=-1200.0, dc_pv_w=0.0), 0.0),  # AC-coupled PV only: out of reach
        (reading(grid_w=300.0), 0.0),  # importing
        (reading(grid_w=-800.0, dc_pv_w=0.0, battery_w=-800.0), 0.0),  # a discharge, no PV
    ],
)
def test_export_from_the_indevolts_own_pv(sample: ExportReading, expected_w: float) -> None:
    assert dc_pv_export_w(sample) == expected_w


@pytest.mark.parametrize(
    ("sample", "limiting", "wanted"),
    [
        (reading(), False, True),
        (reading(price=0.0), False, False),  # not at a loss
        (reading(price=0.03), True, False),  # the price turned: give it back
        (reading(price=None), True, False),  # no price known: the user's limit
        (reading(grid_w=-60.0), False, False),  # too little to be worth a write
        (reading(dc_pv_w=0.0), False, False),  # AC-coupled PV cannot be curtailed
        (reading(grid_w=200.0), False, False),  # the house takes it all
        # Once lowered, the export sits at the limit and the held-back PV is not measured.
        (reading(grid_w=-50.0), True, True),
        (reading(grid_w=150.0), True, True),
    ],
)
def test_limit_wanted_only_at_a_negative_price_and_a_dc_pv_export(
    sample: ExportReading, limiting: bool, wanted: bool
) -> None:
    assert export_limit_wanted(sample, limiting=limiting) is wanted


def test_the_lowest_limit_the_vendor_accepts_unless_the_user_set_lower() -> None:
    assert lowered_limit_w(1200) == LOWEST_FEED_IN_LIMIT_W == 50
    assert lowered_limit_w(51) == 50
    assert lowered_limit_w(50) is None
    assert lowered_limit_w(0) is None  # "no export" already: never raised to 50


def test_a_lagging_readback_is_not_an_override() -> None:
    watch = WrittenLimitWatch()
    assert not watch.changed_outside(1200)  # nothing written: nothing to compare
    watch.wrote(50)
    for _ in range(MODE_REPORT_LAG_POLLS):
        assert not watch.changed_outside(1200)  # 11010 still shows the user's old limit
    assert watch.changed_outside(1200)  # too long: someone set it back


def test_a_change_after_the_readback_showed_the_write_is_an_override_at_once() -> None:
    watch = WrittenLimitWatch()
    watch.wrote(50)
    assert not watch.changed_outside(1200)
    assert not watch.changed_outside(50.0)
    assert not watch.changed_outside(None)  # 11010 missing from a reply
    assert watch.changed_outside(600)
    watch.forget()
    assert not watch.changed_outside(600)


def test_feed_in_record_round_trip_and_damage() -> None:
    record = FeedInLimitRecord(1200, 50, datetime(2026, 6, 21, 12, tzinfo=UTC))
    assert FeedInLimitRecord.from_dict(record.as_dict()) == record
    with pytest.raises(ValueError, match="bad start time"):
        FeedInLimitRecord.from_dict({**record.as_dict(), "started": "yesterday"})
    with pytest.raises(TypeError, match="a limit is missing"):
        FeedInLimitRecord.from_dict({**record.as_dict(), "user_limit_w": None})
    with pytest.raises(KeyError, match="user_limit_w"):
        FeedInLimitRecord.from_dict({"started": "2026-06-21T12:00:00+00:00"})
