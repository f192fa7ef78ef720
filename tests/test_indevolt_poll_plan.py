"""One GetData request per Indevolt poll: the slow registers take turns (indevolt_poll_plan.py).

The request sequences are read from the simulator's request log, over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import aiohttp
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.devices.errors import DeviceHttpStatusError
from custom_components.ems.devices.indevolt import IndevoltClient
from custom_components.ems.devices.indevolt_poll_plan import (
    MAX_KEYS_PER_REQUEST,
    PollPlan,
    slow_units,
)
from custom_components.ems.devices.indevolt_registers import (
    BATTERY_PACKS,
    FAST_REGISTERS_BY_GENERATION,
    NUMBER_SETTINGS,
    POLL_REGISTERS_BY_GENERATION,
    REG_BACKUP_SOC,
    REG_RATED_CAPACITY,
    SLOW_REGISTERS_BY_GENERATION,
    SWITCH_SETTINGS,
)
from ems_simulator import RunningSimulator, Simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

FAST = FAST_REGISTERS_BY_GENERATION[2]
SLOW = SLOW_REGISTERS_BY_GENERATION[2]
EVERYTHING = POLL_REGISTERS_BY_GENERATION[2]
# Generation 2: 57 slow keys, 13 a poll beside the 37 fast ones, a pack's registers together.
READ_WITHIN_POLLS = 5
# Before, the slow registers were read every 12th poll (in a second request); they must still be
# read at least that often, even when a setting is written before every poll.
READ_WITHIN_POLLS_BEFORE = 12
SETTINGS_READ = tuple(
    setting.read_register
    for setting in (*NUMBER_SETTINGS, *SWITCH_SETTINGS)
    if setting.read_register != REG_BACKUP_SOC  # a fast register
)


def client_for(running: RunningSimulator, session: aiohttp.ClientSession) -> IndevoltClient:
    return IndevoltClient(session, "127.0.0.1", running.indevolt_port)


def getdata_requests(sim: Simulator) -> list[list[int]]:
    """The key lists of the GetData requests in the log, in order; the log is cleared."""
    keys = [r.config["t"] for r in sim.requests if r.path == "/rpc/Indevolt.GetData"]
    sim.requests.clear()
    return keys


async def steady_polls(client: IndevoltClient, sim: Simulator, polls: int) -> list[list[int]]:
    """The keys of `polls` polls after the first, asserting that each is one request."""
    keys: list[list[int]] = []
    for _ in range(polls):
        await client.poll()
        [request] = getdata_requests(sim)
        keys.append(request)
    return keys


def assert_slow_registers_come_round(
    polls: list[list[int]], fast: tuple[int, ...], slow: tuple[int, ...], within: int
) -> None:
    """Each request holds every fast key and a share of the slow ones; each window of `within`
    polls reads every slow key; a pack's registers are read together."""
    shares = []
    for keys in polls:
        assert len(keys) <= MAX_KEYS_PER_REQUEST
        assert len(set(keys)) == len(keys)
        assert tuple(keys[: len(fast)]) == fast
        share = set(keys[len(fast) :])
        assert share <= set(slow)
        for pack in BATTERY_PACKS:
            assert not share & set(pack.registers) or set(pack.registers) & set(slow) <= share
        shares.append(share)
    for start in range(len(shares) - within + 1):
        assert set().union(*shares[start : start + within]) == set(slow), start


async def test_every_poll_is_one_request_and_each_slow_register_comes_round(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    client = client_for(running_simulator, device_session)
    await client.poll()
    # The first poll reads everything: the entities set up from it need every value.
    assert getdata_requests(sim) == [list(EVERYTHING[:50]), list(EVERYTHING[50:])]
    polls = await steady_polls(client, sim, 3 * READ_WITHIN_POLLS_BEFORE)
    assert {len(keys) for keys in polls} == {MAX_KEYS_PER_REQUEST}
    assert_slow_registers_come_round(polls, FAST, SLOW, READ_WITHIN_POLLS)


async def test_a_written_setting_is_read_at_the_next_poll_without_starving_the_rest(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    client = client_for(running_simulator, device_session)
    await client.poll()
    getdata_requests(sim)
    polls = []
    for _ in range(3 * READ_WITHIN_POLLS_BEFORE):
        client.refresh_slow_registers()  # as the controller does after each setting write
        [keys] = await steady_polls(client, sim, 1)
        assert set(SETTINGS_READ) <= set(keys)
        polls.append(keys)
    assert_slow_registers_come_round(polls, FAST, SLOW, READ_WITHIN_POLLS_BEFORE)


async def test_a_slow_value_is_kept_between_its_readings(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    sim = running_simulator.simulator
    client = client_for(running_simulator, device_session)
    first = await client.poll()
    capacity = first.registers[REG_RATED_CAPACITY]
    getdata_requests(sim)
    sim.indevolt_faults.raw_values = {str(REG_RATED_CAPACITY): "150"}
    seen = []
    for _ in range(2 * READ_WITHIN_POLLS):
        snapshot = await client.poll()
        [keys] = getdata_requests(sim)
        assert set(snapshot.registers) == set(first.registers)  # every value, every poll
        seen.append((REG_RATED_CAPACITY in keys, snapshot.registers[REG_RATED_CAPACITY]))
        if REG_RATED_CAPACITY in keys:
            if sim.indevolt_faults.raw_values == {}:
                break
            sim.indevolt_faults.raw_values = {}
    # The old value until the register's turn, the new one from then until its next turn.
    turns = [index for index, (read, _) in enumerate(seen) if read]
    assert len(turns) == 2
    assert [value for _, value in seen] == (
        [capacity] * turns[0] + [150] * (turns[1] - turns[0]) + [capacity] * (len(seen) - turns[1])
    )


async def test_after_a_failed_poll_everything_is_read_again(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    """The device may have restarted or had a pack swapped while it did not answer."""
    sim = running_simulator.simulator
    client = client_for(running_simulator, device_session)
    await client.poll()
    getdata_requests(sim)
    await steady_polls(client, sim, 2)
    sim.indevolt_faults.http_status = 500
    with pytest.raises(DeviceHttpStatusError):
        await client.poll()
    getdata_requests(sim)
    sim.indevolt_faults.http_status = None
    await client.poll()
    assert getdata_requests(sim) == [list(EVERYTHING[:50]), list(EVERYTHING[50:])]
    await steady_polls(client, sim, 1)


async def test_generation_1_reads_everything_in_one_request_every_poll(
    running_simulator: RunningSimulator, device_session: aiohttp.ClientSession
) -> None:
    """32 fast and 8 slow keys: the round robin takes all of them each time."""
    sim = running_simulator.simulator
    client = client_for(running_simulator, device_session)
    await client.poll()
    getdata_requests(sim)
    client.generation = 1
    polls = await steady_polls(client, sim, 3)
    assert polls == [list(POLL_REGISTERS_BY_GENERATION[1])] * 3


async def test_a_loaded_entry_polls_with_one_request_each_time(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    """What the entities and diagnostics see: every register, every poll."""
    sim = running_simulator.simulator
    coordinator = init_integration.runtime_data.coordinator
    present = set(coordinator.data.battery.registers)
    assert set(SLOW) & present == set(SLOW) - {
        register for pack in BATTERY_PACKS[2:] for register in pack.registers[1:]
    }
    sim.requests.clear()
    polls = []
    for _ in range(2 * READ_WITHIN_POLLS):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        [keys] = getdata_requests(sim)
        polls.append(keys)
        assert set(coordinator.data.battery.registers) == present
    assert_slow_registers_come_round(polls, FAST, SLOW, READ_WITHIN_POLLS)


@pytest.mark.parametrize("generation", [1, 2])
@pytest.mark.parametrize("write_every_poll", [False, True])
def test_the_plan_fits_one_request_and_comes_round(generation: int, write_every_poll: bool) -> None:
    plan = PollPlan(generation)
    fast = FAST_REGISTERS_BY_GENERATION[generation]
    slow = SLOW_REGISTERS_BY_GENERATION[generation]
    assert plan.next_keys() == (*fast, *slow)
    polls = []
    for _ in range(100):
        if write_every_poll:
            plan.read_settings_next()
        polls.append(list(plan.next_keys()))
    within = 1 if generation == 1 else READ_WITHIN_POLLS
    within = READ_WITHIN_POLLS_BEFORE if write_every_poll else within
    assert_slow_registers_come_round(polls, fast, slow, within)
    plan.read_everything_next()
    assert plan.next_keys() == (*fast, *slow)


def test_slow_units_keep_a_pack_together() -> None:
    units = slow_units(SLOW)
    assert [unit for unit in units if len(unit) > 1] == [pack.registers for pack in BATTERY_PACKS]
    assert sorted(register for unit in units for register in unit) == sorted(SLOW)
