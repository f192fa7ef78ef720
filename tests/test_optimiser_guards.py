"""The optimiser's back-off from a refusing battery and its watch for changes made in the app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.ems.optimiser.guards import (
    MAX_SEND_BACKOFF,
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


def test_each_change_outside_ems_is_seen_once_and_none_from_before_start() -> None:
    watch = AppChangeWatch()
    watch.start(2)  # two changes in the app long before the optimiser was switched on
    assert not watch.changed_outside(2)
    assert watch.changed_outside(3)
    assert not watch.changed_outside(3)
    watch.start(5)
    assert not watch.changed_outside(5)
