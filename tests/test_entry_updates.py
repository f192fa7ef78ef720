"""Changes to a loaded entry (rediscovery, reconfigure, reauth) never disturb a running command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from ipaddress import ip_address

from homeassistant.config_entries import SOURCE_ZEROCONF, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_P1_HOST,
    CONF_POLL_INTERVAL,
    DOMAIN,
)
from ems_simulator import RunningSimulator, Simulator, serve

from .conftest import P1_SERIAL, SIM_START, FakeClock
from .test_options import form_input
from .test_services import call, writes

DEPRECATION = "has an update listener and should use it for scheduling a reload"


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


@pytest.fixture
async def moved_simulator(
    running_simulator: RunningSimulator, sim_clock: FakeClock
) -> AsyncIterator[RunningSimulator]:
    """A second pair of devices on other ports: where the meter "moved" to."""
    async with serve(Simulator(clock=sim_clock, start=SIM_START)) as running:
        yield running


def announcement(port: int) -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="p1meter-aabbcc.local.",
        name="p1meter-aabbcc._hwenergy._tcp.local.",
        port=port,
        type="_hwenergy._tcp.local.",
        properties={
            "api_enabled": "1",
            "path": "/api/v1",
            "product_type": "HWE-P1",
            "serial": P1_SERIAL,
        },
    )


async def announce(hass: HomeAssistant, port: int) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=announcement(port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


def p1_polls(simulator: Simulator) -> int:
    return sum(1 for r in simulator.requests if r.device == "p1" and r.path == "/api/v1/data")


async def test_rediscovery_at_the_same_address_changes_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = running_simulator.simulator
    coordinator = init_integration.runtime_data.coordinator
    await call(hass, "charge", power=1000, target_soc=90)
    data_before = dict(init_integration.data)
    sim.requests.clear()

    await announce(hass, running_simulator.p1_port)

    assert sim.requests == []
    assert sim.model.mode == 4
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.coordinator is coordinator
    assert dict(init_integration.data) == data_before
    assert DEPRECATION not in caplog.text


async def test_rediscovery_at_a_new_address_moves_the_client_in_place(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    moved_simulator: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = running_simulator.simulator
    coordinator = init_integration.runtime_data.coordinator
    await call(hass, "charge", power=1000, target_soc=90)
    sim.requests.clear()

    await announce(hass, moved_simulator.p1_port)

    assert init_integration.data[CONF_P1_HOST] == f"127.0.0.1:{moved_simulator.p1_port}"
    assert init_integration.runtime_data.coordinator is coordinator
    assert writes(sim) == []
    assert sim.model.mode == 4
    assert init_integration.runtime_data.controller.forced_command is not None

    sim.requests.clear()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert p1_polls(moved_simulator.simulator) == 1
    assert p1_polls(sim) == 0
    assert writes(sim) == []
    assert DEPRECATION not in caplog.text


async def test_reconfigure_of_a_loaded_entry_applies_in_place(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    running_simulator: RunningSimulator,
    moved_simulator: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = running_simulator.simulator
    coordinator = init_integration.runtime_data.coordinator
    await call(hass, "charge", power=1000, target_soc=90)
    sim.requests.clear()

    result = await init_integration.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_P1_HOST: f"127.0.0.1:{moved_simulator.p1_port}",
            CONF_INDEVOLT_HOST: init_integration.data[CONF_INDEVOLT_HOST],
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert init_integration.runtime_data.coordinator is coordinator
    assert coordinator.p1.port == moved_simulator.p1_port
    assert writes(sim) == []
    assert DEPRECATION not in caplog.text


async def test_options_of_a_loaded_entry_apply_in_place(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    await call(hass, "charge", power=1000, target_soc=90)
    sim.requests.clear()
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form_input({**init_integration.options, CONF_POLL_INTERVAL: 9})
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.runtime_data.coordinator is coordinator
    assert coordinator.update_interval == timedelta(seconds=9)
    assert writes(sim) == []
    assert sim.model.mode == 4
    assert DEPRECATION not in caplog.text


async def test_reauth_of_a_loaded_entry_reloads_without_deprecation(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    sim.indevolt_faults.password = "new"
    result = await init_integration.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_INDEVOLT_PASSWORD: "new"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert init_integration.data[CONF_INDEVOLT_PASSWORD] == "new"
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.coordinator is not coordinator
    assert DEPRECATION not in caplog.text


async def test_reauth_of_an_entry_that_failed_to_load_reloads_it(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
) -> None:
    # With the meter answering the entry would load and ask for the password while running;
    # with the meter down too, the 401 fails the set-up.
    sim.indevolt_faults.password = "new"
    sim.p1_faults.off = True
    mock_config_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_INDEVOLT_PASSWORD: "new"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"
    assert mock_config_entry.state is ConfigEntryState.LOADED


async def test_rediscovery_of_an_entry_that_lost_its_meter_finds_it(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    moved_simulator: RunningSimulator,
) -> None:
    # The meter moved while Home Assistant was down: nothing answers at the stored address.
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_P1_HOST: "127.0.0.1:9"}
    )
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    await announce(hass, moved_simulator.p1_port)

    assert mock_config_entry.state is ConfigEntryState.LOADED
    coordinator = mock_config_entry.runtime_data.coordinator
    assert coordinator.p1.port == moved_simulator.p1_port
    await coordinator.async_refresh()
    assert coordinator.data.p1 is not None
