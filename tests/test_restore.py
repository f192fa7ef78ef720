"""Self-consumption comes back: at unload, at Home Assistant stop, and for a record left behind."""

from __future__ import annotations

from datetime import UTC, datetime
import logging
import time
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN
from custom_components.ems.control_store import (
    CommandSource,
    ForcedCommand,
    ForcedKind,
    storage_key,
)
from ems_simulator import RunningSimulator, Simulator

from .test_services import call, writes

LEFT_BEHIND = {
    "kind": "charge",
    "source": "optimiser",
    "started": "2026-06-21T11:00:00+00:00",
    "power_w": 1000,
    "target_soc_percent": 90,
    "deadline": "2026-06-21T11:30:00+00:00",
}


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


def leave_behind(hass_storage: dict[str, Any], entry: MockConfigEntry, command: Any) -> None:
    """The record a crash or power cut left in `.storage` for `entry`."""
    hass_storage[storage_key(entry.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(entry.entry_id),
        "data": {"command": command},
    }


def stored(hass_storage: dict[str, Any], entry: MockConfigEntry) -> Any:
    return hass_storage[storage_key(entry.entry_id)]["data"]["command"]


async def test_stop_restores_before_the_session_closes(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    await call(hass, "charge", power=1000, target_soc=90, duration=60)
    assert stored(hass_storage, init_integration)["kind"] == "charge"
    sim.requests.clear()
    await hass.async_stop()
    assert writes(sim) == [(47005, [1])]
    assert sim.model.mode == 1
    assert stored(hass_storage, init_integration) is None


async def test_stop_without_forced_command_sends_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.requests.clear()
    await hass.async_stop()
    assert writes(sim) == []


async def test_unload_when_unreachable_keeps_the_record(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await call(hass, "charge", power=1000, target_soc=90)
    init_integration.runtime_data.coordinator.indevolt.timeout_s = 30
    sim.indevolt_faults.timeout = True
    started = time.monotonic()
    with patch("custom_components.ems.controller.RESTORE_TIMEOUT_S", 0.3):
        assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert time.monotonic() - started < 5
    assert "Could not restore self-consumption mode within" in caplog.text
    assert stored(hass_storage, init_integration)["kind"] == "charge"


async def test_unload_when_rejected_keeps_the_record(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    await call(hass, "stop")
    sim.indevolt_faults.reject_commands = True
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert stored(hass_storage, init_integration)["kind"] == "stop"


async def test_left_behind_record_restored_at_setup(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim.model.set_mode(4)
    leave_behind(hass_storage, mock_config_entry, LEFT_BEHIND)
    caplog.set_level(logging.INFO)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]
    assert "A forced battery command was left behind (charge at 1000 W to 90 %" in caplog.text
    assert "Restored self-consumption mode on the Indevolt" in caplog.text
    assert stored(hass_storage, mock_config_entry) is None
    assert mock_config_entry.runtime_data.controller.forced_command is None


@pytest.mark.parametrize(
    "command",
    [
        {"kind": "nonsense", "source": "user", "started": "2026-06-21T11:00:00+00:00"},
        {"kind": "charge", "source": "user", "started": "not a time"},
        {**LEFT_BEHIND, "power_w": "1000"},
    ],
)
async def test_damaged_record_still_restores(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
    command: dict[str, Any],
) -> None:
    leave_behind(hass_storage, mock_config_entry, command)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]


async def test_left_behind_restored_when_device_answers_again(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    leave_behind(hass_storage, mock_config_entry, LEFT_BEHIND)
    sim.indevolt_faults.reject_commands = True
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    controller = mock_config_entry.runtime_data.controller
    coordinator = mock_config_entry.runtime_data.coordinator
    assert controller.restore_pending

    # An outage: nothing is tried while the device does not answer.
    sim.indevolt_faults.reject_commands = False
    sim.indevolt_faults.off = True
    sim.requests.clear()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert writes(sim) == []

    sim.indevolt_faults.off = False
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]
    assert not controller.restore_pending
    assert stored(hass_storage, mock_config_entry) is None


async def test_remove_entry_deletes_the_record(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    await call(hass, "charge", power=1000)
    assert storage_key(init_integration.entry_id) in hass_storage
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert storage_key(init_integration.entry_id) not in hass_storage
    assert not hass.config_entries.async_entries(DOMAIN)


def test_record_round_trip() -> None:
    command = ForcedCommand(
        ForcedKind.STOP,
        CommandSource.USER,
        datetime(2026, 6, 21, 12, 0, tzinfo=UTC),
        deadline=datetime(2026, 6, 21, 13, 0, tzinfo=UTC),
    )
    assert ForcedCommand.from_dict(command.as_dict()) == command
    assert command.describe() == "stop until 2026-06-21T13:00:00+00:00 (user)"


async def test_left_behind_restored_through_the_indevolt_alone(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    """After a power cut the P1 meter may be down for long: the battery is restored anyway."""
    sim.model.set_mode(4)
    leave_behind(hass_storage, mock_config_entry, LEFT_BEHIND)
    sim.p1_faults.off = True
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]
    assert sim.model.mode == 1
    assert stored(hass_storage, mock_config_entry) is None


async def test_left_behind_is_not_restored_on_a_different_battery(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    """The record is of the entry's battery: another one at the address is not written to."""
    sim.model.set_mode(4)
    sim.config_sn = "OTHER-BATTERY-0001"
    leave_behind(hass_storage, mock_config_entry, LEFT_BEHIND)
    mock_config_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    assert writes(sim) == []
    assert sim.model.mode == 4
    # Kept for when the entry's own battery answers again.
    assert stored(hass_storage, mock_config_entry) is not None


async def test_left_behind_waits_for_a_dead_indevolt(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    """The Indevolt is down at start: the entry loads with the P1, the restore comes later."""
    sim.model.set_mode(4)
    leave_behind(hass_storage, mock_config_entry, LEFT_BEHIND)
    sim.indevolt_faults.off = True
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert sim.model.mode == 4  # the attempt found nothing listening
    assert mock_config_entry.runtime_data.controller.restore_pending

    sim.indevolt_faults.off = False
    sim.requests.clear()
    await mock_config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]
    assert sim.model.mode == 1
    assert stored(hass_storage, mock_config_entry) is None
