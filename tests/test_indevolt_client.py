"""The Indevolt client against the simulator over real HTTP, and against the shared fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web
import pytest

from custom_components.ems.devices.errors import (
    AuthenticationError,
    CommandRejectedError,
    DeviceConnectionError,
    DeviceError,
    DeviceHttpStatusError,
    DeviceTimeoutError,
    MalformedReplyError,
)
from custom_components.ems.devices.indevolt import (
    DESIGN_REGISTERS,
    POLL_REGISTERS,
    BatterySnapshot,
    BatteryState,
    IndevoltClient,
    RealtimeAction,
    WorkingMode,
    normalise_value,
    parse_registers,
)
from custom_components.ems.devices.indevolt_registers import (
    BATTERY_PACKS,
)
from ems_simulator import RunningSimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")


def client_for(
    running: RunningSimulator, session: aiohttp.ClientSession, **kwargs: Any
) -> IndevoltClient:
    return IndevoltClient(session, "127.0.0.1", running.indevolt_port, **kwargs)


# -- parsing -------------------------------------------------------------------------------------


def test_registers_constants() -> None:
    assert len(DESIGN_REGISTERS) == 17
    assert set(DESIGN_REGISTERS) < set(POLL_REGISTERS)
    assert {0, 142, 6105, 7120, 2618} <= set(POLL_REGISTERS)


def test_fixture_gen2_mapping(load_fixture_json: Callable[[str], Any]) -> None:
    registers, rejected = parse_registers(load_fixture_json("indevolt_ha_core_gen_2_getdata.json"))
    # Core's made-up 2600 = 1200 is no grid voltage (the vendor documents 2600 in V).
    assert rejected == {2600: "1200 is outside 0..300"}
    snapshot = BatterySnapshot(registers)
    assert [pack.number for pack in snapshot.packs_present] == [0, 1, 2, 3, 4, 5]
    assert snapshot.realtime_readback is None  # 6107-6109 are not in this reply
    assert snapshot.value(606) == 1001  # sent as the string "1001"
    assert snapshot.serial == "SolidFlex2000-87654321"
    assert snapshot.value(9008) == "MASTER-12345678"
    assert snapshot.working_mode is WorkingMode.SELF_CONSUMED
    assert snapshot.working_mode_code == 1
    assert snapshot.battery_state is BatteryState.STATIC
    assert snapshot.battery_state_code == 1000
    assert snapshot.soc_percent == 92
    assert snapshot.rated_capacity_kwh == 1.79
    assert snapshot.backup_soc_percent == 5
    assert snapshot.total_charge_kwh == 380.58
    assert snapshot.total_discharge_kwh == 338.07
    assert snapshot.daily_charge_kwh == 0.07
    assert snapshot.daily_discharge_kwh == 0
    assert snapshot.ac_input_energy_kwh == 289.97
    assert snapshot.meter_power_w == 0
    assert snapshot.cumulative_production_kwh is None  # 1505 is not in this reply


def test_every_typed_attribute_maps_its_register() -> None:
    registers = {
        7101: 4, 1664: 101, 1665: 102, 1501: 103, 2108: 104, 1502: 1.5, 1505: 123456,
        2101: 105, 2107: 2.5, 6000: -106, 6001: 1002, 6002: 55, 6004: 1.1, 6005: 1.2,
        6006: 10.1, 6007: 10.2, 11016: -107, 0: "SN1", 142: 12.0, 6105: 7,
    }  # fmt: skip
    snapshot = BatterySnapshot(registers)
    assert snapshot.working_mode is WorkingMode.REALTIME
    assert snapshot.pv1_power_w == 101
    assert snapshot.pv2_power_w == 102
    assert snapshot.dc_output_power_w == 103
    assert snapshot.ac_output_power_w == 104
    assert snapshot.daily_production_kwh == 1.5
    assert snapshot.cumulative_production_kwh == pytest.approx(123.456)
    assert snapshot.ac_input_power_w == 105
    assert snapshot.ac_input_energy_kwh == 2.5
    assert snapshot.battery_power_w == -106
    assert snapshot.battery_state is BatteryState.DISCHARGING
    assert snapshot.soc_percent == 55
    assert snapshot.daily_charge_kwh == 1.1
    assert snapshot.daily_discharge_kwh == 1.2
    assert snapshot.total_charge_kwh == 10.1
    assert snapshot.total_discharge_kwh == 10.2
    assert snapshot.meter_power_w == -107
    assert snapshot.serial == "SN1"
    assert snapshot.rated_capacity_kwh == 12.0
    assert snapshot.backup_soc_percent == 7


def test_absent_unknown_and_non_numbers_are_none() -> None:
    snapshot = BatterySnapshot({7101: 9, 6001: 1.5, 6002: "n/a", 0: 12345678})
    assert snapshot.working_mode_code == 9
    assert snapshot.working_mode is None  # unknown code
    assert snapshot.battery_state_code is None  # not a whole number
    assert snapshot.battery_state is None
    assert snapshot.soc_percent is None  # text
    assert snapshot.serial == "12345678"
    empty = BatterySnapshot({})
    assert empty.working_mode is None
    assert empty.battery_state is None
    assert empty.serial is None
    assert empty.value(6002) is None
    assert empty.cumulative_production_kwh is None


@pytest.mark.parametrize(
    ("register", "raw", "expected"),
    [
        (6002, "92", 92),
        (6002, " -5 ", -5),
        (6004, "0.07", 0.07),
        (6004, "1e3", 1000.0),
        (6004, 1.5, 1.5),
        (6002, 7, 7),
        (6002, "nan", "nan"),
        (6002, "1_000", "1_000"),
        (0, "12345678", "12345678"),
        (9008, "0042", "0042"),
        (6002, None, None),
        (6002, True, None),
        (6002, [1], None),
    ],
)
def test_normalise_value(register: int, raw: object, expected: object) -> None:
    assert normalise_value(register, raw) == expected


def test_parse_registers_skips_non_register_keys() -> None:
    assert parse_registers({"6002": "92", "error": 1, "6001": None}) == ({6002: 92}, {})


# -- reads over HTTP -----------------------------------------------------------------------------


async def test_get_data_wire_format_and_values(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    client = client_for(running_simulator, device_session)
    snapshot = await client.get_data()
    assert snapshot.serial == "PowerFlex2000-12345678"
    assert snapshot.working_mode is WorkingMode.SELF_CONSUMED
    assert snapshot.soc_percent == 50
    assert snapshot.rated_capacity_kwh == 12.0
    assert 1666 not in snapshot.registers  # two-input model: absent, not an error
    # Absent: PV inputs 3 and 4, and all but the serial of the packs that are not there.
    absent_packs = {register for pack in BATTERY_PACKS[2:] for register in pack.registers[1:]}
    assert set(POLL_REGISTERS) - set(snapshot.registers) == {1666, 1667} | absent_packs
    assert [pack.number for pack in snapshot.packs_present] == [0, 1]
    first, second = sim.requests
    assert first.method == "POST"
    assert first.path == "/rpc/Indevolt.GetData"
    assert first.config == {"t": list(POLL_REGISTERS[:50])}
    assert second.config == {"t": list(POLL_REGISTERS[50:])}
    # Compact JSON, URL-encoded on the wire.
    assert unquote(first.raw_query) == "config=" + json.dumps(
        {"t": list(POLL_REGISTERS[:50])}, separators=(",", ":")
    )
    assert not {"{", '"', " ", "["} & set(first.raw_query)


async def test_get_data_batches_and_merges(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    client = client_for(running_simulator, device_session)
    keys = [*POLL_REGISTERS, *range(20000, 20090), 6002]  # 88 + 90 = 178 distinct keys
    snapshot = await client.get_data(keys)
    configs = [record.config["t"] for record in running_simulator.simulator.requests]
    assert [len(batch) for batch in configs] == [50, 50, 50, 34]
    assert [key for batch in configs for key in batch] == list(dict.fromkeys(keys))
    assert snapshot.soc_percent == 50
    assert snapshot.meter_power_w is not None


async def test_get_data_without_keys_sends_nothing(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    snapshot = await client_for(running_simulator, device_session).get_data([])
    assert snapshot.registers == {}
    assert running_simulator.simulator.requests == []


async def test_string_numbers_and_missing_registers(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    faults = running_simulator.simulator.indevolt_faults
    faults.string_numbers = True
    faults.missing_registers = {6002, 11016}
    snapshot = await client_for(running_simulator, device_session).get_data()
    assert snapshot.working_mode is WorkingMode.SELF_CONSUMED
    assert snapshot.value(7101) == 1
    assert snapshot.serial == "PowerFlex2000-12345678"
    assert snapshot.rated_capacity_kwh == 12.0
    assert snapshot.soc_percent is None
    assert snapshot.meter_power_w is None


async def test_get_method_selectable(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    client = client_for(running_simulator, device_session, method="get")
    await client.get_data([6002])
    await client.stop()
    assert [r.method for r in running_simulator.simulator.requests] == ["GET", "GET"]
    client.method = "post"
    await client.get_data([6002])
    assert running_simulator.simulator.requests[-1].method == "POST"
    with pytest.raises(ValueError, match="method"):
        client.method = "put"


async def test_connection_close_and_session_left_open(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    seen: list[str | None] = []

    async def trace(session: Any, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.append(params.headers.get("Connection"))

    config = aiohttp.TraceConfig()
    config.on_request_start.append(trace)
    async with aiohttp.ClientSession(trace_configs=[config]) as session:
        client = client_for(running_simulator, session)
        await client.get_data([6002])
        await client.get_config()
        assert not session.closed
    assert seen == ["close"] * 3  # GetData, GetConfig, GetData of register 0


# -- get_config ----------------------------------------------------------------------------------


async def test_get_config_serial_from_register_0(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    info = await client_for(running_simulator, device_session).get_config()
    assert info.model == "CMS-SF2000"
    assert info.serial == "PowerFlex2000-12345678"
    assert info.mac == "7C3E82EF997F"
    assert info.firmware == "T1.4.06_ROOD. 072_M4801_0000002C"
    records = running_simulator.simulator.requests
    assert [(r.method, r.path) for r in records] == [
        ("GET", "/rpc/Sys.GetConfig"),
        ("POST", "/rpc/Indevolt.GetData"),
    ]
    assert records[1].config == {"t": [0]}


async def test_get_config_serial_from_sn(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.config_sn = " SF2000-0001 "
    info = await client_for(running_simulator, device_session).get_config()
    assert info.serial == "SF2000-0001"
    assert len(running_simulator.simulator.requests) == 1


async def test_get_config_numeric_serial_stays_text(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.model.registers = lambda serial: {0: "00012345"}  # type: ignore[method-assign]
    info = await client_for(running_simulator, device_session).get_config()
    assert info.serial == "00012345"


async def test_get_config_serial_falls_back_to_the_mac(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.indevolt_faults.missing_registers = {0}
    info = await client_for(running_simulator, device_session).get_config()
    assert info.serial == "7C3E82EF997F"


async def test_get_config_without_any_serial(fake_device: Callable[..., Any]) -> None:
    client = await fake_device(
        web.json_response({"device": {"type": "CMS-SF2000", "sn": ""}}), web.json_response({})
    )
    with pytest.raises(MalformedReplyError, match="serial"):
        await client.get_config()


async def test_get_config_on_firmware_without_it(fake_device: Callable[..., Any]) -> None:
    client = await fake_device(web.Response(status=404), web.json_response({"0": "SN-404"}))
    info = await client.get_config()
    assert (info.model, info.serial, info.mac, info.firmware) == (None, "SN-404", None, None)


async def test_get_config_propagates_other_statuses(fake_device: Callable[..., Any]) -> None:
    client = await fake_device(web.Response(status=500))
    with pytest.raises(DeviceHttpStatusError):
        await client.get_config()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"device": {"type": "", "sn": "X1", "mac": 5}}, (None, "X1", None, None)),
        ({"device": {"type": "T", "sn": "X2", "mac": "M", "fw": "F"}}, ("T", "X2", "M", "F")),
    ],
)
async def test_get_config_optional_fields(
    fake_device: Callable[..., Any], reply: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    client = await fake_device(web.json_response(reply))
    info = await client.get_config()
    assert (info.model, info.serial, info.mac, info.firmware) == expected


async def test_get_config_without_device_object(fake_device: Callable[..., Any]) -> None:
    client = await fake_device(web.json_response({"sn": "X"}))
    with pytest.raises(MalformedReplyError, match="device"):
        await client.get_config()


# -- writes --------------------------------------------------------------------------------------


async def test_commands_wire_format_and_effect(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    client = client_for(running_simulator, device_session)
    await client.set_working_mode(WorkingMode.REALTIME)
    await client.charge(1200, 90)
    await client.discharge(800, 20)
    await client.realtime(RealtimeAction.CHARGE, 500, 60)
    await client.stop()
    assert [r.config for r in sim.requests] == [
        {"f": 16, "t": 47005, "v": [4]},
        {"f": 16, "t": 47015, "v": [1, 1200, 90]},
        {"f": 16, "t": 47015, "v": [2, 800, 20]},
        {"f": 16, "t": 47015, "v": [1, 500, 60]},
        {"f": 16, "t": 47015, "v": [0, 0, 0]},
    ]
    assert all(r.method == "POST" and r.path == "/rpc/Indevolt.SetData" for r in sim.requests)
    assert sim.model.mode == 4


async def test_command_rejected(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    client = client_for(running_simulator, device_session)
    with pytest.raises(CommandRejectedError):
        await client.charge(3000, 90)  # beyond the device's 2400 W
    with pytest.raises(CommandRejectedError):
        await client.set_working_mode(WorkingMode.OUTDOOR_PORTABLE)
    running_simulator.simulator.indevolt_faults.reject_commands = True
    with pytest.raises(CommandRejectedError):
        await client.stop()


@pytest.mark.parametrize("reply", [{"result": "ok"}, {}, {"result": 1}])
async def test_set_data_without_boolean_result(
    fake_device: Callable[..., Any], reply: dict[str, Any]
) -> None:
    client = await fake_device(web.json_response(reply))
    with pytest.raises(MalformedReplyError):
        await client.stop()


# -- probe ---------------------------------------------------------------------------------------


async def test_probe_post(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    client = client_for(running_simulator, device_session, method="get")
    assert await client.probe_method() == "post"
    assert client.method == "post"
    assert [r.method for r in running_simulator.simulator.requests] == ["POST"]


async def test_probe_falls_back_to_get(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.indevolt_faults.get_only = True
    client = client_for(running_simulator, device_session)
    assert await client.probe_method() == "get"
    assert client.method == "get"
    records = running_simulator.simulator.requests
    assert [(r.method, r.status) for r in records] == [("POST", 405), ("GET", 200)]
    assert (await client.get_data([6002])).soc_percent == 50


@pytest.mark.parametrize("status", [400, 404, 501])
async def test_probe_falls_back_when_post_is_refused(
    fake_device: Callable[..., Any], status: int
) -> None:
    replies = [web.Response(status=status), web.json_response({"7101": 1})]
    client = await fake_device(*replies)
    assert await client.probe_method() == "get"


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"http_status": 500}, DeviceHttpStatusError),
        ({"password": "secret"}, AuthenticationError),
        ({"off": True}, DeviceConnectionError),
    ],
)
async def test_probe_propagates_other_errors(
    running_simulator: RunningSimulator,
    device_session: aiohttp.ClientSession,
    faults: dict[str, Any],
    error: type[Exception],
) -> None:
    running_simulator.simulator.indevolt_faults.update(faults)
    with pytest.raises(error):
        await client_for(running_simulator, device_session).probe_method()


async def test_probe_get_error_propagates(fake_device: Callable[..., Any]) -> None:
    client = await fake_device(web.Response(status=405), web.Response(status=500))
    with pytest.raises(DeviceHttpStatusError) as caught:
        await client.probe_method()
    assert caught.value.status == 500


# -- authentication ------------------------------------------------------------------------------


async def test_digest_auth(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    sim.indevolt_faults.password = "s3cret"
    client = client_for(running_simulator, device_session, password="s3cret")
    assert (await client.get_data([6002])).soc_percent == 50
    await client.set_working_mode(WorkingMode.REALTIME)
    assert (await client.get_config()).serial == "PowerFlex2000-12345678"
    statuses = [r.status for r in sim.requests]
    assert statuses[:2] == [401, 200]  # challenged once, then preemptive
    assert statuses[2:] == [200] * (len(statuses) - 2)


@pytest.mark.parametrize("password", [None, "wrong"])
async def test_digest_auth_failure(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession, password: str | None
) -> None:
    running_simulator.simulator.indevolt_faults.password = "s3cret"
    client = client_for(running_simulator, device_session, password=password)
    with pytest.raises(AuthenticationError) as caught:
        await client.get_data([6002])
    assert caught.value.status == 401
    assert isinstance(caught.value, DeviceHttpStatusError)


# -- transport and reply errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"off": True}, DeviceConnectionError),
        ({"drop_connection": True}, DeviceConnectionError),
        ({"timeout": True}, DeviceTimeoutError),
        ({"latency_s": 1.0}, DeviceTimeoutError),
        ({"http_status": 500}, DeviceHttpStatusError),
        ({"http_status": 400}, DeviceHttpStatusError),
        ({"malformed_json": True}, MalformedReplyError),
    ],
)
async def test_error_paths(
    running_simulator: RunningSimulator,
    device_session: aiohttp.ClientSession,
    faults: dict[str, Any],
    error: type[Exception],
) -> None:
    running_simulator.simulator.indevolt_faults.update(faults)
    client = client_for(running_simulator, device_session, timeout_s=0.3)
    for call in (client.get_data, client.stop, client.get_config):
        with pytest.raises(error) as caught:
            await call()
        assert isinstance(caught.value, DeviceError)
        if isinstance(caught.value, DeviceHttpStatusError):
            assert caught.value.status == faults["http_status"]


async def test_timeout_is_not_a_connection_error() -> None:
    assert not issubclass(DeviceTimeoutError, DeviceConnectionError)
    assert not issubclass(CommandRejectedError, DeviceConnectionError)


async def test_latency_within_timeout_succeeds(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.indevolt_faults.latency_s = 0.05
    client = client_for(running_simulator, device_session, timeout_s=2.0)
    assert (await client.get_data([6002])).soc_percent == 50
    client.timeout_s = 0.01
    with pytest.raises(DeviceTimeoutError):
        await client.get_data([6002])


async def test_nothing_listening_is_a_connection_error(
    device_session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    client = IndevoltClient(device_session, "127.0.0.1", unused_tcp_port)
    with pytest.raises(DeviceConnectionError):
        await client.get_data([6002])


@pytest.mark.parametrize("body", [b"[1, 2]", b"\xff\xfe", b"", b"null"])
async def test_malformed_bodies(fake_device: Callable[..., Any], body: bytes) -> None:
    client = await fake_device(web.Response(body=body))
    with pytest.raises(MalformedReplyError):
        await client.get_data([6002])


# -- a scripted device for shapes the simulator never sends ---------------------------------------


@pytest.fixture
async def fake_device(socket_enabled: None, device_session: aiohttp.ClientSession) -> Any:
    """Start a device that answers with the given responses in turn; returns a client for it."""
    runners: list[web.AppRunner] = []

    async def start(*responses: web.Response) -> IndevoltClient:
        queue = list(responses)

        async def handler(request: web.Request) -> web.Response:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return IndevoltClient(device_session, "127.0.0.1", runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()
    await asyncio.sleep(0)
