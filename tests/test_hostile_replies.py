"""Both device clients against hostile and broken replies, over real HTTP on 127.0.0.1.

A reply can hurt a client through the decoder (deep nesting), through memory and the event loop
(endless or huge bodies) or through its values (NaN, 1e400, text, SOC 250 %). The clients must
raise only `DeviceError`s, never read more than `MAX_REPLY_BYTES`, and return only plausible
readings; their error texts never carry the host or port.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
import errno
import json
import logging
import math
import random
import tracemalloc
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
import pytest

from custom_components.ems.devices._http import MAX_REPLY_BYTES, _transport_text
from custom_components.ems.devices.errors import (
    DeviceError,
    MalformedReplyError,
    ReplyTooLargeError,
)
from custom_components.ems.devices.indevolt import IndevoltClient, parse_registers
from custom_components.ems.devices.p1 import P1Client, parse_data, parse_device
from ems_simulator import RunningSimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

DEVICES = ("p1", "indevolt")
TOO_LARGE = "reply too large (over 256 KiB)"
DEVICE_LOGGER = "custom_components.ems.devices"


def client_for(
    running: RunningSimulator, session: aiohttp.ClientSession, device: str, timeout_s: float = 4.0
) -> P1Client | IndevoltClient:
    if device == "p1":
        return P1Client(session, "127.0.0.1", running.p1_port, timeout_s=timeout_s)
    return IndevoltClient(session, "127.0.0.1", running.indevolt_port, timeout_s=timeout_s)


def assert_no_address(text: str, port: int) -> None:
    """A short human text: no host, no port, no exception repr."""
    assert "127.0.0.1" not in text, text
    assert str(port) not in text, text
    assert "ConnectionKey" not in text, text
    assert "Error(" not in text, text
    assert len(text) < 80, text


# -- decoder ---------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
async def test_deeply_nested_json_is_a_malformed_reply(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession, device: str
) -> None:
    """10^5 nested arrays (200 kB, under the size cap) raise no RecursionError."""
    running_simulator.simulator.faults[device].nested_json = True
    client = client_for(running_simulator, device_session, device)
    with pytest.raises(MalformedReplyError) as caught:
        await client.get_data()
    assert str(caught.value).endswith(": not JSON (nested too deeply)")


# -- size ------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
async def test_endless_body_is_cut_at_the_cap(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession, device: str
) -> None:
    """A body that never ends fails the read once it passes the cap; memory stays small."""
    running_simulator.simulator.faults[device].endless_body = True
    client = client_for(running_simulator, device_session, device)
    tracemalloc.start()
    try:
        with pytest.raises(ReplyTooLargeError) as caught:
            await client.get_data()
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(caught.value, MalformedReplyError)
    assert str(caught.value).endswith(TOO_LARGE)
    # Client and simulator together: a few times the cap, not what seconds of reading
    # 127.0.0.1 until the timeout would pile up (hundreds of MB per second).
    assert peak_bytes < 16 * MAX_REPLY_BYTES
    # The same client reads the next reply normally.
    running_simulator.simulator.faults[device].endless_body = False
    await client.get_data()


@pytest.mark.parametrize("device", DEVICES)
async def test_huge_body_is_refused(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession, device: str
) -> None:
    """A 20 MB JSON reply (the size that blocked the loop 1.5 s per poll) is refused."""
    running_simulator.simulator.faults[device].huge_body_bytes = 20_000_000
    client = client_for(running_simulator, device_session, device)
    with pytest.raises(ReplyTooLargeError):
        await client.get_data()


@pytest.fixture
async def serve_handler(
    device_session: aiohttp.ClientSession,
) -> AsyncIterator[Callable[[Callable[[web.Request], Awaitable[web.StreamResponse]]], Any]]:
    """Serve one handler on every path of a free port; returns a P1 client for it."""
    runners: list[web.AppRunner] = []

    async def start(
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> P1Client:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return P1Client(device_session, "127.0.0.1", runner.addresses[0][1], timeout_s=2.0)

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_content_length_over_the_cap_is_refused_up_front(
    serve_handler: Callable[..., Awaitable[P1Client]],
) -> None:
    """A reply announcing 20 MB is refused from its headers: the client does not wait for the
    body (which this device never sends; reading it would end in a timeout instead)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 20_000_000
        await response.prepare(request)
        await response.write(b'{"active_power_w": 1')
        await asyncio.sleep(3600)
        return response

    client = await serve_handler(handler)
    with pytest.raises(ReplyTooLargeError):
        await client.get_data()


@pytest.mark.parametrize(("size", "fits"), [(MAX_REPLY_BYTES, True), (MAX_REPLY_BYTES + 1, False)])
async def test_chunked_body_capped_at_exactly_the_limit(
    serve_handler: Callable[..., Awaitable[P1Client]], size: int, fits: bool
) -> None:
    """Without a Content-Length the cap applies while reading, to the byte."""
    body = json.dumps({"active_power_w": 5, "padding": ""}).encode()
    body = body[:-2] + b"x" * (size - len(body)) + b'"}'
    assert len(body) == size

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 10_000):
            await response.write(body[start : start + 10_000])
        await response.write_eof()
        return response

    client = await serve_handler(handler)
    if fits:
        assert (await client.get_data()).active_power_w == 5
    else:
        with pytest.raises(ReplyTooLargeError):
            await client.get_data()


# -- values ----------------------------------------------------------------------------------


P1_GARBAGE = {
    "active_power_w": "NaN",
    "active_power_l1_w": "Infinity",
    "active_power_l2_w": "-Infinity",
    "active_power_l3_w": "1e400",
    "total_gas_m3": '"abc"',
    "active_tariff": "7",
    "active_voltage_l1_v": "-5",
    "montly_power_peak_w": "1" + "0" * 400,  # an integer no float can hold
    "new_key_not_finite": "NaN",
}


async def test_p1_implausible_readings_are_absent(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.p1_faults.raw_values = {**P1_GARBAGE, "new_key": "12"}
    client = client_for(running_simulator, device_session, "p1")
    data = await client.get_data()
    assert isinstance(client, P1Client)
    assert data.invalid_keys == set(P1_GARBAGE)
    assert not data.invalid_keys & set(data.values)
    assert data.active_power_w is None
    assert data.monthly_power_peak_w is None
    assert data.values["new_key"] == 12  # a key without a rule is kept as sent
    assert 200 < data.values["active_voltage_l2_v"] < 260  # the other readings are intact
    assert data.values["active_frequency_hz"] == 50


INDEVOLT_GARBAGE = {
    "6002": "250",  # SOC 250 %
    "6105": "-5",  # backup SOC -5 %
    "6000": "NaN",
    "11016": "1e400",
    "7101": '"abc"',
    "1664": '"1e400"',  # numeric text that parses to infinity
    "6001": "1001.5",  # a state code that is no whole number
    "2101": '"' + "9" * 5000 + '"',  # more digits than int() takes
}


async def test_indevolt_implausible_registers_are_absent(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.indevolt_faults.raw_values = INDEVOLT_GARBAGE
    client = client_for(running_simulator, device_session, "indevolt")
    assert isinstance(client, IndevoltClient)
    snapshot = await client.get_data()
    assert snapshot.invalid_registers == {int(key) for key in INDEVOLT_GARBAGE}
    assert not snapshot.invalid_registers & set(snapshot.registers)
    assert snapshot.soc_percent is None
    assert snapshot.backup_soc_percent is None
    assert snapshot.battery_power_w is None
    assert snapshot.meter_power_w is None
    assert snapshot.working_mode is None
    assert snapshot.pv1_power_w is None
    assert snapshot.battery_state is None
    assert snapshot.rated_capacity_kwh == 12.0  # the other registers are intact
    assert snapshot.serial == "PowerFlex2000-12345678"


@pytest.mark.parametrize(
    ("key", "value", "kept"),
    [
        ("active_power_w", -55_000, True),
        ("active_power_w", 1e6, False),
        ("active_power_l1_w", 40_000, False),
        ("active_current_l2_a", -63.5, True),
        ("active_voltage_l3_v", 231.4, True),
        ("active_voltage_l3_v", 400, False),
        ("active_frequency_hz", 0, False),
        ("active_tariff", 2, True),
        ("active_tariff", 0, False),
        ("active_tariff", 2.5, False),
        ("active_tariff", "2", False),
        ("total_power_import_kwh", 0, True),
        ("total_power_export_t4_kwh", -0.001, False),
        ("active_power_average_w", -1, False),
        ("any_power_fail_count", 4, True),
        ("voltage_sag_l1_count", 1.5, False),
        ("wifi_strength", 101, False),
        ("gas_timestamp", 210606140010, True),
        ("wifi_ssid", "My Wi-Fi", True),
        ("meter_model", 5, True),
        ("future_key", "text", True),
        ("future_key", 1e300, True),
        ("future_key", float("nan"), False),
        ("future_key", 10**400, False),
    ],
)
def test_p1_bounds(key: str, value: object, kept: bool) -> None:
    data = parse_data({key: value})
    assert (key in data.values) is kept
    assert (key in data.invalid_keys) is not kept


@pytest.mark.parametrize(
    ("register", "value", "kept"),
    [
        (6002, 100, True),
        (6002, "0", True),
        (6002, 100.5, False),
        (6002, -5, False),
        (6105, 250, False),
        (6000, -2400, True),
        (6000, 60_000, False),
        (11016, -9000, True),
        (1505, "123456789", True),
        (1505, -1, False),
        (6006, 380.58, True),
        (142, 5000, False),
        (7101, 4, True),
        (7101, 1.5, False),
        (7101, 70_000, False),
        (0, "SN", True),
        (9008, "PACK", True),
        (12345, 7, True),
        (12345, "text", True),
        (12345, float("inf"), False),
        (6002, "n/a", False),
    ],
)
def test_indevolt_bounds(register: int, value: object, kept: bool) -> None:
    registers, rejected = parse_registers({str(register): value})
    assert (register in registers) is kept
    assert (register in rejected) is not kept


def test_external_meter_non_finite_values_are_unknown() -> None:
    """1e400 and NaN in an external meter: unknown, not an OverflowError."""
    data = parse_data(
        {"external": [{"unique_id": "G", "timestamp": float("inf"), "value": float("nan")}]}
    )
    assert data.external[0].timestamp is None
    assert data.external[0].value is None
    data = parse_data({"external": [{"timestamp": 210606140010, "value": -3}]})
    assert data.external[0].timestamp == 210606140010
    assert data.external[0].value is None  # a meter total is never negative


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A random decoded JSON value, biased towards what hurts parsers."""
    scalars: list[Any] = [
        None,
        True,
        0,
        -1,
        10**4000,
        1e308,
        float("nan"),
        float("inf"),
        "",
        "92",
        " -5 ",
        "1e400",
        "9" * 5000,
        "abc",
        "NaN",
    ]
    if depth < 3 and rng.random() < 0.3:
        if rng.random() < 0.5:
            return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
        return random_object(rng, depth + 1)
    return rng.choice(scalars)


def random_object(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    keys = [*P1_GARBAGE, "external", "serial", "product_type", "6002", "0", "7101", "9" * 5000]
    return {rng.choice(keys): random_json(rng, depth) for _ in range(rng.randrange(8))}


def test_parsers_take_any_decoded_reply() -> None:
    """Whatever JSON object a device sends, parsing it raises nothing but MalformedReplyError
    (a missing identity), and every reading kept is plausible."""
    rng = random.Random(20261130)
    for _ in range(3000):
        payload = random_object(rng)
        data = parse_data(payload)
        assert all(not isinstance(v, float) or math.isfinite(v) for v in data.values.values()), (
            payload
        )
        registers, _ = parse_registers(payload)
        assert all(not isinstance(v, float) or math.isfinite(v) for v in registers.values()), (
            payload
        )
        with contextlib.suppress(MalformedReplyError):
            parse_device(payload)


# -- one warning per episode -----------------------------------------------------------------


def device_records(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name.startswith(DEVICE_LOGGER) and text in r.getMessage()
    ]


@pytest.mark.parametrize(
    ("device", "raw_values", "name"),
    [
        ("p1", {"active_power_w": "NaN"}, "P1 meter reading active_power_w"),
        ("indevolt", {"6002": "250"}, "Indevolt register 6002"),
    ],
)
async def test_rejections_logged_once_per_episode(
    running_simulator: RunningSimulator,
    *,
    device_session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    device: str,
    raw_values: dict[str, str],
    name: str,
) -> None:
    caplog.set_level(logging.INFO, logger=DEVICE_LOGGER)
    faults = running_simulator.simulator.faults[device]
    client = client_for(running_simulator, device_session, device)
    for _ in range(2):  # two episodes
        faults.raw_values = raw_values
        for _ in range(3):
            await client.get_data()
        faults.raw_values = {}
        for _ in range(2):
            await client.get_data()
    warnings = device_records(caplog, f"{name} rejected")
    assert len(warnings) == 2
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in warnings)
    assert "unknown until a valid value arrives" in warnings[0].getMessage()
    recoveries = device_records(caplog, f"{name} is valid again")
    assert [r.levelno for r in recoveries] == [logging.INFO, logging.INFO]


async def test_a_register_not_asked_keeps_its_episode(
    running_simulator: RunningSimulator,
    device_session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A read of other registers (the serial at set-up) neither ends nor repeats an episode."""
    caplog.set_level(logging.INFO, logger=DEVICE_LOGGER)
    faults = running_simulator.simulator.indevolt_faults
    client = client_for(running_simulator, device_session, "indevolt")
    assert isinstance(client, IndevoltClient)
    faults.raw_values = {"6002": "250"}
    await client.get_data()
    await client.get_config()
    await client.get_data()
    assert len(device_records(caplog, "Indevolt register 6002 rejected")) == 1
    assert device_records(caplog, "is valid again") == []


# -- error texts -----------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("faults", "text"),
    [
        ({"off": True}, "connection closed by the device"),
        ({"drop_connection": True}, "reply cut off"),
        ({"timeout": True}, "timed out after 0.3 s"),
        ({"http_status": 500}, "HTTP status 500"),
        ({"malformed_json": True}, "not JSON"),
        ({"nested_json": True}, "not JSON (nested too deeply)"),
        ({"endless_body": True}, TOO_LARGE),
        ({"huge_body_bytes": 1_000_000}, TOO_LARGE),
    ],
)
async def test_error_texts_are_short_and_carry_no_address(
    running_simulator: RunningSimulator,
    device_session: aiohttp.ClientSession,
    device: str,
    faults: dict[str, Any],
    text: str,
) -> None:
    running_simulator.simulator.faults[device].update(faults)
    # Short only where the timeout is the point: a loaded machine must not turn the others
    # into timeouts.
    timeout_s = 0.3 if faults.get("timeout") else 4.0
    client = client_for(running_simulator, device_session, device, timeout_s=timeout_s)
    port = running_simulator.p1_port if device == "p1" else running_simulator.indevolt_port
    with pytest.raises(DeviceError) as caught:
        await client.get_data()
    path = "GET /api/v1/data" if device == "p1" else "POST /rpc/Indevolt.GetData"
    assert str(caught.value) == f"{path}: {text}"
    assert_no_address(str(caught.value), port)


@pytest.mark.parametrize("device", DEVICES)
async def test_nothing_listening_is_connection_refused(
    device_session: aiohttp.ClientSession, unused_tcp_port: int, device: str
) -> None:
    client: P1Client | IndevoltClient = (
        P1Client(device_session, "127.0.0.1", unused_tcp_port)
        if device == "p1"
        else IndevoltClient(device_session, "127.0.0.1", unused_tcp_port)
    )
    with pytest.raises(DeviceError) as caught:
        await client.get_data()
    assert str(caught.value).endswith(": connection refused")
    assert_no_address(str(caught.value), unused_tcp_port)


def _connection_key() -> ConnectionKey:
    return ConnectionKey("10.9.8.7", 8080, False, True, None, None, None)


@pytest.mark.parametrize(
    ("err", "text"),
    [
        (
            aiohttp.ClientConnectorDNSError(_connection_key(), OSError(-2, "Name not known")),
            "host name not found",
        ),
        (
            aiohttp.ClientConnectorError(
                _connection_key(), OSError(errno.EHOSTUNREACH, "No route to host")
            ),
            "host unreachable",
        ),
        (
            aiohttp.ClientConnectorError(_connection_key(), OSError(errno.EPERM, "odd")),
            "could not connect",
        ),
        (aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"), "connection reset"),
        (aiohttp.ClientOSError(errno.EPIPE, "Broken pipe"), "connection failed"),
        (
            aiohttp.ClientResponseError(
                aiohttp.RequestInfo(
                    aiohttp.client_reqrep.URL("http://10.9.8.7:8080/x"),
                    "GET",
                    {},  # type: ignore[arg-type]
                ),
                (),
                status=400,
                message="Invalid header",
            ),
            "invalid HTTP reply",
        ),
    ],
)
def test_transport_texts(err: aiohttp.ClientError, text: str) -> None:
    """Failures the simulator cannot produce on 127.0.0.1, and what they read as."""
    assert _transport_text(err) == text
    assert "10.9.8.7" not in _transport_text(err)
