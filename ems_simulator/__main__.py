"""Command line: `python -m ems_simulator --p1-port 8001 --indevolt-port 8002 [faults...]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import datetime

from .faults import Faults
from .indevolt_device import DeviceSettings
from .server import Simulator, serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ems_simulator",
        description="Simulate a HomeWizard P1 meter and an Indevolt PowerFlex2000 on the LAN API. "
        "Faults can be changed at run time with POST /sim/faults on either port.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--p1-port", type=int, default=8001, help="P1 meter port (default 8001)")
    parser.add_argument(
        "--indevolt-port", type=int, default=8002, help="Indevolt port (default 8002)"
    )
    parser.add_argument(
        "--start", type=datetime.fromisoformat, help="simulated wall time at start (ISO 8601)"
    )
    parser.add_argument("--soc", type=float, default=50.0, help="initial SOC %% (default 50)")
    parser.add_argument("--config-sn", default="", help="`sn` of Sys.GetConfig (default empty)")
    parser.add_argument("--ct-reversed", action="store_true", help="CT clamp mounted reversed")
    parser.add_argument(
        "--battery-discharge-positive",
        action="store_true",
        help="report register 6000 with + = discharging (default + = charging)",
    )
    for device in ("p1", "indevolt"):
        group = parser.add_argument_group(f"{device} faults")
        group.add_argument(f"--{device}-off", action="store_true", help="close every connection")
        group.add_argument(f"--{device}-latency", type=float, default=0.0, metavar="S")
        group.add_argument(f"--{device}-timeout", action="store_true", help="never answer")
        group.add_argument(f"--{device}-http-status", type=int, metavar="CODE")
        group.add_argument(f"--{device}-malformed-json", action="store_true")
        group.add_argument(f"--{device}-drop-connection", action="store_true")
        group.add_argument(
            f"--{device}-nested-json", action="store_true", help="reply 10^5 nested arrays"
        )
        group.add_argument(
            f"--{device}-endless-body", action="store_true", help="reply a body that never ends"
        )
        group.add_argument(
            f"--{device}-huge-body",
            type=int,
            default=0,
            metavar="BYTES",
            help="reply BYTES of JSON",
        )
    parser.add_argument("--p1-api-disabled", action="store_true", help="P1 answers 403/202")
    parser.add_argument("--indevolt-password", help="require HTTP Digest auth (user opend)")
    parser.add_argument("--indevolt-get-only", action="store_true", help="POST answered 405")
    parser.add_argument("--indevolt-string-numbers", action="store_true")
    parser.add_argument("--indevolt-reject-commands", action="store_true")
    hardware = parser.add_argument_group("indevolt device")
    hardware.add_argument("--generation", type=int, default=2, choices=(1, 2))
    hardware.add_argument("--units", type=int, default=1, choices=(1, 2, 3), help="cluster size")
    hardware.add_argument("--packs", type=int, default=1, help="extension packs (0-5)")
    hardware.add_argument("--no-meter", action="store_true", help="no meter (CT) connected")
    hardware.add_argument(
        "--mode-report-lag", type=int, default=0, metavar="S", help="7101 lags a write by S s"
    )
    parser.add_argument(
        "--indevolt-missing",
        type=int,
        nargs="*",
        default=[],
        metavar="REG",
        help="absent registers",
    )
    return parser


def _faults(args: argparse.Namespace, device: str) -> Faults:
    options = vars(args)
    return Faults(
        off=options[f"{device}_off"],
        latency_s=options[f"{device}_latency"],
        timeout=options[f"{device}_timeout"],
        http_status=options[f"{device}_http_status"],
        malformed_json=options[f"{device}_malformed_json"],
        drop_connection=options[f"{device}_drop_connection"],
        nested_json=options[f"{device}_nested_json"],
        endless_body=options[f"{device}_endless_body"],
        huge_body_bytes=options[f"{device}_huge_body"],
    )


async def _run(args: argparse.Namespace) -> None:
    p1_faults = _faults(args, "p1")
    p1_faults.api_disabled = args.p1_api_disabled
    indevolt_faults = _faults(args, "indevolt")
    indevolt_faults.update(
        {
            "password": args.indevolt_password,
            "get_only": args.indevolt_get_only,
            "string_numbers": args.indevolt_string_numbers,
            "reject_commands": args.indevolt_reject_commands,
            "missing_registers": args.indevolt_missing,
        }
    )
    simulator = Simulator(
        start=args.start,
        initial_soc_percent=args.soc,
        config_sn=args.config_sn,
        p1_faults=p1_faults,
        indevolt_faults=indevolt_faults,
        ct_reversed=args.ct_reversed,
        battery_charge_positive=not args.battery_discharge_positive,
        device=DeviceSettings(
            generation=args.generation,
            units=args.units,
            extension_packs=args.packs,
            meter_connected=not args.no_meter,
        ),
    )
    simulator.model.mode_report_lag_s = args.mode_report_lag
    async with serve(simulator, args.host, args.p1_port, args.indevolt_port) as running:
        print(f"P1 meter: {running.p1_url}  Indevolt: {running.indevolt_url}  (Ctrl+C to stop)")
        await asyncio.Event().wait()


def main() -> None:
    """Parse the command line and serve until interrupted."""
    args = _parser().parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
