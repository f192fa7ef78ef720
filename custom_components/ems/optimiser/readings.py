"""Which readings the optimiser acts on: a power or SOC that is finite and plausible.

Pure logic, no I/O. A reading that is missing, not finite or implausible (a P1 reply of 1e400
or NaN, a SOC of 250 %) is never acted on.
"""

from __future__ import annotations

import math
from typing import Final

# Far above any household connection (3 x 63 A at 230 V is 43 kW): beyond it a power is garbage.
MAX_PLAUSIBLE_POWER_W: Final = 100_000.0


def usable_power_w(value: float | None) -> float | None:
    """`value` when it is a finite, plausible power, else None."""
    if value is None or not math.isfinite(value) or abs(value) > MAX_PLAUSIBLE_POWER_W:
        return None
    return value


def usable_soc_percent(value: float | None) -> float | None:
    """`value` when it is a finite SOC within 0..100 %, else None."""
    if value is None or not math.isfinite(value) or not 0.0 <= value <= 100.0:
        return None
    return value
