"""Command line front end of the planner: CSV and JSON in, one JSON object out.

Run through ``scripts/plan``, which needs neither Home Assistant nor the integration package::

    scripts/plan --prices PRICES.csv [--export-prices CSV] [--load LOAD.csv] [--pv PV.csv]
                 --options OPTIONS.json

Exit status 0 with exactly one JSON object on stdout, or 2 with one line on stderr when the input
cannot be used. A plan that could not meet a soft constraint (see ``optimiser.planner.Plan.violations``)
still exits 0 and names the violations in one ``warning:`` line on stderr.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
import json
import math
from pathlib import Path
import sys
from typing import NoReturn

try:
    from .optimiser.planner import PlannerInputError, PlannerParams, plan_schedule
except ImportError:  # pragma: no cover - run as a script (scripts/plan), no package loaded
    # The planner package alone: the optimiser package's __init__ needs Home Assistant.
    sys.path.insert(0, str(Path(__file__).resolve().parent / "optimiser"))
    from planner import (  # type: ignore[import-not-found,no-redef]
        PlannerInputError,
        PlannerParams,
        plan_schedule,
    )

EXIT_BAD_INPUT = 2
PRICE_HEADER = ("start", "price_eur_per_kwh")
POWER_HEADER = ("start", "w")
ONE_SLOT_HOURS = 0.25


class PlanInputError(Exception):
    """Input the command cannot use; the message is the one line printed on stderr."""


@dataclass(frozen=True, slots=True)
class _Series:
    """Rows of one CSV file: the start as written, the parsed instant and the value."""

    labels: tuple[str, ...]
    starts: tuple[datetime, ...]
    values: tuple[float, ...]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Report a usage error in one line."""
        raise PlanInputError(message)


def _read_csv(path: Path, header: tuple[str, str]) -> _Series:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as err:
        raise PlanInputError(f"{path}: file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise PlanInputError(f"{path}: cannot read: {err}") from err
    rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
    if not rows or tuple(cell.strip().lower() for cell in rows[0]) != header:
        raise PlanInputError(f"{path}: the header must be '{','.join(header)}'")
    labels: list[str] = []
    starts: list[datetime] = []
    values: list[float] = []
    for number, row in enumerate(rows[1:], start=2):
        where = f"{path}: row {number}"
        if len(row) != 2:
            raise PlanInputError(f"{where}: expected 2 fields, got {len(row)}")
        label = row[0].strip()
        try:
            start = datetime.fromisoformat(label)
        except ValueError as err:
            raise PlanInputError(f"{where}: start {label!r} is not an ISO 8601 time") from err
        if start.tzinfo is None:
            raise PlanInputError(f"{where}: start {label!r} has no UTC offset")
        try:
            value = float(row[1])
        except ValueError as err:
            raise PlanInputError(f"{where}: {row[1].strip()!r} is not a number") from err
        if not math.isfinite(value):
            raise PlanInputError(f"{where}: {row[1].strip()!r} is not a finite number")
        labels.append(label)
        starts.append(start)
        values.append(value)
    return _Series(tuple(labels), tuple(starts), tuple(values))


def _read_prices(path: Path) -> _Series:
    series = _read_csv(path, PRICE_HEADER)
    if not series.starts:
        raise PlanInputError(f"{path}: no price rows")
    for index in range(1, len(series.starts)):
        if series.starts[index] <= series.starts[index - 1]:
            raise PlanInputError(
                f"{path}: row {index + 2}: starts must increase "
                f"({series.labels[index]} after {series.labels[index - 1]})"
            )
    return series


def _slot_hours(starts: Sequence[datetime]) -> list[float]:
    """Each slot lasts until the next start; the last as long as the one before it."""
    if len(starts) == 1:
        return [ONE_SLOT_HOURS]
    hours = [(later - earlier) / timedelta(hours=1) for earlier, later in pairwise(starts)]
    return [*hours, hours[-1]]


def _matched(
    path: Path, header: tuple[str, str], starts: Sequence[datetime], default: Sequence[float]
) -> list[float]:
    """Values of a CSV matched to the slots by start instant; slots it lacks keep the default."""
    series = _read_csv(path, header)
    by_start: dict[datetime, float] = {}
    for label, start, value in zip(series.labels, series.starts, series.values, strict=True):
        if start in by_start:
            raise PlanInputError(f"{path}: start {label} appears twice")
        by_start[start] = value
    return [by_start.get(start, fallback) for start, fallback in zip(starts, default, strict=True)]


def _read_options(path: Path) -> dict[str, object]:
    try:
        options = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as err:
        raise PlanInputError(f"{path}: file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise PlanInputError(f"{path}: cannot read: {err}") from err
    except json.JSONDecodeError as err:
        raise PlanInputError(f"{path}: not valid JSON: {err.msg} at line {err.lineno}") from err
    if not isinstance(options, dict):
        raise PlanInputError(f"{path}: options must be a JSON object")
    return options


def _soc_option(options: Mapping[str, object], key: str) -> float | None:
    """A SOC option as a number; None when absent or null (the default applies)."""
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlanInputError(f"{key} must be a number, got {value!r}")
    return float(value)


def run(argv: Sequence[str] | None = None) -> dict[str, object]:
    """Parse the arguments, plan and return the JSON-ready result; raises PlanInputError."""
    parser = _Parser(prog="plan", description="Plan the battery for day-ahead prices.")
    parser.add_argument("--prices", type=Path, required=True, help="start,price_eur_per_kwh CSV")
    parser.add_argument("--export-prices", type=Path, help="start,price_eur_per_kwh CSV")
    parser.add_argument("--load", type=Path, help="start,w CSV (average watts per slot)")
    parser.add_argument("--pv", type=Path, help="start,w CSV (average watts per slot)")
    parser.add_argument("--options", type=Path, required=True, help="options JSON")
    args = parser.parse_args(argv)

    options = _read_options(args.options)
    try:
        params = PlannerParams.from_options(options)
    except PlannerInputError as err:
        raise PlanInputError(f"{args.options}: {err}") from err
    prices = _read_prices(args.prices)
    starts = prices.starts
    zeros = [0.0] * len(starts)
    export = (
        None
        if args.export_prices is None
        else _matched(args.export_prices, PRICE_HEADER, starts, prices.values)
    )
    load = zeros if args.load is None else _matched(args.load, POWER_HEADER, starts, zeros)
    pv = zeros if args.pv is None else _matched(args.pv, POWER_HEADER, starts, zeros)
    initial = _soc_option(options, "initial_soc_percent")
    end = _soc_option(options, "end_soc_percent_min")
    try:
        plan = plan_schedule(
            prices.values,
            prices_export=export,
            load_w=load,
            pv_w=pv,
            slot_hours=_slot_hours(starts),
            params=params,
            initial_soc_percent=params.min_soc_percent if initial is None else initial,
            end_soc_percent_min=end,
        )
    except PlannerInputError as err:
        raise PlanInputError(f"{args.options}: {err}") from err
    if plan.violations:
        sys.stderr.write(f"warning: the plan could not meet: {', '.join(plan.violations)}\n")
    return {
        "slots": [
            {
                "start": label,
                "charge_w": slot.charge_w,
                "discharge_w": slot.discharge_w,
                "soc_percent_end": slot.soc_percent_end,
            }
            for label, slot in zip(prices.labels, plan.slots, strict=True)
        ],
        "cost_eur": plan.cost_eur,
        "solve_ms": plan.solve_ms,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print the plan as one JSON object, or one error line and return 2."""
    try:
        result = run(argv)
    except PlanInputError as err:
        sys.stderr.write(f"plan: error: {' '.join(str(err).split())}\n")
        return EXIT_BAD_INPUT
    sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    sys.exit(main())
