"""Benchmark of one poll cycle against the simulator with simulated device latency.

Run: ``python benchmarks/poll_cycle.py [--cycles N] [--before DIR]`` (with Home Assistant's Python,
e.g. ``/opt/py314-ha/bin/py314-exec "$PWD" python benchmarks/poll_cycle.py``). Prints a markdown
table.

For each latency pair (P1, Indevolt) it measures, in one run and interleaved cycle by cycle, each
series with its own clients (so each Indevolt client polls once a cycle, as the coordinator's):
- concurrent: both devices fetched with ``asyncio.gather`` exactly as
  ``EmsCoordinator._async_update_data`` does (real ``P1Client`` / ``IndevoltClient``, one shared
  aiohttp session, the Indevolt read under an ``asyncio.Lock`` like the battery lock);
- sequential: the same two fetches one after the other (the baseline a naive poller would use);
- before (with ``--before DIR``): the concurrent fetch with the ``IndevoltClient`` of another
  source tree (``DIR/custom_components/ems/devices``, e.g. an earlier commit extracted with
  ``git archive``), the baseline for a change to the client.
It reports the median and p95 cycle time, the concurrent cycle over the slower device's
latency (1.00 = no overhead beyond the slowest device), concurrent over sequential, the p95
over the before series', and the most GetData requests one poll took.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
from pathlib import Path
import statistics
import sys
import time
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.ems.devices.indevolt import IndevoltClient
from custom_components.ems.devices.p1 import P1Client
from ems_simulator import RunningSimulator, Simulator, serve

LATENCY_PAIRS_S = ((0.05, 0.3), (0.0, 0.0), (0.05, 0.05), (0.3, 0.05), (0.2, 0.5), (0.1, 1.0))
TIMEOUT_S = 4.0
BEFORE_PACKAGE = "poll_cycle_before_devices"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def load_client_class(tree: Path) -> Any:
    """The ``IndevoltClient`` of the device layer under `tree`, imported as a package of its own."""
    package = tree / "custom_components" / "ems" / "devices"
    spec = importlib.util.spec_from_file_location(
        BEFORE_PACKAGE, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no device layer under {tree}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[BEFORE_PACKAGE] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{BEFORE_PACKAGE}.indevolt").IndevoltClient


class Series:
    """One way of fetching both devices, with its own clients, and its cycle times."""

    def __init__(
        self,
        running: RunningSimulator,
        session: aiohttp.ClientSession,
        client_class: Any,
        *,
        concurrent: bool,
    ) -> None:
        self._simulator = running.simulator
        self._p1 = P1Client(session, running.host, running.p1_port, timeout_s=TIMEOUT_S)
        self._indevolt = client_class(
            session, running.host, running.indevolt_port, timeout_s=TIMEOUT_S
        )
        self._lock = asyncio.Lock()
        self._concurrent = concurrent
        self.cycles_s: list[float] = []
        self.most_requests = 0

    async def _read_battery(self) -> object:
        async with self._lock:
            return await self._indevolt.get_data()

    async def cycle(self, *, record: bool = True) -> None:
        """Fetch both devices once; with `record`, keep the time and count the GetData requests."""
        requests_before = len(self._simulator.requests)
        started = time.perf_counter()
        if self._concurrent:
            results = await asyncio.gather(
                self._p1.get_data(), self._read_battery(), return_exceptions=True
            )
            assert not any(isinstance(r, BaseException) for r in results), results
        else:
            await self._p1.get_data()
            await self._read_battery()
        elapsed = time.perf_counter() - started
        if record:
            self.cycles_s.append(elapsed)
            requests = self._simulator.requests[requests_before:]
            getdata = sum(r.path == "/rpc/Indevolt.GetData" for r in requests)
            self.most_requests = max(self.most_requests, getdata)

    def summary_ms(self) -> str:
        """Median / p95 in ms."""
        return (
            f"{statistics.median(self.cycles_s) * 1000:.1f} / "
            f"{percentile(self.cycles_s, 0.95) * 1000:.1f}"
        )


async def measure_pair(
    session: aiohttp.ClientSession,
    p1_latency_s: float,
    indevolt_latency_s: float,
    cycles: int,
    before_class: Any | None,
) -> str:
    """The table row of one latency pair."""
    simulator = Simulator()
    simulator.p1_faults.latency_s = p1_latency_s
    simulator.indevolt_faults.latency_s = indevolt_latency_s
    async with serve(simulator) as running:
        together = Series(running, session, IndevoltClient, concurrent=True)
        one_by_one = Series(running, session, IndevoltClient, concurrent=False)
        before = (
            None
            if before_class is None
            else Series(running, session, before_class, concurrent=True)
        )
        series = [s for s in (together, one_by_one, before) if s is not None]
        # Warm-up: connection set-up, imports, the first poll (which reads every register).
        for each in series:
            await each.cycle(record=False)
        for _ in range(cycles):
            for each in series:
                await each.cycle()
    slower_s = max(p1_latency_s, indevolt_latency_s)
    median = statistics.median(together.cycles_s)
    vs_slower = f"{median / slower_s:.2f}" if slower_s else "n/a"
    vs_sequential = median / statistics.median(one_by_one.cycles_s)
    if before is None:
        before_ms = vs_before = "-"
        requests = f"{together.most_requests}"
    else:
        before_ms = before.summary_ms()
        p95 = percentile(together.cycles_s, 0.95)
        vs_before = f"{p95 / percentile(before.cycles_s, 0.95):.2f}"
        requests = f"{before.most_requests} / {together.most_requests}"
    return (
        f"| {p1_latency_s * 1000:.0f} / {indevolt_latency_s * 1000:.0f} ms "
        f"| {before_ms} | {together.summary_ms()} | {vs_before} | {one_by_one.summary_ms()} "
        f"| {vs_slower} | {vs_sequential:.2f} | {requests} |"
    )


async def main(cycles: int, before: Path | None) -> None:
    """Measure every latency pair and print the table."""
    before_class = None if before is None else load_client_class(before)
    print(f"Poll cycle, {cycles} cycles per pair (median / p95, ms)\n")
    print(
        "| P1 / Indevolt latency | before: concurrent | concurrent | p95 / before p95"
        " | sequential | concurrent / slower latency | concurrent / sequential"
        " | GetData requests a poll, most (before / now) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    async with aiohttp.ClientSession() as session:
        for p1_latency_s, indevolt_latency_s in LATENCY_PAIRS_S:
            print(
                await measure_pair(session, p1_latency_s, indevolt_latency_s, cycles, before_class)
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30, help="cycles per latency pair")
    parser.add_argument(
        "--before", type=Path, help="source tree whose IndevoltClient is the baseline series"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cycles, arguments.before))
