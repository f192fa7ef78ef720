"""What a hostile device reply costs the event loop and memory: figures, not assertions.

Run: ``python benchmarks/hostile_replies.py [--reads N] [--timeout S]`` (with Home Assistant's
Python, e.g. ``/opt/py314-ha/bin/py314-exec "$PWD" python benchmarks/hostile_replies.py``).
Prints a markdown table.

The simulator runs in a child process (`python -m ems_simulator`), so the figures are the
client's alone. For each reply (a normal one, then the simulator's hostile ones) it reads the P1
meter `--reads` times with the real `P1Client` over 127.0.0.1 and reports:
- the outcome (the value read, or the error's class and text);
- the longest the event loop was blocked: a watchdog task sleeps 1 ms at a time and records its
  largest lateness (a blocked loop is a late watchdog), measured without tracemalloc;
- the peak of memory traced by tracemalloc during a second round of reads, and this process's
  peak resident set size (ru_maxrss) so far.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
import contextlib
import logging
from pathlib import Path
import resource
import socket
import sys
import time
import tracemalloc
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.ems.devices.errors import DeviceError
from custom_components.ems.devices.p1 import P1Client

REPO = Path(__file__).resolve().parents[1]

CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("normal reply", {}),
    ("10^5 nested arrays (200 kB)", {"nested_json": True}),
    ("endless chunked body", {"endless_body": True}),
    ("20 MB JSON body", {"huge_body_bytes": 20_000_000}),
    ("NaN / 1e400 / text values", {"raw_values": {"active_power_w": "1e400", "a": "NaN"}}),
)
WATCHDOG_S = 0.001


async def watchdog(worst: list[float]) -> None:
    """Sleep `WATCHDOG_S` forever; keep the largest lateness in `worst[0]`."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(WATCHDOG_S)
        worst[0] = max(worst[0], time.perf_counter() - started - WATCHDOG_S)


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def simulator_process(session: aiohttp.ClientSession) -> AsyncIterator[int]:
    """Run the simulator in a child process; yield the P1 port once it answers."""
    p1_port, indevolt_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ems_simulator",
        "--p1-port",
        str(p1_port),
        "--indevolt-port",
        str(indevolt_port),
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{p1_port}/sim/state"):
                    break
            await asyncio.sleep(0.05)
        yield p1_port
    finally:
        process.terminate()
        await process.wait()


async def read_all(client: P1Client, reads: int) -> str:
    """Read `reads` times; the outcome of the last read."""
    outcome = ""
    for _ in range(reads):
        try:
            data = await client.get_data()
        except DeviceError as err:
            outcome = f"{type(err).__name__}: {err}"
        except Exception as err:  # noqa: BLE001 - the figure is what escapes the client
            outcome = f"escaped the client: {type(err).__name__}"
        else:
            outcome = f"active_power_w = {data.active_power_w}"
    return outcome


async def measure(
    session: aiohttp.ClientSession,
    p1_port: int,
    faults: dict[str, Any],
    reads: int,
    timeout_s: float,
) -> tuple[str, float, int]:
    """Outcome, longest loop block (s) and tracemalloc peak (bytes) of `reads` reads."""
    control = f"http://127.0.0.1:{p1_port}/sim/faults"
    async with session.post(control, json={"p1": {"reset": True, **faults}}) as response:
        response.raise_for_status()
    client = P1Client(session, "127.0.0.1", p1_port, timeout_s=timeout_s)
    worst = [0.0]
    guard = asyncio.create_task(watchdog(worst))
    try:
        outcome = await read_all(client, reads)
    finally:
        guard.cancel()
    tracemalloc.start()
    try:
        await read_all(client, reads)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return outcome, worst[0], peak_bytes


async def main(reads: int, timeout_s: float) -> None:
    """Print one table row per case."""
    logging.basicConfig(level=logging.ERROR)  # the clients' rejection warnings are expected
    print(f"{reads} reads per case, client timeout {timeout_s:g} s\n")
    print("| Reply | Outcome | Loop blocked, max (ms) | Traced peak (MiB) | Peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    async with aiohttp.ClientSession() as session, simulator_process(session) as p1_port:
        for name, faults in CASES:
            row = await measure(session, p1_port, faults, reads, timeout_s)
            print_row(name, *row)


def print_row(name: str, outcome: str, blocked_s: float, peak_bytes: int) -> None:
    """One markdown row."""
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"| {name} | {outcome} | {blocked_s * 1000:.1f} | {peak_bytes / 2**20:.1f} "
        f"| {rss_mib:.0f} |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=5, help="reads per case (default 5)")
    parser.add_argument("--timeout", type=float, default=4.0, help="client timeout s (default 4)")
    args = parser.parse_args()
    asyncio.run(main(args.reads, args.timeout))
