"""The battery controller: deadlines, targets, overrides and keeping the record true on failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ems.command_validation import ControlAction
from custom_components.ems.control_store import CommandSource, ForcedKind, storage_key
from custom_components.ems.controller import BatteryController, ManualOverride
from custom_components.ems.devices.errors import DeviceTimeoutError
from custom_components.ems.devices.indevolt import WorkingMode
from ems_simulator import RunningSimulator, Simulator

from .test_services import writes


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


@pytest.fixture
def controller(init_integration: MockConfigEntry) -> BatteryController:
    return init_integration.runtime_data.controller


async def refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_duration_ends_the_command(
    hass: HomeAssistant,
    controller: BatteryController,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    await controller.async_charge(1000, 90, duration=timedelta(minutes=30))
    sim.requests.clear()
    freezer.tick(timedelta(minutes=29))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert writes(sim) == []
    freezer.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]
    assert controller.forced_command is None


async def test_new_command_replaces_the_deadline(
    hass: HomeAssistant,
    controller: BatteryController,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    await controller.async_stop(duration=timedelta(minutes=5))
    await controller.async_charge(1000, 90)
    sim.requests.clear()
    freezer.tick(timedelta(minutes=10))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert writes(sim) == []
    assert controller.forced_command is not None


@pytest.mark.parametrize(
    ("kind", "soc", "restored"),
    [
        ("charge", 89.0, False),
        ("charge", 90.0, True),
        ("discharge", 21.0, False),
        ("discharge", 20.0, True),
    ],
)
async def test_target_soc_ends_the_command(
    hass: HomeAssistant,
    *,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
    kind: str,
    soc: float,
    restored: bool,
) -> None:
    if kind == "charge":
        await controller.async_charge(1000, 90)
    else:
        await controller.async_discharge(1000, 20)
    sim.model.soc_percent = soc
    sim.requests.clear()
    await refresh(hass, init_integration)
    assert writes(sim) == ([(47005, [1])] if restored else [])
    assert (controller.forced_command is None) == restored


async def test_stop_has_no_target(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
) -> None:
    await controller.async_stop()
    sim.requests.clear()
    await refresh(hass, init_integration)
    assert writes(sim) == []
    assert controller.forced_command is not None


async def test_mode_changed_outside_forgets_the_command(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    await controller.async_charge(1000, 90)
    sim.model.set_mode(5)  # the owner chose schedule mode in the app
    sim.requests.clear()
    await refresh(hass, init_integration)
    assert writes(sim) == []
    assert controller.forced_command is None
    assert hass_storage[storage_key(init_integration.entry_id)]["data"]["command"] is None


async def test_manual_override_listener(hass: HomeAssistant, controller: BatteryController) -> None:
    seen: list[ManualOverride] = []
    remove = controller.async_add_manual_override_listener(seen.append)
    await controller.async_charge(1000, 90, source=CommandSource.OPTIMISER)
    assert seen == []
    await controller.async_stop()
    assert seen[-1].action is ControlAction.STOP
    assert seen[-1].forced is not None and seen[-1].forced.kind is ForcedKind.STOP
    await controller.async_set_working_mode(WorkingMode.REALTIME)
    assert seen[-1].mode is WorkingMode.REALTIME
    await controller.async_restore_auto_mode()
    assert seen[-1] == ManualOverride(
        ControlAction.RESTORE_AUTO_MODE, None, WorkingMode.SELF_CONSUMED
    )
    remove()
    await controller.async_restore_auto_mode()
    assert len(seen) == 3


async def test_outdoor_portable_cannot_be_written(
    controller: BatteryController, sim: Simulator
) -> None:
    sim.requests.clear()
    with pytest.raises(ServiceValidationError) as err:
        await controller.async_set_working_mode(WorkingMode.OUTDOOR_PORTABLE)
    assert err.value.translation_key == "working_mode_not_writable"
    assert sim.requests == []


async def test_command_failure_after_switch_restores_on_next_poll(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
) -> None:
    client = init_integration.runtime_data.coordinator.indevolt
    sim.requests.clear()
    with (
        patch.object(client, "charge", side_effect=DeviceTimeoutError("slow")),
        pytest.raises(HomeAssistantError),
    ):
        await controller.async_charge(1000, 90)
    assert writes(sim) == [(47005, [4])]
    assert controller.restore_pending
    await refresh(hass, init_integration)
    assert writes(sim) == [(47005, [4]), (47005, [1])]
    assert not controller.restore_pending
    assert controller.forced_command is None


async def test_rejected_command_keeps_the_earlier_record(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    await controller.async_charge(1000, 90)
    earlier = controller.forced_command
    sim.indevolt_faults.reject_commands = True
    with pytest.raises(HomeAssistantError):
        await controller.async_discharge(1000, 20)
    assert controller.forced_command is earlier
    record = hass_storage[storage_key(init_integration.entry_id)]["data"]["command"]
    assert record["kind"] == "charge"


async def test_rejected_command_in_foreign_realtime_mode_leaves_no_record(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    sim.model.set_mode(4)  # real-time mode set by someone else
    await refresh(hass, init_integration)
    sim.indevolt_faults.reject_commands = True
    sim.requests.clear()
    with pytest.raises(HomeAssistantError):
        await controller.async_charge(1000, 90)
    assert writes(sim) == [(47015, [1, 1000, 90])]
    assert controller.forced_command is None
    assert hass_storage[storage_key(init_integration.entry_id)]["data"]["command"] is None


async def test_rejected_mode_switch_leaves_no_record(
    controller: BatteryController, sim: Simulator
) -> None:
    sim.indevolt_faults.reject_commands = True
    with pytest.raises(HomeAssistantError):
        await controller.async_set_working_mode(WorkingMode.REALTIME)
    assert controller.forced_command is None
    assert not controller.restore_pending


async def test_failed_restore_is_retried(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
) -> None:
    await controller.async_stop()
    sim.indevolt_faults.reject_commands = True
    with pytest.raises(HomeAssistantError):
        await controller.async_restore_auto_mode()
    assert controller.restore_pending
    sim.indevolt_faults.reject_commands = False
    sim.requests.clear()
    await refresh(hass, init_integration)
    assert writes(sim) == [(47005, [1])]
    assert controller.forced_command is None


async def test_failed_deadline_restore_is_retried(
    hass: HomeAssistant,
    *,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await controller.async_stop(duration=timedelta(minutes=1))
    sim.indevolt_faults.reject_commands = True
    freezer.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert "Could not restore self-consumption mode (the stop command's duration ended)" in (
        caplog.text
    )
    assert controller.restore_pending
    sim.indevolt_faults.reject_commands = False
    await refresh(hass, init_integration)
    assert controller.forced_command is None


async def test_no_commands_after_shutdown(controller: BatteryController, sim: Simulator) -> None:
    await controller.async_shutdown("test")
    await controller.async_shutdown("test again")
    sim.requests.clear()
    with pytest.raises(HomeAssistantError) as err:
        await controller.async_charge(1000, 90)
    assert err.value.translation_key == "shutting_down"
    assert sim.requests == []


async def test_restore_skipped_when_a_newer_command_took_over(
    hass: HomeAssistant, controller: BatteryController, sim: Simulator
) -> None:
    await controller.async_charge(1000, 90)
    old = controller.forced_command
    assert old is not None
    await controller.async_charge(800, 80)
    sim.requests.clear()
    await controller._async_restore("stale", old)
    assert writes(sim) == []


async def test_coordinator_update_while_restore_in_flight(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
) -> None:
    await controller.async_charge(1000, 90)
    sim.model.soc_percent = 95
    coordinator = init_integration.runtime_data.coordinator
    await coordinator.async_refresh()
    # The restore task is scheduled; a second update before it runs schedules nothing more.
    coordinator.async_update_listeners()
    sim.requests.clear()
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]


async def test_start_time_recorded(controller: BatteryController) -> None:
    before = dt_util.utcnow()
    await controller.async_charge(1000, 90, duration=timedelta(minutes=10))
    forced = controller.forced_command
    assert forced is not None and forced.started >= before
    assert forced.deadline == forced.started + timedelta(minutes=10)
    assert forced.describe().startswith("charge at 1000 W to 90 % until ")


async def test_realtime_mode_has_no_target(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
) -> None:
    await controller.async_set_working_mode(WorkingMode.REALTIME)
    sim.requests.clear()
    await refresh(hass, init_integration)
    assert writes(sim) == []
    assert controller.forced_command is not None
    assert controller.forced_command.kind is ForcedKind.REALTIME


async def test_discharge_without_known_backup_soc(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
) -> None:
    sim.indevolt_faults.missing_registers = {6105}
    await refresh(hass, init_integration)
    sim.requests.clear()
    await controller.async_discharge(1000)
    assert writes(sim) == [(47005, [4]), (47015, [2, 1000, 10])]


async def test_forget_skipped_when_a_newer_command_took_over(
    hass: HomeAssistant, controller: BatteryController
) -> None:
    await controller.async_charge(1000, 90)
    old = controller.forced_command
    assert old is not None
    await controller.async_stop()
    await controller._async_forget_changed(WorkingMode.SCHEDULE, old)
    assert controller.forced_command is not None
    assert controller.forced_command.kind is ForcedKind.STOP


@pytest.mark.parametrize("duration", [timedelta(seconds=30), timedelta(days=2)])
async def test_duration_outside_the_window_is_refused(
    controller: BatteryController, sim: Simulator, duration: timedelta
) -> None:
    """The optimiser's calls are checked like the actions' (which check minutes first)."""
    sim.requests.clear()
    with pytest.raises(ServiceValidationError) as err:
        await controller.async_stop(duration=duration, source=CommandSource.OPTIMISER)
    assert err.value.translation_key == "duration_out_of_range"
    assert writes(sim) == []
