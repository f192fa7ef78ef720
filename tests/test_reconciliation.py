"""Reconciliation of P1 and register 11016 (pure logic)."""

from __future__ import annotations

import pytest

from custom_components.ems.reconciliation import (
    SAMPLES_TO_FLAG,
    STALE_AFTER_S,
    Reconciler,
    ReconciliationStatus,
)


def _feed(reconciler: Reconciler, samples: list[tuple[float, float | None, float | None]]):
    result = None
    for now_s, p1_w, meter_w in samples:
        result = reconciler.update(now_s, p1_w, meter_w)
    assert result is not None
    return result


def test_agreeing_readings_are_ok_and_difference_is_raw() -> None:
    reconciler = Reconciler()
    result = reconciler.update(0.0, 1000.0, 980.0)
    assert result.status is ReconciliationStatus.OK
    assert result.difference_w == 20.0
    assert result.fresh
    assert result.meter_age_s == 0.0


@pytest.mark.parametrize(("p1_w", "meter_w"), [(None, 100.0), (100.0, None), (None, None)])
def test_missing_input_is_no_data(p1_w: float | None, meter_w: float | None) -> None:
    result = Reconciler().update(0.0, p1_w, meter_w)
    assert result.status is ReconciliationStatus.NO_DATA
    assert result.difference_w is None


def test_age_counts_from_the_last_change() -> None:
    reconciler = Reconciler()
    reconciler.update(0.0, 500.0, 500.0)
    result = reconciler.update(4.0, 700.0, 500.0)
    assert not result.fresh
    assert result.meter_age_s == 4.0
    # An unchanged 11016 is not compared with a newer P1 value: a load step is not a mismatch.
    assert result.status is ReconciliationStatus.OK


def test_mismatch_needs_consecutive_fresh_samples() -> None:
    reconciler = Reconciler()
    samples = [(5.0 * i, 2000.0, 1000.0 + i) for i in range(SAMPLES_TO_FLAG - 1)]
    assert _feed(reconciler, samples).status is ReconciliationStatus.OK
    result = reconciler.update(100.0, 2000.0, 1500.0)
    assert result.status is ReconciliationStatus.MISMATCH
    # Back to agreement: the fault clears after the same number of good samples.
    for i in range(SAMPLES_TO_FLAG - 1):
        assert (
            reconciler.update(110.0 + i, 1000.0, 1001.0 + i).status is ReconciliationStatus.MISMATCH
        )
    assert reconciler.update(120.0, 1000.0, 1010.0).status is ReconciliationStatus.OK


def test_small_differences_are_tolerated() -> None:
    reconciler = Reconciler()
    # 5 % of 3000 W = 150 W tolerance; 50 W minimum at low power.
    samples = [(5.0 * i, 3000.0, 2860.0 + i) for i in range(5)]
    assert _feed(reconciler, samples).status is ReconciliationStatus.OK
    samples = [(100.0 + 5.0 * i, 60.0, 20.0 + i) for i in range(5)]
    assert _feed(reconciler, samples).status is ReconciliationStatus.OK


def test_reversed_clamp_is_recognised() -> None:
    reconciler = Reconciler()
    samples = [(5.0 * i, 1500.0, -1480.0 - i) for i in range(SAMPLES_TO_FLAG)]
    assert _feed(reconciler, samples).status is ReconciliationStatus.SIGN_REVERSED


def test_opposite_signs_near_zero_are_not_a_reversed_clamp() -> None:
    reconciler = Reconciler()
    samples = [(5.0 * i, 40.0, -30.0 - i) for i in range(SAMPLES_TO_FLAG)]
    assert _feed(reconciler, samples).status is not ReconciliationStatus.SIGN_REVERSED


def test_unchanging_meter_becomes_stale_then_recovers() -> None:
    reconciler = Reconciler()
    reconciler.update(0.0, 500.0, 500.0)
    result = reconciler.update(STALE_AFTER_S + 1, 500.0, 500.0)
    assert result.status is ReconciliationStatus.STALE
    assert result.difference_w == 0.0
    assert reconciler.update(STALE_AFTER_S + 5, 520.0, 510.0).status is ReconciliationStatus.OK


def test_first_value_after_no_data_is_ok() -> None:
    reconciler = Reconciler()
    reconciler.update(0.0, None, 100.0)
    # 11016 unchanged, but a P1 reading arrives: comparable, not fresh.
    result = reconciler.update(1.0, 120.0, 100.0)
    assert result.status is ReconciliationStatus.OK
    assert not result.fresh


def test_no_meter_connected_is_no_ct_not_a_mismatch() -> None:
    reconciler = Reconciler()
    # Without a meter the CT reads 0 W while the P1 meter sees the house: no comparison.
    for i in range(SAMPLES_TO_FLAG + 1):
        result = reconciler.update(5.0 * i, 2000.0, float(i % 2), meter_connected=False)
        assert result.status is ReconciliationStatus.NO_CT
        assert result.difference_w is None
    # Connected again: compared afresh, no fault carried over.
    result = reconciler.update(100.0, 2000.0, 1990.0, meter_connected=True)
    assert result.status is ReconciliationStatus.OK
    assert result.difference_w == 10.0
