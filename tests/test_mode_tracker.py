"""The working mode as ems knows it: a lagging read-back of an ems write vs a change in the app."""

from __future__ import annotations

from custom_components.ems.const import MODE_REPORT_LAG_POLLS
from custom_components.ems.devices.indevolt import WorkingMode
from custom_components.ems.mode_tracker import WorkingModeTracker

SELF_CONSUMED = WorkingMode.SELF_CONSUMED
REALTIME = WorkingMode.REALTIME
SCHEDULE = WorkingMode.SCHEDULE


def _poll(tracker: WorkingModeTracker, polled: WorkingMode | None) -> None:
    """A poll that started after the last write."""
    tracker.note_polled(polled, writes_before_poll=tracker.writes)


def test_the_first_poll_sets_the_mode_and_a_later_different_one_is_a_change_outside() -> None:
    tracker = WorkingModeTracker()
    assert tracker.known is None
    _poll(tracker, SELF_CONSUMED)
    assert tracker.known is SELF_CONSUMED
    assert tracker.outside_changes == 0
    _poll(tracker, SELF_CONSUMED)
    assert tracker.outside_changes == 0
    _poll(tracker, SCHEDULE)
    assert (tracker.known, tracker.outside_changes) == (SCHEDULE, 1)
    _poll(tracker, SCHEDULE)  # the same change is counted once
    assert tracker.outside_changes == 1


def test_a_write_is_known_at_once_and_its_read_back_may_lag_for_a_few_polls() -> None:
    tracker = WorkingModeTracker()
    _poll(tracker, SELF_CONSUMED)
    tracker.note_written(REALTIME)
    assert tracker.known is REALTIME
    for _ in range(MODE_REPORT_LAG_POLLS):
        _poll(tracker, SELF_CONSUMED)  # the mode from before the write: lagging
        assert tracker.known is REALTIME
    assert tracker.outside_changes == 0
    _poll(tracker, SELF_CONSUMED)  # still the old mode after the window: changed back
    assert (tracker.known, tracker.outside_changes) == (SELF_CONSUMED, 1)


def test_once_the_written_mode_is_read_back_a_change_counts_at_once() -> None:
    tracker = WorkingModeTracker()
    _poll(tracker, SELF_CONSUMED)
    tracker.note_written(REALTIME)
    _poll(tracker, SELF_CONSUMED)
    _poll(tracker, REALTIME)
    _poll(tracker, SELF_CONSUMED)
    assert (tracker.known, tracker.outside_changes) == (SELF_CONSUMED, 1)


def test_within_the_lag_window_only_the_mode_from_before_the_write_is_taken_for_lag() -> None:
    tracker = WorkingModeTracker()
    _poll(tracker, SELF_CONSUMED)
    tracker.note_written(REALTIME)
    _poll(tracker, SCHEDULE)  # neither the old nor the written mode: the app
    assert (tracker.known, tracker.outside_changes) == (SCHEDULE, 1)


def test_a_poll_that_started_before_a_write_is_not_compared() -> None:
    tracker = WorkingModeTracker()
    _poll(tracker, SELF_CONSUMED)
    writes_before = tracker.writes
    tracker.note_written(REALTIME)  # while the poll was in flight
    tracker.note_polled(SELF_CONSUMED, writes_before_poll=writes_before)
    tracker.note_polled(None, writes_before_poll=writes_before)
    assert (tracker.known, tracker.outside_changes) == (REALTIME, 0)
    assert tracker.writes == writes_before + 1


def test_a_poll_without_7101_makes_the_mode_unknown_but_compares_nothing() -> None:
    tracker = WorkingModeTracker()
    _poll(tracker, SELF_CONSUMED)
    tracker.note_written(REALTIME)
    _poll(tracker, None)
    assert tracker.known is None
    # The missing reading used up none of the lag window, nor the expectation.
    for _ in range(MODE_REPORT_LAG_POLLS):
        _poll(tracker, SELF_CONSUMED)
        assert tracker.known is REALTIME
    assert tracker.outside_changes == 0
    _poll(tracker, None)
    tracker.note_written(SELF_CONSUMED)  # a write makes the mode known again
    assert tracker.known is SELF_CONSUMED


def test_writing_the_known_mode_again_opens_no_lag_window() -> None:
    tracker = WorkingModeTracker()
    _poll(tracker, REALTIME)
    tracker.note_written(REALTIME)
    _poll(tracker, SELF_CONSUMED)
    assert (tracker.known, tracker.outside_changes) == (SELF_CONSUMED, 1)
