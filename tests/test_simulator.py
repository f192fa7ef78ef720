"""The simulator itself: physics invariants over simulated hours, commands, control API, CLI."""

from __future__ import annotations

from datetime import UTC, datetime
import itertools
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from custom_components.ems.devices.indevolt import IndevoltClient, WorkingMode
from custom_components.ems.devices.p1 import P1Client
from ems_simulator import HomeModel, RunningSimulator, Simulator
from ems_simulator.hostile import with_raw_values
from ems_simulator.model import CT_TOLERANCE_RELATIVE, CT_TOLERANCE_W

from .conftest import FakeClock

TOTALS = (1505, 2107, 6006, 6007)
P1_TOTALS = ("total_power_import_kwh", "total_power_export_kwh", "total_gas_m3")


def test_cli_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ems_simulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--p1-port" in result.stdout
    assert "--indevolt-port" in result.stdout
    assert "--p1-nested-json" in result.stdout
    assert "--indevolt-huge-body BYTES" in result.stdout


def run_hours(model: HomeModel, clock: FakeClock, hours: float, step_s: float = 60.0) -> list[Any]:
    """Advance the model in steps, recording (registers, p1) after each step."""
    samples = []
    for _ in range(int(hours * 3600 / step_s)):
        clock.advance(step_s)
        model.advance()
        samples.append((model.registers("SN"), model.p1_data(), model.soc_percent))
    return samples


@pytest.mark.parametrize("mode_commands", [None, (1, 2400, 100), (2, 2400, 5)])
def test_physics_invariants_over_a_day(mode_commands: tuple[int, int, int] | None) -> None:
    clock = FakeClock()
    model = HomeModel(clock, start=datetime(2026, 6, 21, 0, 0, tzinfo=UTC))
    if mode_commands:
        assert model.set_mode(4)
        assert model.set_realtime(*mode_commands)
    samples = run_hours(model, clock, 26, step_s=97)
    for (prev, prev_p1, _), (cur, cur_p1, soc) in itertools.pairwise(samples):
        assert 0.0 <= soc <= 100.0
        for register in TOTALS:
            assert cur[register] >= prev[register]
        for key in P1_TOTALS:
            assert cur_p1[key] >= prev_p1[key]
        assert cur_p1["total_power_import_kwh"] == pytest.approx(
            cur_p1["total_power_import_t1_kwh"] + cur_p1["total_power_import_t2_kwh"], abs=0.002
        )
    socs = [soc for _, _, soc in samples]
    if mode_commands == (1, 2400, 100):
        assert socs[-1] == pytest.approx(100.0)
    if mode_commands == (2, 2400, 5):
        assert socs[-1] == pytest.approx(5.0, abs=0.1)
    assert any(p1["active_power_w"] != 0 for _, p1, _ in samples)


def test_daily_counters_reset_at_midnight() -> None:
    clock = FakeClock()
    model = HomeModel(clock, start=datetime(2026, 6, 21, 12, 0, tzinfo=UTC))
    run_hours(model, clock, 11.9)
    before = model.registers("SN")
    assert before[1502] > 0
    run_hours(model, clock, 0.2)
    after = model.registers("SN")
    assert after[1502] == 0
    assert after[1505] >= before[1505]


def test_ct_agrees_with_p1_at_its_samples_and_refreshes_every_5_s() -> None:
    clock = FakeClock()
    model = HomeModel(clock, start=datetime(2026, 6, 21, 6, 0, tzinfo=UTC))
    values = []
    for _ in range(3 * 3600):
        clock.advance(1)
        model.advance()
        ct = model.registers("SN")[11016]
        values.append(ct)
        if model.tick % 5 == 0:
            p1 = model.p1_data()["active_power_w"]
            assert abs(ct - p1) <= CT_TOLERANCE_RELATIVE * abs(p1) + CT_TOLERANCE_W
        elif len(values) > 1:
            assert ct == values[-2]  # held between 5 s samples while P1 moves every second
    model.ct_reversed = True
    clock.advance(5)
    model.advance()
    assert model.registers("SN")[11016] == pytest.approx(
        -model.p1_data()["active_power_w"] * model.ct_gain, abs=1
    )


def test_realtime_honoured_only_in_mode_4() -> None:
    clock = FakeClock()
    model = HomeModel(clock, start=datetime(2026, 6, 21, 0, 0, tzinfo=UTC))
    assert model.set_mode(5)
    assert model.set_realtime(1, 2000, 90)
    clock.advance(60)
    model.advance()
    assert model.battery_w == 0  # mode 5: idle
    assert model.set_mode(4)
    assert model.command.action == 0  # a mode change resets the command
    assert model.set_realtime(1, 2000, 90)
    clock.advance(60)
    model.advance()
    assert model.battery_w == 2000
    assert model.registers("SN")[6000] == 2000
    assert model.registers("SN")[6001] == 1001
    model.battery_charge_positive = False
    assert model.registers("SN")[6000] == -2000
    assert model.set_realtime(2, 1000, 10)
    clock.advance(60)
    model.advance()
    assert model.battery_w == -1000
    assert model.registers("SN")[6001] == 1002
    assert model.set_mode(1)
    clock.advance(60)
    model.advance()
    assert abs(model.grid_w) < 1  # night, self-consumption covers the house


@pytest.mark.parametrize(
    ("action", "watts", "soc", "accepted"),
    [
        (1, 49, 90, False),
        (1, 2401, 90, False),
        (2, 50, 4, False),
        (2, 2400, 101, False),
        (3, 100, 50, False),
        (1, 50, 5, True),
        (0, 0, 0, True),
        (0, 50, 10, True),
    ],
)
def test_realtime_limits(action: int, watts: int, soc: int, accepted: bool) -> None:
    model = HomeModel(FakeClock())
    assert model.set_realtime(action, watts, soc) is accepted
    assert model.set_mode(0) is False


async def test_control_api_and_request_log(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    base = running_simulator.indevolt_url
    async with device_session.post(
        f"{base}/sim/faults",
        json={"indevolt": {"missing_registers": [6002]}, "p1": {"api_disabled": True}},
    ) as response:
        assert response.status == 200
        assert (await response.json())["indevolt"]["missing_registers"] == [6002]
    assert sim.indevolt_faults.missing_registers == {6002}
    assert sim.p1_faults.api_disabled
    client = IndevoltClient(device_session, "127.0.0.1", running_simulator.indevolt_port)
    assert (await client.get_data([6002, 7101])).soc_percent is None
    async with device_session.get(f"{running_simulator.p1_url}/sim/requests") as response:
        [record] = await response.json()
    assert record["config"] == {"t": [6002, 7101]}
    assert record["method"] == "POST"
    assert record["status"] == 200
    async with device_session.post(
        f"{base}/sim/faults", json={"indevolt": {"reset": True}}
    ) as response:
        assert (await response.json())["indevolt"]["missing_registers"] == []
    assert sim.p1_faults.api_disabled
    async with device_session.post(f"{base}/sim/model", json={"soc_percent": 80}) as response:
        assert (await response.json())["soc_percent"] == pytest.approx(80)
    async with device_session.delete(f"{base}/sim/requests") as response:
        assert await response.json() == []
    assert sim.requests == []
    async with device_session.get(f"{base}/sim/state") as response:
        state = await response.json()
    assert state["mode"] == 1
    assert state["faults"]["p1"]["api_disabled"] is True
    async with device_session.get(f"{base}/sim/faults") as response:
        assert (await response.json())["p1"]["api_disabled"] is True
    for path, body in (
        ("/sim/faults", {"other": {}}),
        ("/sim/faults", {"p1": {"nope": 1}}),
        ("/sim/faults", {"p1": 3}),
        ("/sim/model", {"mode": 4}),
    ):
        async with device_session.post(f"{base}{path}", json=body) as response:
            assert response.status == 400


async def test_unanswered_requests_logged_without_status(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    sim.p1_faults.off = True
    client = P1Client(device_session, "127.0.0.1", running_simulator.p1_port)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the client's error is tested elsewhere
        await client.get_data()
    # aiohttp itself may retry an idempotent GET once after a disconnect.
    assert {(r.device, r.status) for r in sim.requests} == {("p1", None)}


async def test_bad_requests_answered_400(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    base = running_simulator.indevolt_url
    for url in (
        f"{base}/rpc/Indevolt.GetData",
        f"{base}/rpc/Indevolt.GetData?config=notjson",
        f"{base}/rpc/Indevolt.GetData?config=" + '{"t":[' + ",".join(["1"] * 51) + "]}",
        f"{base}/rpc/Indevolt.SetData?config=" + '{"f":15,"t":47005,"v":[1]}',
        f"{base}/rpc/Indevolt.SetData?config=" + '{"f":16,"t":47005,"v":["1"]}',
    ):
        async with device_session.post(url) as response:
            assert response.status == 400, url
    async with device_session.post(f"{base}/sim/faults", data=b"{") as response:
        assert response.status == 400


async def test_other_writes(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    base = f"{running_simulator.indevolt_url}/rpc/Indevolt.SetData?config="
    cases = (
        ('{"f":16,"t":1142,"v":[20]}', True),
        ('{"f":16,"t":1143,"v":[1]}', True),
        ('{"f":16,"t":1143,"v":[2]}', False),
        ('{"f":16,"t":9999,"v":[1]}', False),
    )
    for config, result in cases:
        async with device_session.post(base + config) as response:
            assert (await response.json()) == {"result": result}
    registers = sim.model.registers("SN")
    assert registers[6105] == 20
    assert registers[2618] == 1001


async def test_served_shapes_match_fixtures(
    running_simulator: RunningSimulator,
    device_session: aiohttp.ClientSession,
    load_fixture_json: Any,
) -> None:
    async with device_session.get(f"{running_simulator.p1_url}/api/v1/data") as response:
        data = await response.json()
    fixture = load_fixture_json("hwe_p1_v1_data_3phase_gas_external.json")
    assert set(fixture) <= set(data)
    assert set(data["external"][0]) == set(fixture["external"][0])
    async with device_session.get(f"{running_simulator.p1_url}/api") as response:
        assert set(await response.json()) == set(load_fixture_json("hwe_p1_v1_api_device.json"))
    async with device_session.get(
        f"{running_simulator.indevolt_url}/rpc/Sys.GetConfig"
    ) as response:
        config = await response.json()
    assert set(config["device"]) == set(
        load_fixture_json("indevolt_doc_sys_getconfig_example.json")["device"]
    )


async def test_end_to_end_realtime_over_http(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession, sim_clock: FakeClock
) -> None:
    client = IndevoltClient(device_session, "127.0.0.1", running_simulator.indevolt_port)
    await client.set_working_mode(WorkingMode.REALTIME)
    await client.charge(2400, 60)
    sim_clock.advance(3600)
    snapshot = await client.get_data()
    assert snapshot.soc_percent == 60  # stopped at the target
    assert snapshot.working_mode is WorkingMode.REALTIME


def test_simulator_defaults() -> None:
    sim = Simulator()
    assert sim.model.mode == 1
    assert sim.state()["faults"]["p1"]["off"] is False


async def test_hostile_faults_over_the_control_api(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    """The hostile-reply knobs are set per device over HTTP and shape the raw replies."""
    sim = running_simulator.simulator
    control = f"{running_simulator.p1_url}/sim/faults"
    raw = {"active_power_w": "1e400", "active_tariff": '"abc"'}
    async with device_session.post(
        control, json={"p1": {"raw_values": raw}, "indevolt": {"raw_values": {"6002": "NaN"}}}
    ) as response:
        assert (await response.json())["p1"]["raw_values"] == raw
    async with device_session.get(f"{running_simulator.p1_url}/api/v1/data") as response:
        text = await response.text()
    assert '"active_power_w": 1e400' in text
    assert '"active_tariff": "abc"' in text
    assert text.count('"active_power_w"') == 1  # replaced, not duplicated
    indevolt = f"{running_simulator.indevolt_url}/rpc/Indevolt.GetData?config="
    async with device_session.post(indevolt + '{"t":[6002]}') as response:
        assert await response.text() == '{"6002": NaN}'
    async with device_session.post(indevolt + '{"t":[7101]}') as response:
        assert await response.json() == {"7101": 1}  # only registers that were asked

    for body in ({"p1": {"raw_values": ["NaN"]}}, {"p1": {"raw_values": {"a": 1}}}):
        async with device_session.post(control, json=body) as response:
            assert response.status == 400
    assert sim.p1_faults.raw_values == raw  # all or nothing

    sim.indevolt_faults.reset()
    sim.p1_faults.update({"raw_values": {}, "nested_json": True})
    async with device_session.get(f"{running_simulator.p1_url}/api") as response:
        body = await response.read()
    assert body.startswith(b"[[[[") and len(body) == 200_000
    sim.p1_faults.update({"nested_json": False, "huge_body_bytes": 1_000_000})
    async with device_session.get(f"{running_simulator.p1_url}/api") as response:
        assert response.content_length == 1_000_000
        assert len((await response.json())["padding"]) > 900_000
    sim.p1_faults.update({"huge_body_bytes": 0, "endless_body": True})
    async with device_session.get(f"{running_simulator.p1_url}/api") as response:
        assert response.content_length is None
        received = 0
        async for chunk in response.content.iter_chunked(65_536):
            received += len(chunk)
            if received > 5_000_000:
                break
    assert received > 5_000_000  # and it would go on


def test_raw_values_without_other_keys() -> None:
    assert with_raw_values({}, {"6002": "250"}) == b'{"6002": 250}'
    assert with_raw_values({"a": 1}, {}) == b'{"a": 1}'


def test_the_month_peak_is_the_highest_completed_quarter() -> None:
    """As a meter's maximum demand register: a quarter under way does not count yet."""
    clock = FakeClock()
    model = HomeModel(clock, start=datetime(2026, 1, 14, 20, 0, tzinfo=UTC))
    run_hours(model, clock, 5 / 60, step_s=10.0)
    running_w = model.p1_data()["active_power_average_w"]
    assert running_w > 0
    assert model.p1_data()["montly_power_peak_w"] == 0.0
    run_hours(model, clock, 10 / 60, step_s=10.0)
    assert model.quarter_import_wh == 0.0  # the first quarter is complete, the next begins
    assert model.p1_data()["montly_power_peak_w"] > 0.0
