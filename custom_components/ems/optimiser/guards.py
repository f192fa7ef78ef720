"""The optimiser's manners in a real home: back off from a refusing battery, step back from the app.

Pure logic, no I/O; the optimiser consults both at each poll.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from ..const import MODE_REPORT_LAG_POLLS
from ..devices.indevolt import WorkingMode

# Failed sends wait 1 poll, then 2, 4, 8, ... polls, at most this long.
MAX_SEND_BACKOFF: Final = timedelta(minutes=5)
# Doubling beyond this many failures changes nothing (the cap is reached long before).
_MAX_DOUBLINGS: Final = 16

type ModeWrite = tuple[int, WorkingMode]


class SendBackoff:
    """Exponential back-off of the optimiser's commands while the battery refuses them."""

    def __init__(self) -> None:
        """Start with nothing failed."""
        self.failures = 0
        self._next_attempt: datetime | None = None

    def may_send(self, now: datetime) -> bool:
        """Whether a command may be sent at `now`."""
        return self._next_attempt is None or now >= self._next_attempt

    def failed(self, now: datetime, poll_interval: timedelta) -> timedelta:
        """Record a failed send at `now`; returns the wait before the next attempt."""
        self.failures += 1
        polls = 2 ** min(self.failures - 1, _MAX_DOUBLINGS)
        wait: timedelta = min(poll_interval * polls, MAX_SEND_BACKOFF)
        # Half a poll early, so a poll that comes a little early is not skipped.
        self._next_attempt = now + wait - poll_interval / 2
        return wait

    def succeeded(self) -> int:
        """Record a successful send; returns how many sends had failed before it."""
        failures, self.failures = self.failures, 0
        self._next_attempt = None
        return failures


class AppChangeWatch:
    """Tells a working mode changed outside ems (the Indevolt app) from a 7101 that lags a write.

    The mode ems expects is the one it last wrote (`EmsCoordinator.last_mode_write`), or the
    first one polled after `start`. A polled mode that differs from it is a change made outside
    ems, unless it comes within MODE_REPORT_LAG_POLLS polls of the write and before any poll
    reported the written mode.
    """

    def __init__(self) -> None:
        """Expect nothing until `start`."""
        self._expected: WorkingMode | None = None
        self._seen_write: ModeWrite | None = None
        self._lag_polls_left = 0

    def start(self, last_write: ModeWrite | None) -> None:
        """Watch from now on: earlier writes are not ems's expectation any more."""
        self._expected = None
        self._seen_write = last_write
        self._lag_polls_left = 0

    def changed_outside(self, polled: WorkingMode | None, last_write: ModeWrite | None) -> bool:
        """Whether this poll's 7101 (`polled`) shows a change that ems did not write."""
        if last_write is not None and last_write != self._seen_write:
            self._seen_write = last_write
            self._expected = last_write[1]
            self._lag_polls_left = MODE_REPORT_LAG_POLLS
        if polled is None:
            return False  # 7101 missing from this reply: nothing to compare
        if self._expected is None or polled is self._expected:
            self._expected = polled
            self._lag_polls_left = 0
            return False
        if self._lag_polls_left > 0:
            self._lag_polls_left -= 1
            return False
        return True
