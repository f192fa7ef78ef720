"""The lowest SOC ems discharges the battery to: one answer for the planner, shaver and controller.

The PowerFlex2000 never discharges below its backup SOC (register 6105), whatever a command
asks. When the optimiser planned or shaved down to the min SOC option while the controller
discharged only to the backup SOC, the controller ended each discharge as "target reached" and
the optimiser sent it again: the working mode flipped at every poll and shaving stopped. With
one floor, the optimiser never asks for a discharge the battery cannot do.

Whole percents: the controller sends the floor as the discharge target (an integer register),
so the shaver must stop at the same whole percent the device stops at.
"""

from __future__ import annotations

import math


def soc_floor_percent(min_soc_percent: float, backup_soc_percent: float | None) -> int:
    """The discharge floor: the min SOC option, or the backup SOC when that is higher.

    A backup SOC that is absent or not a finite number (an unreadable register) is ignored.
    """
    floor = math.ceil(min_soc_percent)
    if backup_soc_percent is not None and math.isfinite(backup_soc_percent):
        floor = max(floor, math.ceil(backup_soc_percent))
    return floor
