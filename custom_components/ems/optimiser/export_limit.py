"""Export at a negative price: when to lower the Indevolt's feed-in limit, and whose limit it is.

Pure logic, no I/O (the optimiser's `feed_in.py` does the writing). At a negative export price
every exported kWh costs money. The battery takes what it can; beyond that, the PV on the
Indevolt's own DC inputs can be curtailed by lowering its feed-in limit (1146, read 11010) to
the lowest value the firmware accepts. PV on an inverter of its own is out of reach: the
Indevolt cannot hold back power it does not convert, so its export is not counted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..const import MODE_REPORT_LAG_POLLS

# The vendor's write table for 1146 starts at 50 W; firmware with those ranges refuses 0.
LOWEST_FEED_IN_LIMIT_W: Final = 50
# Export of the Indevolt's own PV that makes lowering the limit worth a write (W): above the
# lowest limit, so the write changes something, and above the noise of a poll.
WORTH_LIMITING_W: Final = 100.0


@dataclass(frozen=True, slots=True)
class ExportReading:
    """One poll: the quarter's effective export price and what the house does."""

    export_price: float | None  # EUR/kWh after the tariff options; None: unknown
    grid_w: float  # P1: + import, - export
    dc_pv_w: float  # the Indevolt's PV inputs (1664 + 1665)
    battery_w: float  # + charging, - discharging


def dc_pv_export_w(reading: ExportReading) -> float:
    """The export that comes from the Indevolt's own PV (what a lower limit can hold back).

    The Indevolt's AC output from PV is its PV less what charges the battery; the house takes
    what it needs first, so the export from that PV is at most the whole export.
    """
    return max(0.0, min(-reading.grid_w, reading.dc_pv_w - max(0.0, reading.battery_w)))


def export_limit_wanted(reading: ExportReading, *, limiting: bool) -> bool:
    """Whether the feed-in limit should be at its lowest now.

    Once lowered, the export sits at the limit and the PV the inverter holds back is not
    measured: the limit stays while the price is negative (a limit that is not reached costs
    nothing, and lifting it to look would export at a loss).
    """
    if reading.export_price is None or reading.export_price >= 0:
        return False
    return limiting or dc_pv_export_w(reading) >= WORTH_LIMITING_W


def lowered_limit_w(user_limit_w: int) -> int | None:
    """The limit to write instead of the user's, None when the user's is already as low."""
    if user_limit_w <= LOWEST_FEED_IN_LIMIT_W:
        return None
    return LOWEST_FEED_IN_LIMIT_W


class WrittenLimitWatch:
    """Tells a feed-in limit changed by the user (entity, action, app) from a lagging 11010.

    After ems writes a limit, 11010 may show the previous value for a poll or two. A polled
    value that differs from the written one is the user's doing, unless it comes within
    MODE_REPORT_LAG_POLLS polls of the write and before any poll showed the written value.
    """

    def __init__(self) -> None:
        """Watch nothing until `wrote`."""
        self._expected: int | None = None
        self._lag_polls_left = 0

    def wrote(self, value: int) -> None:
        """Ems wrote `value`: expect it from now on."""
        self._expected = value
        self._lag_polls_left = MODE_REPORT_LAG_POLLS

    def forget(self) -> None:
        """Expect nothing (ems gave the limit back)."""
        self._expected = None

    def changed_outside(self, polled: float | None) -> bool:
        """Whether this poll's 11010 (`polled`) shows a limit that ems did not write."""
        if self._expected is None or polled is None:
            return False
        if round(polled) == self._expected:
            self._lag_polls_left = 0
            return False
        if self._lag_polls_left > 0:
            self._lag_polls_left -= 1
            return False
        return True
