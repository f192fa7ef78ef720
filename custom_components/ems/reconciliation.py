"""Reconcile the two views of grid power: the P1 meter and the Indevolt's grid CT (11016).

Pure logic, no I/O. The P1 meter refreshes every second; the Indevolt firmware refreshes
register 11016 only about every 5 s and sends no timestamp, so the age of an 11016 value is the
time since it last changed. Only polls in which 11016 changed ("fresh samples") are compared:
comparing a new P1 reading with an 11016 value from seconds ago would flag every load step as a
mismatch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# A difference counts as a mismatch above the larger of these (CT and meter tolerances).
MISMATCH_MIN_W: Final = 50.0
MISMATCH_FRACTION: Final = 0.05
# A reversed clamp: opposite signs, sizes within this fraction (or MISMATCH_MIN_W) of each other,
# at a grid power large enough to tell the sign apart from noise.
SIGN_REVERSED_MIN_W: Final = 100.0
SIGN_REVERSED_SIZE_FRACTION: Final = 0.2
# Consecutive fresh samples that must agree before the status changes to a fault.
SAMPLES_TO_FLAG: Final = 3
# 11016 is refreshed every ~5 s; unchanged for this long means the comparison is stale.
STALE_AFTER_S: Final = 30.0


class ReconciliationStatus(StrEnum):
    """What the comparison of P1 and 11016 says."""

    OK = "ok"
    MISMATCH = "mismatch"
    SIGN_REVERSED = "sign_reversed"
    STALE = "stale"
    NO_DATA = "no_data"
    # The battery reports no meter (CT) connected (7120): 11016 measures nothing to compare.
    NO_CT = "no_ct"


# Statuses after which the first fresh sample is taken as agreement until proven otherwise.
_NOT_COMPARED: Final = frozenset(
    {ReconciliationStatus.NO_DATA, ReconciliationStatus.STALE, ReconciliationStatus.NO_CT}
)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The result of one poll's comparison."""

    status: ReconciliationStatus
    # P1 active_power_w minus 11016, raw (never sign-corrected); None when an input is missing.
    difference_w: float | None
    # Seconds since 11016 last changed; None before the first value.
    meter_age_s: float | None
    # True when 11016 changed in this poll, so the difference compares values of one moment.
    fresh: bool


def _classify(p1_w: float, meter_w: float) -> ReconciliationStatus:
    """Classify one fresh sample."""
    if (
        abs(p1_w) > SIGN_REVERSED_MIN_W
        and p1_w * meter_w < 0
        and abs(abs(p1_w) - abs(meter_w))
        <= max(MISMATCH_MIN_W, SIGN_REVERSED_SIZE_FRACTION * abs(p1_w))
    ):
        return ReconciliationStatus.SIGN_REVERSED
    if abs(p1_w - meter_w) > max(MISMATCH_MIN_W, MISMATCH_FRACTION * abs(p1_w)):
        return ReconciliationStatus.MISMATCH
    return ReconciliationStatus.OK


class Reconciler:
    """Keeps the little history the comparison needs (one instance per config entry)."""

    def __init__(self) -> None:
        """Start with no history."""
        self._meter_w: float | None = None
        self._meter_changed_at_s: float | None = None
        self._samples: deque[ReconciliationStatus] = deque(maxlen=SAMPLES_TO_FLAG)
        self._status = ReconciliationStatus.NO_DATA

    def update(
        self,
        now_s: float,
        p1_w: float | None,
        meter_w: float | None,
        *,
        meter_connected: bool | None = None,
    ) -> Reconciliation:
        """Take one poll's readings (monotonic seconds) and return the comparison.

        `meter_connected` is register 7120 (None when unknown: compared as if connected).
        """
        fresh = False
        if meter_w is not None and (self._meter_w is None or meter_w != self._meter_w):
            fresh = True
            self._meter_w = meter_w
            self._meter_changed_at_s = now_s
        age_s = None if self._meter_changed_at_s is None else now_s - self._meter_changed_at_s

        if p1_w is None or meter_w is None:
            return Reconciliation(ReconciliationStatus.NO_DATA, None, age_s, fresh=False)
        if meter_connected is False:
            self._samples.clear()
            self._status = ReconciliationStatus.NO_CT
            return Reconciliation(self._status, None, age_s, fresh=False)
        difference_w = p1_w - meter_w
        if age_s is not None and age_s > STALE_AFTER_S:
            self._samples.clear()
            self._status = ReconciliationStatus.STALE
        elif fresh:
            self._samples.append(_classify(p1_w, meter_w))
            if len(set(self._samples)) == 1 and len(self._samples) == SAMPLES_TO_FLAG:
                self._status = self._samples[0]
            elif self._status in _NOT_COMPARED:
                self._status = ReconciliationStatus.OK
        elif self._status in (ReconciliationStatus.NO_DATA, ReconciliationStatus.NO_CT):
            self._status = ReconciliationStatus.OK
        return Reconciliation(self._status, difference_w, age_s, fresh=fresh)
