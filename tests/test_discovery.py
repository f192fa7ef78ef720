"""Discovery of the Indevolt (zeroconf `igen_fw*`) and DHCP of registered devices, over HTTP.

Only 127.0.0.1 may be used, so a device "moves" to `::ffff:127.0.0.1`: 127.0.0.1 written as an
IPv4-mapped IPv6 address, a different host to the client and the same simulator on the wire;
the simulator's request log tells the two apart by the Host header.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address
from unittest.mock import patch

from homeassistant.config_entries import (
    SOURCE_DHCP,
    SOURCE_ZEROCONF,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import pytest_socket

from custom_components.ems.const import CONF_INDEVOLT_HOST, CONF_P1_HOST, DOMAIN
from custom_components.ems.discovery import address_at_host, serial_from_hostname
from ems_simulator import RunningSimulator, Simulator

from .conftest import INDEVOLT_SERIAL, P1_SERIAL
from .test_entry_updates import announcement as p1_announcement
from .test_services import call, writes

MOVED_HOST = "::ffff:127.0.0.1"
BATTERY_MAC = "7C3E82EF997F"  # the simulator's Sys.GetConfig `mac`


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


@pytest.fixture(autouse=True)
def mapped_loopback(socket_enabled: None) -> Iterator[None]:
    """Let the client reach 127.0.0.1 as `::ffff:127.0.0.1` as well (nothing else)."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", MOVED_HOST])
    yield
    pytest_socket.socket_allow_hosts(["127.0.0.1"])


@pytest.fixture
def indevolt_default_port(running_simulator: RunningSimulator) -> Iterator[int]:
    """The simulated Indevolt listens where a real one does: on the default port."""
    port = running_simulator.indevolt_port
    with (
        patch("custom_components.ems.discovery.INDEVOLT_DEFAULT_PORT", port),
        patch("custom_components.ems.config_flow.INDEVOLT_DEFAULT_PORT", port),
    ):
        yield port


def indevolt_announcement(host: str = "127.0.0.1", serial: str = INDEVOLT_SERIAL):
    return ZeroconfServiceInfo(
        ip_address=ip_address(host),
        ip_addresses=[ip_address(host)],
        hostname=f"{serial}.local.",
        name="IGEN_FW_7C3E82EF997F._http._tcp.local.",
        port=80,
        type="_http._tcp.local.",
        properties={},
    )


async def discover(hass: HomeAssistant, source: str, info: object) -> dict:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": source}, data=info
    )
    await hass.async_block_till_done()
    return result


def suggested(result: dict) -> dict[str, str]:
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


def indevolt_hosts(simulator: Simulator) -> list[str]:
    return [r.host for r in simulator.requests if r.device == "indevolt"]


# -- a new Indevolt -------------------------------------------------------------------------


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_new_indevolt_opens_setup_prefilled(
    hass: HomeAssistant,
    running_simulator: RunningSimulator,
    indevolt_default_port: int,
) -> None:
    # The meter announced itself first: its discovery flow waits for the battery.
    p1_flow = await discover(hass, SOURCE_ZEROCONF, p1_announcement(running_simulator.p1_port))
    assert p1_flow["step_id"] == "user"

    result = await discover(hass, SOURCE_ZEROCONF, indevolt_announcement())
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "indevolt_confirm"
    assert result["description_placeholders"] == {
        "model": "CMS-SF2000",
        "serial": INDEVOLT_SERIAL,
        "host": "127.0.0.1",
    }
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert flow["context"]["title_placeholders"] == {"name": "Indevolt CMS-SF2000 (127.0.0.1)"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "user"
    addresses = suggested(result)
    assert addresses == {
        CONF_P1_HOST: f"127.0.0.1:{running_simulator.p1_port}",
        CONF_INDEVOLT_HOST: "127.0.0.1",
    }
    with patch("custom_components.ems.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], addresses)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == INDEVOLT_SERIAL
    assert result["data"][CONF_INDEVOLT_HOST] == "127.0.0.1"
    # The meter's own offer is taken care of: no second card for a meter now in use.
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_password_protected_indevolt_is_offered_by_serial(
    hass: HomeAssistant, sim: Simulator, indevolt_default_port: int
) -> None:
    sim.indevolt_faults.password = "secret"
    result = await discover(hass, SOURCE_ZEROCONF, indevolt_announcement())
    assert result["step_id"] == "indevolt_confirm"
    assert result["description_placeholders"]["model"] == "Indevolt"
    assert result["description_placeholders"]["serial"] == INDEVOLT_SERIAL


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_unreachable_indevolt_is_not_offered(
    hass: HomeAssistant, sim: Simulator, indevolt_default_port: int
) -> None:
    sim.indevolt_faults.off = True
    result = await discover(hass, SOURCE_ZEROCONF, indevolt_announcement())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_announcement_without_serial_host_name_is_ignored(hass: HomeAssistant) -> None:
    info = indevolt_announcement()
    info.hostname = "igen-module.lan."
    result = await discover(hass, SOURCE_ZEROCONF, info)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_indevolt"


# -- a known Indevolt -----------------------------------------------------------------------


async def test_moved_indevolt_during_a_charge_is_followed_in_place(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    port = coordinator.indevolt.port
    await call(hass, "charge", power=1000, target_soc=90)
    assert sim.model.mode == 4
    sim.requests.clear()

    result = await discover(hass, SOURCE_ZEROCONF, indevolt_announcement(MOVED_HOST))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert init_integration.data[CONF_INDEVOLT_HOST] == f"[{MOVED_HOST}]:{port}"
    # Moved in place: no reload, no request, the charge goes on.
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.coordinator is coordinator
    assert sim.requests == []
    assert init_integration.runtime_data.controller.forced_command is not None

    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert indevolt_hosts(sim) == [f"[{MOVED_HOST}]:{port}"]
    assert coordinator.data.battery is not None
    assert writes(sim) == []  # no 47005 (nor anything else) written
    assert sim.model.mode == 4


async def test_indevolt_at_the_same_address_changes_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    data_before = dict(init_integration.data)
    sim.requests.clear()
    result = await discover(hass, SOURCE_ZEROCONF, indevolt_announcement())
    assert result["reason"] == "already_configured"
    assert sim.requests == []
    assert dict(init_integration.data) == data_before


async def test_known_indevolt_waiting_to_retry_is_reloaded_at_its_new_address(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    port = running_simulator.indevolt_port
    running_simulator.simulator.p1_faults.off = True
    running_simulator.simulator.indevolt_faults.off = True
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    running_simulator.simulator.p1_faults.off = False
    running_simulator.simulator.indevolt_faults.off = False

    await discover(hass, SOURCE_ZEROCONF, indevolt_announcement(MOVED_HOST))

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.runtime_data.coordinator.indevolt.host == MOVED_HOST
    assert mock_config_entry.data[CONF_INDEVOLT_HOST] == f"[{MOVED_HOST}]:{port}"


# -- DHCP of registered devices -------------------------------------------------------------


def dhcp(ip: str, mac: str) -> DhcpServiceInfo:
    return DhcpServiceInfo(ip=ip, hostname="", macaddress=mac.lower().replace(":", ""))


async def test_battery_device_is_registered_with_its_mac(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, INDEVOLT_SERIAL), init_integration.entry_id
    )
    assert device is not None
    assert (dr.CONNECTION_NETWORK_MAC, dr.format_mac(BATTERY_MAC)) in device.connections


async def test_dhcp_moves_the_battery_during_a_charge(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    port = coordinator.indevolt.port
    await call(hass, "charge", power=1000, target_soc=90)
    sim.requests.clear()

    result = await discover(hass, SOURCE_DHCP, dhcp(MOVED_HOST, BATTERY_MAC))

    assert result["reason"] == "already_configured"
    assert init_integration.data[CONF_INDEVOLT_HOST] == f"[{MOVED_HOST}]:{port}"
    assert init_integration.data[CONF_P1_HOST] == f"127.0.0.1:{coordinator.p1.port}"
    assert sim.requests == []
    await coordinator.async_refresh()
    assert indevolt_hosts(sim) == [f"[{MOVED_HOST}]:{port}"]
    assert writes(sim) == []
    assert init_integration.runtime_data.controller.forced_command is not None


async def test_dhcp_moves_the_meter(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    port = coordinator.p1.port
    result = await discover(hass, SOURCE_DHCP, dhcp(MOVED_HOST, P1_SERIAL))
    assert result["reason"] == "already_configured"
    assert init_integration.data[CONF_P1_HOST] == f"[{MOVED_HOST}]:{port}"
    assert coordinator.p1.host == MOVED_HOST
    assert init_integration.data[CONF_INDEVOLT_HOST] == f"127.0.0.1:{coordinator.indevolt.port}"


async def test_dhcp_renewal_at_the_same_address_sends_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    data_before = dict(init_integration.data)
    sim.requests.clear()
    result = await discover(hass, SOURCE_DHCP, dhcp("127.0.0.1", BATTERY_MAC))
    assert result["reason"] == "already_configured"
    assert sim.requests == []
    assert dict(init_integration.data) == data_before


async def test_dhcp_of_an_unknown_device_is_ignored(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    result = await discover(hass, SOURCE_DHCP, dhcp("127.0.0.1", "aa:bb:cc:dd:ee:ff"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_registered"


# -- addresses (pure) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "host", "expected"),
    [
        ("10.0.0.5", "10.0.0.7", "10.0.0.7"),
        ("10.0.0.5:8081", "10.0.0.7", "10.0.0.7:8081"),
        ("indevolt.lan", "fe80::1", "[fe80::1]"),
        # A damaged stored address takes the default port.
        ("bad host!", "10.0.0.7", "10.0.0.7"),
    ],
)
def test_a_moved_device_keeps_its_stored_port(stored: str, host: str, expected: str) -> None:
    assert address_at_host(stored, host, 8080) == expected


@pytest.mark.parametrize(
    ("hostname", "serial"),
    [("SF2000ABC.local.", "SF2000ABC"), ("SF2000ABC.lan.", None), ("a.b.local.", None)],
)
def test_serial_from_hostname(hostname: str, serial: str | None) -> None:
    assert serial_from_hostname(hostname) == serial
