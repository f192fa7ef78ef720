"""Closed-loop benchmark: the integration in Home Assistant's test harness, whole simulated days.

Run: ``python benchmarks/closed_loop.py [--day NAME ...] [--hours H]`` inside the py314 root
(``/opt/py314-ha/bin/py314-exec "$PWD" python benchmarks/closed_loop.py``). Prints a markdown
table; takes a few minutes (one core).

For each day of `closed_loop_days.DAYS` it runs, on simulated time:
- self-consumption: the simulated house (`ems_simulator.house.PhysicalHouse`, per-second
  physics) with the battery in its own self-consumption mode all day;
- the optimiser: the ems integration loaded in Home Assistant's test harness (a real config
  entry, real HTTP to the simulator on 127.0.0.1, the coordinator polling every 5 s, the
  optimiser switched on at midnight, the quarter timer firing), the price entity in ENTSO-E's
  shape (tomorrow's prices appear at 13:00, as they reach a home; `--tomorrow-at`), a PV
  forecast entity (Forecast.Solar's `watts`: the clear-sky arc times the mean cloud
  transmission, so clouds are not foreseen) and the load profile the recorder would give after
  a week (the mean of the house's previous 7 days per quarter; the harness runs no recorder);
- the perfect-foresight optimum (`closed_loop_optimum.optimum_bill`, an LP);
- the wear-aware optimum: the same LP obeying the options' minimum price spread as the planner
  does (a virtual cost on every kWh charged), so a day's gap splits into what the wear margin
  chooses to leave and what forecast error costs.
Value captured = (SC - optimiser) / (SC - optimum), and the same against the wear-aware optimum
(its bill is the plain energy bill too). It also reports each bill's highest quarter,
the writes to the Indevolt, the direction changes of the commands (per local day) and whether
the battery is left forced after the optimiser switch turns off and the entry unloads.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import tempfile
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("closed_loop_run.py")
RESULTS_ENV = "EMS_CLOSED_LOOP_RESULTS"
SELECTION_ENV = "EMS_CLOSED_LOOP_DAYS"
HOURS_ENV = "EMS_CLOSED_LOOP_HOURS"
TRACE_ENV = "EMS_CLOSED_LOOP_TRACE"
SEED_ENV = "EMS_CLOSED_LOOP_SEED_OFFSET"
POLLS_ENV = "EMS_CLOSED_LOOP_POLLS"
TOMORROW_ENV = "EMS_CLOSED_LOOP_TOMORROW_AT"
FORECASTS_ENV = "EMS_CLOSED_LOOP_FORECASTS"


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    lines = [
        (
            "| day | self-consumption EUR | optimiser EUR | optimum EUR | value captured "
            "| wear-aware optimum EUR | value captured of it "
            "| highest quarter W (SC / opt / optimum) | writes | most writes in a poll "
            "| direction changes | left forced |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        sc, opt, best = (row[key] for key in ("self_consumption", "optimiser", "optimum"))
        total = {
            key: row[key]["energy_eur"] - row[key]["end_value_eur"]
            for key in ("self_consumption", "optimiser", "optimum", "wear_aware_optimum")
        }
        captured, captured_wear_aware = (
            "n/a" if row[key] is None else f"{100 * row[key]:.1f} %"
            for key in ("captured", "captured_wear_aware")
        )
        stats = row["stats"]
        forced = (
            "yes" if stats["left_forced_after_off"] or stats["left_forced_after_unload"] else "no"
        )
        lines.append(
            f"| {row['name']} | {total['self_consumption']:.3f} | {total['optimiser']:.3f} "
            f"| {total['optimum']:.3f} | {captured} "
            f"| {total['wear_aware_optimum']:.3f} | {captured_wear_aware} "
            f"| {sc['max_quarter_import_w']:.0f} / {opt['max_quarter_import_w']:.0f} / "
            f"{best['max_quarter_import_w']:.0f} | {stats['writes']} | {stats['max_writes_per_poll']} "
            f"| {stats['direction_changes']} "
            f"| {forced} |"
        )
    return "\n".join(lines)


def main() -> int:
    """Run the selected days through pytest (for the harness's fixtures) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", action="append", default=[], help="part of a day's name")
    parser.add_argument("--trace", help="append a line per quarter of each day to this file")
    parser.add_argument("--hours", type=float, default=24.0, help="run only the first hours")
    parser.add_argument(
        "--polls",
        help="append a line per poll (readings, dispatch mode, command) to this file; "
        "with --poll-window HH:MM-HH:MM only within that local time",
    )
    parser.add_argument("--poll-window", default="00:00-24:00")
    parser.add_argument(
        "--tomorrow-at",
        default="13:00",
        help="local time at which tomorrow's prices appear (00:00: from the start, as before "
        "2026-12-01)",
    )
    parser.add_argument(
        "--forecasts",
        choices=("published", "perfect"),
        default="published",
        help="perfect: the PV forecast and the load profile are the day's own quarters, so the "
        "gap left to the optimum is not forecast error",
    )
    parser.add_argument(
        "--seed-offset",
        type=int,
        default=0,
        help="other days of the same houses, roofs and markets: appliances and clouds reseeded",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "results.json"
        os.environ[RESULTS_ENV] = str(results)
        os.environ[SELECTION_ENV] = ",".join(args.day)
        os.environ[HOURS_ENV] = str(args.hours)
        os.environ[SEED_ENV] = str(args.seed_offset)
        os.environ[TOMORROW_ENV] = args.tomorrow_at
        os.environ[FORECASTS_ENV] = args.forecasts
        if args.trace:
            os.environ[TRACE_ENV] = str(Path(args.trace).resolve())
        if args.polls:
            os.environ[POLLS_ENV] = f"{Path(args.polls).resolve()}|{args.poll_window}"
        code = pytest.main(
            [str(RUNNER), "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-o", "addopts="]
        )
        rows = json.loads(results.read_text()) if results.exists() else []
    print(table(rows))
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
