"""The battery's working mode as ems knows it: each polled 7101 weighed against ems's writes.

Firmware may go on reporting the mode from before an ems write of 47005 for a few polls
(MODE_REPORT_LAG_POLLS). This is the one place that knows what ems wrote last and decides, poll
by poll, whether a 7101 that differs from it is that lagging read-back (ignored) or a change made
outside ems, in the Indevolt app or by a reboot (taken at once, and counted). The coordinator
keeps one; the controller reads the known mode, the optimiser the count of outside changes.

Pure logic, no I/O.
"""

from __future__ import annotations

from .const import MODE_REPORT_LAG_POLLS
from .devices.indevolt import WorkingMode


class WorkingModeTracker:
    """The known working mode, and how many polls showed a change ems did not write."""

    def __init__(self) -> None:
        """Know nothing until the first poll or write."""
        # The mode ems last wrote, or last polled since: what a poll is compared with.
        self._expected: WorkingMode | None = None
        self._last_poll_lacked_mode = False
        self._mode_before_write: WorkingMode | None = None
        self._lag_polls_left = 0
        # Successful 47005 writes since set-up.
        self.writes = 0
        # Polls since set-up whose 7101 showed a mode ems did not write.
        self.outside_changes = 0

    @property
    def known(self) -> WorkingMode | None:
        """The mode as last polled, or as last written since; None when 7101 was missing."""
        return None if self._last_poll_lacked_mode else self._expected

    def note_written(self, mode: WorkingMode) -> None:
        """Record a successful 47005 write of `mode`; its read-back may lag for a few polls."""
        if mode is not self._expected:
            self._mode_before_write = self._expected
            self._lag_polls_left = MODE_REPORT_LAG_POLLS
        self._expected = mode
        self._last_poll_lacked_mode = False
        self.writes += 1

    def note_polled(self, polled: WorkingMode | None, *, writes_before_poll: int) -> None:
        """Follow a poll's 7101 (`polled`; None when the reply lacked it).

        `writes_before_poll` is `writes` when the poll started: a poll that started before a
        write may report the mode from before it, and is not compared. Within the lag window
        only the mode from before the write is taken for a lagging read-back; any other mode,
        or the old one after the window, is a change made outside ems.
        """
        if writes_before_poll != self.writes:
            return
        self._last_poll_lacked_mode = polled is None
        if polled is None:
            return  # nothing to compare: the lag window and the expectation stay
        if self._lag_polls_left > 0 and polled is not self._expected:
            self._lag_polls_left -= 1
            if polled is self._mode_before_write:
                return
        self._lag_polls_left = 0
        if self._expected is not None and polled is not self._expected:
            self.outside_changes += 1
        self._expected = polled
