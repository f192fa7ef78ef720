"""The P1 client against the simulator over real HTTP, and against the shared fixtures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.ems.devices.errors import (
    DeviceConnectionError,
    DeviceHttpStatusError,
    DeviceTimeoutError,
    MalformedReplyError,
    P1ApiDisabledError,
)
from custom_components.ems.devices.p1 import P1Client, P1ExternalMeter, parse_data, parse_device
from ems_simulator import RunningSimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")


def client_for(
    running: RunningSimulator, session: aiohttp.ClientSession, **kwargs: Any
) -> P1Client:
    return P1Client(session, "127.0.0.1", running.p1_port, **kwargs)


@pytest.mark.parametrize(
    "name",
    [
        "hwe_p1_v1_data_3phase_gas_external.json",
        "hwe_p1_v1_data_single_phase.json",
        "ha_core_hwe_p1_data.json",
    ],
)
def test_fixture_keys_kept_literally(load_fixture_json: Callable[[str], Any], name: str) -> None:
    payload = load_fixture_json(name)
    data = parse_data(payload)
    scalars = {k: v for k, v in payload.items() if v is not None and k != "external"}
    assert data.values == scalars
    assert data.active_power_w == payload["active_power_w"]
    assert data.values["total_gas_m3"] == payload["total_gas_m3"]


def test_fixture_demand_and_external(load_fixture_json: Callable[[str], Any]) -> None:
    data = parse_data(load_fixture_json("hwe_p1_v1_data_3phase_gas_external.json"))
    assert data.active_power_average_w == 123.0
    assert data.monthly_power_peak_w == 1111.0
    assert data.values["montly_power_peak_timestamp"] == 230101080010
    assert len(data.external) == 5
    assert data.external[0] == P1ExternalMeter(
        "4E474C5944", "gas_meter", 210606140010, 111.111, "m3"
    )
    single = parse_data(load_fixture_json("hwe_p1_v1_data_single_phase.json"))
    assert "active_power_l2_w" not in single.values  # null dropped
    assert single.monthly_power_peak_w is None
    assert single.external == ()


def test_odd_values_dropped() -> None:
    data = parse_data(
        {
            "active_power_w": "oops",
            "flag": True,
            "nested": {"a": 1},
            "external": [1, {"unique_id": 7, "timestamp": True, "value": "x"}],
        }
    )
    assert data.values == {}  # text under a numeric key is no reading
    assert data.invalid_keys == {"active_power_w"}
    assert data.active_power_w is None
    assert data.external == (P1ExternalMeter("7", None, None, None, None),)


@pytest.mark.parametrize("name", ["hwe_p1_v1_api_device.json", "ha_core_hwe_p1_device.json"])
def test_fixture_device(load_fixture_json: Callable[[str], Any], name: str) -> None:
    payload = load_fixture_json(name)
    device = parse_device(payload)
    assert device.product_type == "HWE-P1"
    assert device.serial == "3c39e7aabbcc"
    assert device.firmware_version == payload["firmware_version"]
    assert device.product_name == payload["product_name"]
    assert device.api_version == "v1"


def test_device_optional_fields_and_malformed() -> None:
    device = parse_device({"product_type": "HWE-P1", "serial": "x", "firmware_version": 5.2})
    assert device.firmware_version == "5.2"
    assert device.product_name is None
    assert parse_device({"product_type": "T", "serial": "x", "api_version": []}).api_version is None
    assert (
        parse_device({"product_type": "T", "serial": "x", "api_version": False}).api_version is None
    )
    for payload in ({"serial": "x"}, {"product_type": "T", "serial": ""}, {"product_type": "T"}):
        with pytest.raises(MalformedReplyError):
            parse_device(payload)


async def test_get_device_and_data(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    client = client_for(running_simulator, device_session)
    device = await client.get_device()
    assert (device.product_type, device.serial, device.api_version) == (
        "HWE-P1",
        "3c39e7aabbcc",
        "v1",
    )
    data = await client.get_data()
    assert data.active_power_w == running_simulator.simulator.model.p1_data()["active_power_w"]
    assert "montly_power_peak_w" in data.values
    assert "total_gas_m3" in data.values
    assert data.external[0].type == "gas_meter"
    assert [(r.method, r.path) for r in running_simulator.simulator.requests] == [
        ("GET", "/api"),
        ("GET", "/api/v1/data"),
    ]


async def test_api_disabled(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.p1_faults.api_disabled = True
    client = client_for(running_simulator, device_session)
    for call in (client.get_device, client.get_data):
        with pytest.raises(P1ApiDisabledError) as caught:
            await call()
        assert caught.value.status == 403


@pytest.mark.parametrize(
    "response",
    [
        web.json_response({"error": {"id": 201}}, status=403),
        web.json_response({"error": "no"}, status=403),
        web.Response(body=b"forbidden", status=403),
    ],
)
async def test_other_403_is_plain_status_error(
    socket_enabled: None, device_session: aiohttp.ClientSession, response: web.Response
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return response

    app = web.Application()
    app.router.add_get("/api/v1/data", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        client = P1Client(device_session, "127.0.0.1", runner.addresses[0][1])
        with pytest.raises(DeviceHttpStatusError) as caught:
            await client.get_data()
        assert not isinstance(caught.value, P1ApiDisabledError)
        assert caught.value.status == 403
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"off": True}, DeviceConnectionError),
        ({"drop_connection": True}, DeviceConnectionError),
        ({"timeout": True}, DeviceTimeoutError),
        ({"latency_s": 1.0}, DeviceTimeoutError),
        ({"http_status": 500}, DeviceHttpStatusError),
        ({"malformed_json": True}, MalformedReplyError),
    ],
)
async def test_error_paths(
    running_simulator: RunningSimulator,
    device_session: aiohttp.ClientSession,
    faults: dict[str, Any],
    error: type[Exception],
) -> None:
    running_simulator.simulator.p1_faults.update(faults)
    client = client_for(running_simulator, device_session, timeout_s=0.3)
    for call in (client.get_device, client.get_data):
        with pytest.raises(error):
            await call()


async def test_timeout_settable(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    running_simulator.simulator.p1_faults.latency_s = 0.1
    client = client_for(running_simulator, device_session, timeout_s=0.02)
    with pytest.raises(DeviceTimeoutError):
        await client.get_data()
    client.timeout_s = 2.0
    assert (await client.get_data()).active_power_w is not None
