"""Commands racing an unload or a cancel, and the record written only when it changes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.control_store import CommandSource, ForcedKind, storage_key
from custom_components.ems.controller import BatteryController
from custom_components.ems.devices.indevolt import WorkingMode
from ems_simulator import RunningSimulator, Simulator

from .test_services import writes

OPTIMISER = CommandSource.OPTIMISER


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


@pytest.fixture
def controller(init_integration: MockConfigEntry) -> BatteryController:
    return init_integration.runtime_data.controller


def stored(hass_storage: dict[str, Any], entry: MockConfigEntry) -> Any:
    return hass_storage[storage_key(entry.entry_id)]["data"]["command"]


async def until(condition: Any) -> None:
    """Let the loop run until `condition()` holds (the simulator answers within a second)."""
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "command",
    [
        lambda controller: controller.async_charge(1000, 90),
        lambda controller: controller.async_set_working_mode(WorkingMode.SCHEDULE),
    ],
    ids=["charge", "set_working_mode"],
)
async def test_command_waiting_for_the_lock_does_not_run_after_unload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
    command: Callable[[BatteryController], Awaitable[None]],
) -> None:
    lock = init_integration.runtime_data.coordinator.battery_lock
    await lock.acquire()  # a poll, say, holds the battery
    sim.requests.clear()
    charge = asyncio.ensure_future(command(controller))
    await asyncio.sleep(0)
    unload = asyncio.ensure_future(hass.config_entries.async_unload(init_integration.entry_id))
    await asyncio.sleep(0)
    lock.release()

    assert await unload
    with pytest.raises(HomeAssistantError) as err:
        await charge
    assert err.value.translation_key == "shutting_down"
    await hass.async_block_till_done()
    assert writes(sim) == []
    assert sim.model.mode == 1


@pytest.mark.parametrize("removed", [False, True], ids=["unload", "remove"])
async def test_unload_waits_for_a_command_in_flight_then_restores(
    hass: HomeAssistant,
    *,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
    hass_storage: dict[str, Any],
    removed: bool,
) -> None:
    sim.indevolt_faults.latency_s = 0.2
    sim.requests.clear()
    charge = asyncio.ensure_future(controller.async_charge(1000, 90))
    await until(lambda: writes(sim))  # 47005 = [4] is on its way

    if removed:  # the record is deleted: nothing could restore the battery later
        await hass.config_entries.async_remove(init_integration.entry_id)
    else:
        assert await hass.config_entries.async_unload(init_integration.entry_id)
    await charge
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [4]), (47015, [1, 1000, 90]), (47005, [1])]
    assert sim.model.mode == 1
    key = storage_key(init_integration.entry_id)
    assert (
        (key not in hass_storage) if removed else (stored(hass_storage, init_integration) is None)
    )


async def test_cancelled_write_may_have_switched(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
    hass_storage: dict[str, Any],
) -> None:
    sim.indevolt_faults.latency_s = 0.2
    sim.requests.clear()
    send = asyncio.ensure_future(controller.async_charge(1000, 90, source=OPTIMISER))
    await until(lambda: len(writes(sim)) == 2)  # mode 4 written, 47015 on its way
    send.cancel()
    with pytest.raises(asyncio.CancelledError):
        await send
    assert sim.model.mode == 4

    forced = controller.forced_command
    assert forced is not None
    assert forced.kind is ForcedKind.CHARGE
    assert controller.restore_pending
    assert stored(hass_storage, init_integration)["kind"] == "charge"

    sim.indevolt_faults.latency_s = 0.0
    sim.requests.clear()
    await init_integration.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]
    assert sim.model.mode == 1
    assert controller.forced_command is None
    assert stored(hass_storage, init_integration) is None


async def test_unload_after_a_cancelled_optimiser_send_restores(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
) -> None:
    sim.indevolt_faults.latency_s = 0.2
    sim.requests.clear()
    send = asyncio.ensure_future(controller.async_charge(1000, 90, source=OPTIMISER))
    await until(lambda: len(writes(sim)) == 2)
    send.cancel()  # the optimiser is switched off, or the entry unloads
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert send.cancelled()
    assert writes(sim)[-1] == (47005, [1])
    assert sim.model.mode == 1


async def test_record_written_only_when_it_changes(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    controller: BatteryController,
    sim: Simulator,
) -> None:
    key = storage_key(init_integration.entry_id)
    saves: list[Any] = []
    original = Store.async_save

    async def counting_save(store: Store[Any], data: Any) -> None:
        if store.key == key:
            saves.append(data["command"])
        await original(store, data)

    with patch.object(Store, "async_save", counting_save):
        await controller.async_charge(1000, 90, source=OPTIMISER)
        assert len(saves) == 1
        await controller.async_charge(1000, 90, source=OPTIMISER)
        await controller.async_charge(1000, 90, source=OPTIMISER)
        assert len(saves) == 1
        await controller.async_charge(1200, 90, source=OPTIMISER)
        assert len(saves) == 2
        assert saves[-1]["power_w"] == 1200
        await controller.async_restore_auto_mode(source=OPTIMISER)
        assert saves[-1] is None
        assert len(saves) == 3
        await controller.async_restore_auto_mode(source=OPTIMISER)
        assert len(saves) == 3
    assert sim.model.mode == 1
