"""The optimiser's back-off from a refusing battery and its watch for changes made in the app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.ems.devices.indevolt import WorkingMode
from custom_components.ems.optimiser.guards import (
    MAX_SEND_BACKOFF,
    MODE_REPORT_LAG_POLLS,
    AppChangeWatch,
    SendBackoff,
)

T0 = datetime(2026, 1, 12, 17, 0, tzinfo=UTC)
POLL = timedelta(seconds=5)


def test_backoff_doubles_in_polls_up_to_the_cap_and_resets_on_success() -> None:
    backoff = SendBackoff()
    assert backoff.may_send(T0)
    now = T0
    waits = []
    for _ in range(10):
        wait = backoff.failed(now, POLL)
        waits.append(wait)
        # Not before the wait is (almost) over; a poll half an interval early still sends.
        assert not backoff.may_send(now + wait - POLL)
        assert backoff.may_send(now + wait - POLL / 2)
        now += wait
    assert waits[:4] == [POLL, 2 * POLL, 4 * POLL, 8 * POLL]
    assert max(waits) == waits[-1] == MAX_SEND_BACKOFF
    for _ in range(100):  # a battery that refuses for days: the wait stays at the cap
        assert backoff.failed(now, POLL) == MAX_SEND_BACKOFF
    assert backoff.succeeded() == 110
    assert backoff.may_send(now)
    assert backoff.succeeded() == 0


def test_app_change_is_a_polled_mode_that_ems_did_not_write() -> None:
    watch = AppChangeWatch()
    watch.start(None)
    self_consumed = WorkingMode.SELF_CONSUMED
    assert not watch.changed_outside(self_consumed, None)  # the first poll sets the expectation
    assert not watch.changed_outside(None, None)  # 7101 missing: nothing to compare
    assert watch.changed_outside(WorkingMode.SCHEDULE, None)


def test_a_write_may_be_read_back_late_but_only_for_a_few_polls() -> None:
    watch = AppChangeWatch()
    watch.start(None)
    self_consumed, realtime = WorkingMode.SELF_CONSUMED, WorkingMode.REALTIME
    assert not watch.changed_outside(self_consumed, None)
    write = (1, realtime)
    for _ in range(MODE_REPORT_LAG_POLLS):
        assert not watch.changed_outside(self_consumed, write)
    assert watch.changed_outside(self_consumed, write)  # still the old mode: changed back


def test_once_the_written_mode_is_read_back_a_change_counts_at_once() -> None:
    watch = AppChangeWatch()
    watch.start(None)
    realtime = WorkingMode.REALTIME
    assert not watch.changed_outside(WorkingMode.SELF_CONSUMED, (1, realtime))
    assert not watch.changed_outside(realtime, (1, realtime))
    assert watch.changed_outside(WorkingMode.SCHEDULE, (1, realtime))


def test_writes_before_start_are_not_expected() -> None:
    watch = AppChangeWatch()
    watch.start((7, WorkingMode.REALTIME))  # written long before the optimiser was switched on
    assert not watch.changed_outside(WorkingMode.SCHEDULE, (7, WorkingMode.REALTIME))
    assert watch.changed_outside(WorkingMode.SELF_CONSUMED, (7, WorkingMode.REALTIME))
