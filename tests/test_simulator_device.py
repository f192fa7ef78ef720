"""The simulated Indevolt's hardware: generations, clusters, packs, meter, setting writes."""

from __future__ import annotations

import subprocess
import sys

import aiohttp
import pytest

from custom_components.ems.devices.indevolt import IndevoltClient
from custom_components.ems.devices.indevolt_registers import POLL_REGISTERS_BY_GENERATION
from ems_simulator import DeviceSettings, HomeModel, RunningSimulator
from ems_simulator.indevolt_device import device_registers, write_setting

from .conftest import FakeClock


def test_cli_knows_the_device_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ems_simulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--generation", "--units", "--packs", "--no-meter", "--mode-report-lag S"):
        assert option in result.stdout


@pytest.mark.parametrize(
    "changes",
    [
        {"generation": 3},
        {"units": 4},
        {"extension_packs": 6},
        {"command_style": "other"},
        {"colour": "red"},
    ],
)
def test_impossible_devices_are_refused(changes: dict[str, object]) -> None:
    device = DeviceSettings()
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the field
        device.update(changes)


def test_generation_1_registers() -> None:
    model = HomeModel(FakeClock())
    registers = device_registers(model, DeviceSettings(generation=1), "SN")
    assert 11016 not in registers
    assert 21028 in registers
    assert {7638, 7639} <= set(registers)
    assert not {114, 115, 2600, 9008, 11010} & set(registers)
    # Generation 1 has no writable settings.
    assert write_setting(model, DeviceSettings(generation=1), 1142, [20]) is None


def test_cluster_of_three() -> None:
    model = HomeModel(FakeClock())
    device = DeviceSettings(units=3)
    registers = device_registers(model, device, "SN")
    assert (registers[114], registers[115], registers[606]) == (7200, 7200, 1000)
    assert write_setting(model, device, 1147, [7200]) is True
    assert write_setting(model, device, 1147, [7201]) is False
    assert write_setting(model, device, 1138, [49]) is False
    assert write_setting(model, device, 9999, [1]) is None
    assert device_registers(model, DeviceSettings(), "SN")[606] == 1002


@pytest.mark.parametrize(
    ("strict", "register", "value", "accepted"),
    [
        (True, 1142, 4, False),
        (False, 1142, 0, True),
        (True, 1146, 0, False),
        (False, 1146, 0, True),
        (False, 1147, 0, True),
        (False, 1138, 0, False),
        (True, 7266, 2, False),
    ],
)
def test_vendor_and_core_ranges(strict: bool, register: int, value: int, accepted: bool) -> None:
    model = HomeModel(FakeClock())
    assert write_setting(model, DeviceSettings(strict_ranges=strict), register, [value]) is accepted


async def test_device_control_api_and_wire(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    base = running_simulator.indevolt_url
    body = {"generation": 1, "meter_connected": False, "units": 2}
    async with device_session.post(f"{base}/sim/device", json=body) as response:
        state = await response.json()
    assert state["device"]["units"] == 2
    assert sim.model.max_discharge_w == 1600  # two generation-1 units of 800 W
    async with device_session.get(f"{base}/rpc/Sys.GetConfig") as response:
        assert (await response.json())["device"]["type"] == "CMS-BK1600"
    client = IndevoltClient(device_session, "127.0.0.1", running_simulator.indevolt_port)
    client.generation = 1
    snapshot = await client.get_data()
    assert snapshot.value(7120) == 1001
    assert set(snapshot.registers) <= set(POLL_REGISTERS_BY_GENERATION[1])
    for bad in ({"units": 9}, [1]):
        async with device_session.post(f"{base}/sim/device", json=bad) as response:
            assert response.status == 400
    assert sim.device.units == 2
