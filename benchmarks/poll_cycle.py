"""Benchmark of one poll cycle against the simulator with simulated device latency.

Run: ``python benchmarks/poll_cycle.py [--cycles N]`` (with Home Assistant's Python, e.g.
``/opt/py314-ha/bin/py314-exec "$PWD" python benchmarks/poll_cycle.py``). Prints a markdown table.

For each latency pair (P1, Indevolt) it measures, in one run and interleaved cycle by cycle:
- concurrent: both devices fetched with ``asyncio.gather`` exactly as
  ``EmsCoordinator._async_update_data`` does (real ``P1Client`` / ``IndevoltClient``, one shared
  aiohttp session, the Indevolt read under an ``asyncio.Lock`` like the battery lock);
- sequential: the same two fetches one after the other (the baseline a naive poller would use).
It reports the median and p95 cycle time, the concurrent cycle over the slower device's
latency (1.00 = no overhead beyond the slowest device), and concurrent over sequential.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import statistics
import sys
import time

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.ems.devices.indevolt import IndevoltClient
from custom_components.ems.devices.p1 import P1Client
from ems_simulator import Simulator, serve

LATENCY_PAIRS_S = ((0.05, 0.3), (0.0, 0.0), (0.05, 0.05), (0.3, 0.05), (0.2, 0.5), (0.1, 1.0))
TIMEOUT_S = 4.0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


async def measure_pair(
    session: aiohttp.ClientSession, p1_latency_s: float, indevolt_latency_s: float, cycles: int
) -> dict[str, float]:
    """Median/p95 of concurrent and sequential cycles for one latency pair."""
    simulator = Simulator()
    simulator.p1_faults.latency_s = p1_latency_s
    simulator.indevolt_faults.latency_s = indevolt_latency_s
    async with serve(simulator) as running:
        p1 = P1Client(session, running.host, running.p1_port, timeout_s=TIMEOUT_S)
        indevolt = IndevoltClient(session, running.host, running.indevolt_port, timeout_s=TIMEOUT_S)
        battery_lock = asyncio.Lock()

        async def read_battery() -> object:
            async with battery_lock:
                return await indevolt.get_data()

        async def concurrent() -> float:
            started = time.perf_counter()
            results = await asyncio.gather(p1.get_data(), read_battery(), return_exceptions=True)
            elapsed = time.perf_counter() - started
            assert not any(isinstance(r, BaseException) for r in results), results
            return elapsed

        async def sequential() -> float:
            started = time.perf_counter()
            await p1.get_data()
            await read_battery()
            return time.perf_counter() - started

        await concurrent()  # warm-up: connection set-up, imports, first model ticks
        await sequential()
        together: list[float] = []
        one_by_one: list[float] = []
        for _ in range(cycles):
            together.append(await concurrent())
            one_by_one.append(await sequential())
    slower_s = max(p1_latency_s, indevolt_latency_s)
    median = statistics.median(together)
    return {
        "median_s": median,
        "p95_s": percentile(together, 0.95),
        "seq_median_s": statistics.median(one_by_one),
        "seq_p95_s": percentile(one_by_one, 0.95),
        "vs_slower": median / slower_s if slower_s else float("nan"),
        "vs_sequential": median / statistics.median(one_by_one),
    }


async def main(cycles: int) -> None:
    """Measure every latency pair and print the table."""
    print(f"Poll cycle, {cycles} cycles per pair (median / p95, ms)\n")
    print(
        "| P1 latency | Indevolt latency | concurrent (median / p95) | sequential (median / p95)"
        " | concurrent / slower latency | concurrent / sequential |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    async with aiohttp.ClientSession() as session:
        for p1_latency_s, indevolt_latency_s in LATENCY_PAIRS_S:
            r = await measure_pair(session, p1_latency_s, indevolt_latency_s, cycles)
            vs_slower = "n/a" if r["vs_slower"] != r["vs_slower"] else f"{r['vs_slower']:.2f}"
            print(
                f"| {p1_latency_s * 1000:.0f} ms | {indevolt_latency_s * 1000:.0f} ms "
                f"| {r['median_s'] * 1000:.1f} / {r['p95_s'] * 1000:.1f} "
                f"| {r['seq_median_s'] * 1000:.1f} / {r['seq_p95_s'] * 1000:.1f} "
                f"| {vs_slower} | {r['vs_sequential']:.2f} |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30, help="cycles per latency pair")
    asyncio.run(main(parser.parse_args().cycles))
