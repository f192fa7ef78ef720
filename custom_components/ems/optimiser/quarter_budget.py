"""The quarter's import budget: what is left of it, and what to aim at so a kettle still fits.

Pure logic, no I/O. The Belgian capacity tariff bills the highest average import over a
15-minute quarter, so a quarter has a budget of limit_w x 0.25 h; what is left of it, spread
over the rest of the quarter, is the import the shaver may allow (peak_shaver.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from .price_slots import quarter_start

QUARTER: Final = timedelta(minutes=15)
QUARTER_H: Final = 0.25
# The budget left is spread over at least this long, so the last second of a quarter does not
# divide by (almost) zero.
MIN_REMAINING_S: Final = 1.0
# A kettle (2.2-3 kW in Europe) for as long as one boils: the load a house may add at any moment.
KETTLE_W: Final = 2500.0
KETTLE_S: Final = 240.0


def allowed_import_w(limit_w: float, imported_wh: float, now: datetime) -> float:
    """The highest average import over the rest of the quarter that keeps it within budget."""
    remaining_s = (quarter_start(now) + QUARTER - now).total_seconds()
    remaining_h = max(remaining_s, MIN_REMAINING_S) / 3600
    return max((limit_w * QUARTER_H - imported_wh) / remaining_h, 0.0)


def target_import_w(
    house_w: float,
    *,
    allowed_w: float,
    limit_w: float,
    imported_wh: float,
    now: datetime,
    max_discharge_w: float,
    kettle_w: float,
) -> float:
    """The import to aim at: the budget, less what a kettle switched on later would need of it.

    With the battery near its power, a kettle on top of the house takes the grid above what the
    budget allows for as long as it boils; had the load before it spent that part of the
    budget, the quarter breaks. So while the quarter has time for it, the rest of the quarter
    aims at what leaves the kettle its import: (budget - kettle's import) / (time - kettle's).
    This only moves the battery's energy within the quarter: without a kettle, the budget kept
    back is imported at the end instead. `allowed_w` is `allowed_import_w` for the same
    quarter; `kettle_w` 0: the budget as it is.
    """
    kettle_import_w = house_w + kettle_w - max_discharge_w
    if kettle_w <= 0 or kettle_import_w <= allowed_w:
        # The budget left covers a kettle from now to the end of the quarter.
        return allowed_w
    remaining_s = (quarter_start(now) + QUARTER - now).total_seconds()
    if remaining_s <= KETTLE_S:
        # Short of it, late in the quarter: the battery gives all it can.
        return 0.0
    budget_wh = limit_w * QUARTER_H - imported_wh - kettle_import_w * KETTLE_S / 3600
    return max(budget_wh / ((remaining_s - KETTLE_S) / 3600), 0.0)
