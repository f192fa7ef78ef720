"""Command readback (6107-6109 after each 47015 write) and battery packs as devices."""

from __future__ import annotations

import logging

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN, MODE_REPORT_LAG_POLLS
from custom_components.ems.controller import BatteryController
from custom_components.ems.device_readback import DeviceReadback, ReadbackStatus
from custom_components.ems.devices.indevolt import WorkingMode
from custom_components.ems.devices.indevolt_registers import (
    BACKUP_SOC,
    GRID_CHARGING,
    generation_of,
)
from custom_components.ems.devices.indevolt_snapshot import BatterySnapshot, RealtimeReadback
from ems_simulator import DeviceSettings, RunningSimulator, Simulator

from .conftest import INDEVOLT_SERIAL, SIM_START, FakeClock

READBACK = "sensor.indevolt_cms_sf2000_command_readback"
COMMAND = "sensor.indevolt_cms_sf2000_real_time_command"


@pytest.fixture
def device() -> DeviceSettings:
    return DeviceSettings()


@pytest.fixture
def simulator(sim_clock: FakeClock, device: DeviceSettings) -> Simulator:
    return Simulator(clock=sim_clock, start=SIM_START, device=device)


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


@pytest.fixture
def controller(init_integration: MockConfigEntry) -> BatteryController:
    return init_integration.runtime_data.controller


async def refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


def readback_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "does not hold" in record.getMessage()
    ]


@pytest.mark.parametrize(
    "device", [DeviceSettings(command_style="vendor"), DeviceSettings(command_style="state")]
)
async def test_the_next_poll_confirms_the_command(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """6107 as the vendor documents it (0/1/2) or as core reads it (1000/1001/1002)."""
    assert hass.states.get(READBACK).state == "none"
    await controller.async_charge(1200, 90)
    assert hass.states.get(READBACK).state == "pending"
    await refresh(hass, init_integration)
    assert hass.states.get(READBACK).state == "confirmed"
    assert hass.states.get(COMMAND).state == "charge"
    assert hass.states.get("sensor.indevolt_cms_sf2000_real_time_command_power").state == "1200"
    assert readback_warnings(caplog) == []
    # Real-time mode written again: the device drops its command, there is nothing to hold.
    await controller.async_set_working_mode(WorkingMode.REALTIME)
    assert hass.states.get(READBACK).state == "none"
    await controller.async_discharge(600, 30)
    assert hass.states.get(READBACK).state == "pending"
    await controller.async_restore_auto_mode()
    assert hass.states.get(READBACK).state == "none"


@pytest.mark.parametrize("device", [DeviceSettings(ignores_commands=True)])
async def test_a_command_the_device_does_not_hold_is_reported_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await controller.async_discharge(700, 20)
    # Tolerated as a lag until the last poll a mode report may lag by.
    for _ in range(MODE_REPORT_LAG_POLLS - 1):
        await refresh(hass, init_integration)
        assert hass.states.get(READBACK).state == "pending"
    await refresh(hass, init_integration)
    assert hass.states.get(READBACK).state == "mismatch"
    for _ in range(3):
        await refresh(hass, init_integration)
    assert readback_warnings(caplog) == [
        (
            "The Indevolt does not hold the real-time command ems sent: sent [2, 700 W, 20 %], "
            "it reports [0, 0 W, 0 %]"
        )
    ]
    assert hass.states.get(READBACK).state == "mismatch"


async def test_a_lagging_readback_is_no_mismatch() -> None:
    readback = DeviceReadback()
    sent = RealtimeReadback(1, 1000, 90)
    readback.note_command(sent, reads_at_write=4)
    old = BatterySnapshot({6107: 0, 6108: 0, 6109: 0})
    new = BatterySnapshot({6107: 1, 6108: 90, 6109: 1000})
    assert readback.check(old, reads=4) == []  # the poll read before the write: not compared
    assert readback.status is ReadbackStatus.PENDING
    assert readback.check(old, reads=5) == []
    assert readback.check(new, reads=6) == []
    assert readback.status is ReadbackStatus.CONFIRMED
    assert readback.read_command == sent


async def test_a_standby_matches_whatever_power_and_soc() -> None:
    assert RealtimeReadback(0, 50, 10).matches(RealtimeReadback(0, 0, 0))
    assert not RealtimeReadback(1, 50, 10).matches(RealtimeReadback(1, 50, 11))


async def test_a_setting_the_device_does_not_hold_is_logged() -> None:
    readback = DeviceReadback()
    readback.note_setting(BACKUP_SOC, 30, reads_at_write=1)
    readback.note_setting(GRID_CHARGING, 1, reads_at_write=1)
    unchanged = BatterySnapshot({6105: 10, 2618: 1001})
    warnings: list[str] = []
    for reads in range(2, 2 + MODE_REPORT_LAG_POLLS):
        warnings += readback.check(unchanged, reads)
    # Grid charging reads 1001 (on) for the 1 written: held. The backup SOC is not.
    assert warnings == [
        "The Indevolt does not hold the backup_soc ems wrote: wrote 30, it reports 10"
    ]
    assert readback.check(unchanged, 10) == []  # one line per episode


@pytest.mark.parametrize("device", [DeviceSettings(extension_packs=2)])
async def test_packs_are_devices_and_a_pack_that_is_gone_is_removed(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    device_registry = dr.async_get(hass)
    entity_registry = er.async_get(hass)

    def pack_devices() -> dict[str, dr.DeviceEntry]:
        return {
            identifier: device
            for device in dr.async_entries_for_config_entry(
                device_registry, init_integration.entry_id
            )
            for domain, identifier in device.identifiers
            if domain == DOMAIN and "_pack_" in identifier
        }

    packs = pack_devices()
    assert sorted(packs) == [f"{INDEVOLT_SERIAL}_pack_{number}" for number in (0, 1, 2)]
    inverter = device_registry.async_get_device_by_identifier(
        (DOMAIN, INDEVOLT_SERIAL), init_integration.entry_id
    )
    assert inverter is not None
    pack_2 = packs[f"{INDEVOLT_SERIAL}_pack_2"]
    assert pack_2.via_device_id == inverter.id
    assert pack_2.serial_number == "PACK2-10000002"
    assert pack_2.name == "Battery pack 2"
    soc = hass.states.get("sensor.battery_pack_2_state_of_charge")
    assert soc is not None
    assert soc.state == "50"
    # Pack 2 is taken out: its device and entities go when its registers' turn comes (every
    # slow register is read within 5 polls, tests/test_indevolt_poll_plan.py).
    sim.device.extension_packs = 1
    await refresh(hass, init_integration)
    assert f"{INDEVOLT_SERIAL}_pack_2" in pack_devices()
    for _ in range(4):
        await refresh(hass, init_integration)
    assert sorted(pack_devices()) == [f"{INDEVOLT_SERIAL}_pack_{number}" for number in (0, 1)]
    assert entity_registry.async_get("sensor.battery_pack_2_state_of_charge") is None
    # Put back: it returns.
    sim.device.extension_packs = 2
    for _ in range(5):
        await refresh(hass, init_integration)
    assert f"{INDEVOLT_SERIAL}_pack_2" in pack_devices()
    assert hass.states.get("sensor.battery_pack_2_state_of_charge") is not None


async def test_a_setting_is_compared_only_after_the_write_and_no_readback_is_no_command() -> None:
    readback = DeviceReadback()
    readback.note_setting(BACKUP_SOC, 30, reads_at_write=3)
    assert readback.check(BatterySnapshot({6105: 10}), reads=3) == []  # read before the write
    readback.note_command(RealtimeReadback(1, 500, 80), reads_at_write=3)
    warnings: list[str] = []
    for reads in range(4, 4 + MODE_REPORT_LAG_POLLS):
        warnings += readback.check(BatterySnapshot({6105: 10}), reads)
    assert warnings[0].endswith("sent [1, 500 W, 80 %], it reports no command")


def test_generation_of_a_device_without_a_type() -> None:
    assert generation_of(None) == 2
    assert generation_of("CMS-SF2000") == 2
    assert generation_of("CMS-BK1600") == 1
