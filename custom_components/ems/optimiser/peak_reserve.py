"""The energy to keep for the peaks still to come today, learnt from the house's recent days.

Pure logic, no I/O. The load forecast is a mean per quarter of the day, and a mean smears what
matters for the capacity tariff: a car that charges for two and a half hours somewhere between
19:00 and 23:30 becomes a little extra load in every evening quarter, mostly under the limit.
A plan made on it would export in the early evening the energy the car's quarters need later.
What the battery must hold back is therefore taken from whole days, not from the mean: for each
of the recent days of the same kind (working day or weekend), the energy the battery would have
had to give from a quarter on to keep every later quarter of that day under the limit (each
quarter's import above the limit, no more than the battery's power, through the discharge
efficiency); the reserve is the largest of them. It is kept only against exporting: covering
the house's own load still uses it, as self-consumption does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

QUARTER_H: Final = 0.25


def peak_reserve_wh(
    days_w: Sequence[Sequence[float]],
    quarter: int,
    *,
    peak_limit_w: float,
    max_discharge_w: float,
    discharge_efficiency: float,
) -> float:
    """Stored energy (Wh) the worst of `days_w` needed from `quarter` on to stay under the limit.

    `days_w` holds, per day, the mean load net of PV per local quarter of the day (96 values;
    a day with fewer quarters counts for what it has).
    """
    if not 0 < discharge_efficiency <= 1:
        raise ValueError("discharge_efficiency must be in (0, 1]")
    worst_wh = 0.0
    for day_w in days_w:
        excess_w = sum(
            min(max(load_w - peak_limit_w, 0.0), max_discharge_w) for load_w in day_w[quarter:]
        )
        worst_wh = max(worst_wh, excess_w * QUARTER_H / discharge_efficiency)
    return worst_wh


def planned_peak_discharge_wh(
    slots: Sequence[tuple[float, float, float]],
    *,
    peak_limit_w: float,
    margin_w: float,
    slot_hours: float,
    discharge_efficiency: float,
) -> float:
    """Stored energy the plan itself discharges at the peak limit before it charges again.

    `slots` are (charge W, discharge W, grid W) of the slots ahead.
    """
    energy_wh = 0.0
    for charge_w, discharge_w, grid_w in slots:
        if charge_w > 0:
            break
        if discharge_w > 0 and grid_w >= peak_limit_w - margin_w:
            energy_wh += discharge_w * slot_hours / discharge_efficiency
    return energy_wh
