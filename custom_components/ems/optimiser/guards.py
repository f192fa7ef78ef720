"""The optimiser's manners in a real home: back off from a refusing battery, step back from the app.

Pure logic, no I/O; the optimiser consults both at each poll.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

# Failed sends wait 1 poll, then 2, 4, 8, ... polls, at most this long.
MAX_SEND_BACKOFF: Final = timedelta(minutes=5)
# Doubling beyond this many failures changes nothing (the cap is reached long before).
_MAX_DOUBLINGS: Final = 16


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
    """Which working-mode changes made outside ems the optimiser has seen.

    The coordinator's `WorkingModeTracker` tells a change made in the Indevolt app from a 7101
    that lags an ems write, and counts the changes; this remembers the count the optimiser last
    acted on, so each change is seen once, and none from before `start`.
    """

    def __init__(self) -> None:
        """Seen nothing yet; `start` sets where watching begins."""
        self._seen = 0

    def start(self, outside_changes: int) -> None:
        """Watch from now on: changes before this were not the optimiser's concern."""
        self._seen = outside_changes

    def changed_outside(self, outside_changes: int) -> bool:
        """Whether the count grew since the last call (or `start`): a new change outside ems."""
        changed = outside_changes != self._seen
        self._seen = outside_changes
        return changed
