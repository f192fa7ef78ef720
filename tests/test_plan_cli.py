"""Tests of the planner's command line: output contract, slot lengths, and every input error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
import json
import math
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from custom_components.ems.planner_cli import main

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "custom_components" / "ems" / "planner_cli.py"
START = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)


def _write_prices(path: Path, prices: list[float], *, minutes: int = 15) -> list[str]:
    starts = [(START + timedelta(minutes=minutes * i)).isoformat() for i in range(len(prices))]
    rows = [f"{start},{price}" for start, price in zip(starts, prices, strict=True)]
    path.write_text("start,price_eur_per_kwh\n" + "\n".join(rows) + "\n")
    return starts


def _files(tmp_path: Path, options: dict[str, object] | None = None) -> dict[str, Path]:
    prices = tmp_path / "prices.csv"
    _write_prices(prices, [0.10] * 8 + [0.30] * 8)
    options_path = tmp_path / "options.json"
    options_path.write_text(json.dumps(options or {"initial_soc_percent": 20}))
    return {"prices": prices, "options": options_path}


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_physics(
    result: dict[str, object], options: dict[str, float], hours: list[float]
) -> None:
    eta = options.get("battery_round_trip_efficiency", 0.8)
    capacity = options.get("battery_rated_capacity_kwh", 12.0)
    soc = options["initial_soc_percent"]
    slots = result["slots"]
    assert isinstance(slots, list)
    for slot, h in zip(slots, hours, strict=True):
        assert slot["charge_w"] == 0 or slot["discharge_w"] == 0
        soc = soc + 100 * h * (
            math.sqrt(eta) * slot["charge_w"] - slot["discharge_w"] / math.sqrt(eta)
        ) / (1000 * capacity)
        assert slot["soc_percent_end"] == pytest.approx(soc, abs=1e-9)


def test_plan_prints_one_json_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _files(tmp_path)
    code, out, err = _run(capsys, "--prices", files["prices"], "--options", files["options"])
    assert code == 0
    assert err == ""
    assert out.count("\n") == 1
    result = json.loads(out)
    assert set(result) == {"slots", "cost_eur", "solve_ms"}
    assert len(result["slots"]) == 16
    assert set(result["slots"][0]) == {"start", "charge_w", "discharge_w", "soc_percent_end"}
    assert result["slots"][0]["start"] == "2026-03-29T00:00:00+00:00"
    assert result["slots"][0]["charge_w"] > 0
    assert result["slots"][-1]["discharge_w"] > 0
    assert result["solve_ms"] > 0
    _check_physics(result, {"initial_soc_percent": 20}, [0.25] * 16)
    # No load: every kWh charged is bought, every kWh discharged sold at the same price.
    cost = sum(
        0.25 * price * (slot["charge_w"] - slot["discharge_w"]) / 1000
        for slot, price in zip(result["slots"], [0.10] * 8 + [0.30] * 8, strict=True)
    )
    assert result["cost_eur"] == pytest.approx(cost, abs=1e-12)


def test_plan_matches_load_pv_and_export_by_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "prices.csv"
    starts = _write_prices(prices, [0.25, 0.25, 0.25, 0.25], minutes=60)
    # The same instants written with another offset (and "Z") still match.
    summer = timezone(timedelta(hours=2))
    other = [(START + timedelta(hours=i)).astimezone(summer).isoformat() for i in range(4)]
    (tmp_path / "load.csv").write_text(
        "start,w\n" + f"{other[1]},800\n{other[2]},800\n{other[3]},800\n2030-01-01T00:00:00Z,9\n"
    )
    (tmp_path / "pv.csv").write_text("start,w\n" + f"{starts[0].replace('+00:00', 'Z')},2400\n")
    (tmp_path / "export.csv").write_text(
        "start,price_eur_per_kwh\n" + f"{starts[0]},0.02\n{starts[1]},0.02\n"
    )
    options = {"initial_soc_percent": 10, "end_soc_percent_min": 10}
    (tmp_path / "options.json").write_text(json.dumps(options))
    code, out, err = _run(
        capsys,
        "--prices",
        prices,
        "--export-prices",
        tmp_path / "export.csv",
        "--load",
        tmp_path / "load.csv",
        "--pv",
        tmp_path / "pv.csv",
        "--options",
        tmp_path / "options.json",
    )
    assert (code, err) == (0, "")
    result = json.loads(out)
    # Hourly slots; PV surplus is worth 0.02 exported and 0.25 later: it is stored.
    assert result["slots"][0]["charge_w"] > 2000
    assert result["slots"][1]["discharge_w"] > 0
    _check_physics(result, options, [1.0] * 4)


def test_one_row_is_a_quarter_hour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "prices.csv"
    _write_prices(prices, [-0.2])
    (tmp_path / "options.json").write_text(
        json.dumps({"initial_soc_percent": 50, "end_soc_percent_min": 10})
    )
    code, out, _ = _run(capsys, "--prices", prices, "--options", tmp_path / "options.json")
    assert code == 0
    result = json.loads(out)
    _check_physics(result, {"initial_soc_percent": 50}, [0.25])
    assert result["slots"][0]["charge_w"] > 2300  # paid to charge


def test_violation_is_a_warning_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _files(tmp_path, {"initial_soc_percent": 3})
    code, out, err = _run(capsys, "--prices", files["prices"], "--options", files["options"])
    assert code == 0
    assert json.loads(out)["slots"]
    assert err.count("\n") == 1
    assert err.startswith("warning: the plan could not meet: start_outside_soc_window")


def test_missing_initial_soc_defaults_to_the_minimum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path, {"battery_min_soc_percent": 20})
    code, out, _ = _run(capsys, "--prices", files["prices"], "--options", files["options"])
    assert code == 0
    _check_physics(json.loads(out), {"initial_soc_percent": 20}, [0.25] * 16)


PRICES_OK = "start,price_eur_per_kwh\n2026-01-01T00:00:00+01:00,0.1\n"


@pytest.mark.parametrize(
    ("prices", "options", "message"),
    [
        (None, "{}", "prices.csv: file not found"),
        ("", "{}", "the header must be 'start,price_eur_per_kwh'"),
        ("start,price\n2026-01-01T00:00:00Z,0.1\n", "{}", "the header must be"),
        ("start,price_eur_per_kwh\n", "{}", "no price rows"),
        ("start,price_eur_per_kwh\nyesterday,0.1\n", "{}", "row 2: start 'yesterday' is not"),
        ("start,price_eur_per_kwh\n2026-01-01T00:00:00,0.1\n", "{}", "has no UTC offset"),
        ("start,price_eur_per_kwh\n2026-01-01T00:00:00Z,cheap\n", "{}", "'cheap' is not a number"),
        ("start,price_eur_per_kwh\n2026-01-01T00:00:00Z,nan\n", "{}", "not a finite number"),
        ("start,price_eur_per_kwh\n2026-01-01T00:00:00Z,0.1,3\n", "{}", "expected 2 fields"),
        (
            "start,price_eur_per_kwh\n2026-01-01T01:00:00Z,0.1\n2026-01-01T00:00:00Z,0.1\n",
            "{}",
            "row 3: starts must increase",
        ),
        (PRICES_OK, "{not json", "not valid JSON"),
        (PRICES_OK, "[1, 2]", "options must be a JSON object"),
        (PRICES_OK, '{"battery_round_trip_efficiency": 2}', "battery_round_trip_efficiency must"),
        (PRICES_OK, '{"initial_soc_percent": "full"}', "initial_soc_percent must be a number"),
        (PRICES_OK, '{"initial_soc_percent": 101}', "initial_soc_percent must be between"),
        (PRICES_OK, None, "options.json: file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    prices: str | None,
    options: str | None,
    message: str,
) -> None:
    if prices is not None:
        (tmp_path / "prices.csv").write_text(prices)
    if options is not None:
        (tmp_path / "options.json").write_text(options)
    code, out, err = _run(
        capsys, "--prices", tmp_path / "prices.csv", "--options", tmp_path / "options.json"
    )
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("plan: error: ")
    assert message in err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("load.csv", "start,kw\n", "the header must be 'start,w'"),
        (
            "load.csv",
            "start,w\n2026-03-29T00:00:00Z,1\n2026-03-29T00:00:00+00:00,2\n",
            "appears twice",
        ),
        ("load.csv", b"start,w\n\xff\xfe\n", "cannot read"),
    ],
)
def test_bad_series_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str | bytes,
    message: str,
) -> None:
    files = _files(tmp_path)
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    code, out, err = _run(
        capsys, "--prices", files["prices"], "--load", path, "--options", files["options"]
    )
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err


def test_unreadable_files_and_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(tmp_path)
    for argv in (
        ["--prices", tmp_path, "--options", files["options"]],  # a directory
        ["--prices", files["prices"], "--options", tmp_path],
        ["--options", files["options"]],  # --prices missing
        ["--prices", files["prices"], "--options", files["options"], "--bogus"],
    ):
        code, out, err = _run(capsys, *argv)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1, err
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe{")
    code, _, err = _run(capsys, "--prices", files["prices"], "--options", tmp_path / "bad.json")
    assert code == 2
    assert "cannot read" in err


def test_module_runs_as_a_script_without_the_integration(tmp_path: Path) -> None:
    """The way scripts/plan runs it: a file path, with no Home Assistant package import."""
    files = _files(tmp_path)
    completed = subprocess.run(  # noqa: S603 - our own script and interpreter
        [
            sys.executable,
            str(CLI),
            "--prices",
            str(files["prices"]),
            "--options",
            str(files["options"]),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert len(json.loads(completed.stdout)["slots"]) == 16
    bad = subprocess.run(  # noqa: S603 - our own script and interpreter
        [sys.executable, str(CLI), "--prices", str(tmp_path / "nope.csv"), "--options", "x"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.count("\n") == 1


@pytest.mark.skipif(shutil.which("python3.14") is None, reason="needs python3.14 on PATH")
def test_wrapper_script(tmp_path: Path) -> None:
    files = _files(tmp_path)
    completed = subprocess.run(  # noqa: S603 - our own script and interpreter
        [
            str(REPO / "scripts" / "plan"),
            "--prices",
            str(files["prices"]),
            "--options",
            str(files["options"]),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["cost_eur"] < 0
