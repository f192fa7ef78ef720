"""Discovery: a P1 meter or an Indevolt announced itself (zeroconf), or asked for an address (DHCP).

A known device that moved gets its new address in place: the entry's update listener moves
its client, and a running battery command goes on. A new device opens the set-up with its
address filled in (and that of a P1 meter another discovery flow offers).

Zeroconf and DHCP tell the IP address a device has now; only the P1 meter's `_hwenergy`
announcement also names its API port. The Indevolt's `_http._tcp` announcement (`igen_fw*`)
comes from its Wi-Fi module, not from OpenData (port 8080, as core `indevolt` also assumes),
so a moved Indevolt keeps the port of its stored address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, override

from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlow, ConfigFlowResult
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from .address import format_address, parse_address
from .const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_SERIAL,
    CONF_P1_HOST,
    CONF_P1_SERIAL,
    DOMAIN,
    INDEVOLT_DEFAULT_PORT,
    LOGGER,
    P1_DEFAULT_PORT,
)
from .devices.errors import AuthenticationError, DeviceError
from .devices.indevolt import IndevoltClient

P1_PRODUCT_TYPE = "HWE-P1"
INDEVOLT_SERVICE_TYPE = "_http._tcp.local."
ZEROCONF_LOCAL_SUFFIX = ".local."
# A flow offering a discovered P1 meter is keyed on this prefix and the meter's serial.
P1_FLOW_PREFIX = "p1_"
# As the set-up's connection test: the user is waiting for the discovery card, not a poll.
PROBE_TIMEOUT_S = 10.0


def join_address(host: str, port: int, default_port: int) -> str:
    """`host` and `port` as stored: the port left out when it is the default, IPv6 bracketed."""
    text = f"[{host}]" if ":" in host else host
    return text if port == default_port else f"{text}:{port}"


def address_at_host(stored: str, host: str, default_port: int) -> str:
    """The stored address with its host replaced by `host` and its port kept."""
    try:
        _, port = parse_address(stored, default_port)
    except ValueError:
        port = default_port
    return join_address(host, port, default_port)


def same_address(stored: str, announced: str, default_port: int) -> bool:
    """Whether two addresses name the same host and port (an invalid stored one never does)."""
    try:
        return parse_address(stored, default_port) == parse_address(announced, default_port)
    except ValueError:
        return False


def serial_from_hostname(hostname: str) -> str | None:
    """The serial an Indevolt announces as its mDNS host name `<serial>.local.`; else None."""
    serial = hostname.removesuffix(ZEROCONF_LOCAL_SUFFIX)
    if serial == hostname or not serial or "." in serial:
        return None
    return serial


@dataclass(frozen=True, slots=True)
class DiscoveredIndevolt:
    """An Indevolt that announced itself: where it is and what it said it is."""

    address: str
    serial: str
    model: str | None


class DiscoveryFlow(ConfigFlow):
    """The discovery steps of the config flow; the subclass provides `async_step_user`."""

    def __init__(self) -> None:
        """Start with nothing discovered."""
        self._discovered_p1_host: str | None = None
        self._discovered_indevolt: DiscoveredIndevolt | None = None

    def _discovered_addresses(self) -> dict[str, str]:
        """The addresses the set-up form starts with: what this or another flow discovered."""
        addresses: dict[str, str] = {}
        if p1_host := self._discovered_p1_host or self._p1_host_in_progress():
            addresses[CONF_P1_HOST] = p1_host
        if self._discovered_indevolt is not None:
            addresses[CONF_INDEVOLT_HOST] = self._discovered_indevolt.address
        return addresses

    def _p1_host_in_progress(self) -> str | None:
        """The address of a P1 meter another discovery flow offers, if any."""
        for flow in self._async_in_progress():
            context = flow["context"]
            if (context.get("unique_id") or "").startswith(P1_FLOW_PREFIX) and (
                url := context.get("configuration_url")
            ):
                return format_address(url)
        return None

    def _async_abort_p1_offer(self, p1_serial: str) -> None:
        """End another flow offering this P1 meter: it now belongs to the entry being created."""
        for flow in self._async_in_progress(
            match_context={"unique_id": f"{P1_FLOW_PREFIX}{p1_serial}"}
        ):
            self.hass.config_entries.flow.async_abort(flow["flow_id"])

    def _async_move(
        self, entry: ConfigEntry, field: str, address: str, default_port: int
    ) -> ConfigFlowResult:
        """A known device announced itself: store a new address, then abort.

        Announced at every start, Wi-Fi reconnect, DHCP renewal and mDNS refresh: only a new
        address changes anything. A loaded entry's update listener moves the client in place
        (a running battery command goes on); an entry waiting to retry is reloaded.
        """
        if not same_address(entry.data[field], address, default_port):
            self.hass.config_entries.async_update_entry(entry, data={**entry.data, field: address})
            if entry.state is ConfigEntryState.SETUP_RETRY:
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(reason="already_configured")

    @override
    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A P1 meter or an Indevolt announced itself: update a known one, or offer set-up."""
        if discovery_info.type == INDEVOLT_SERVICE_TYPE:
            return await self._async_discovered_indevolt(discovery_info)
        properties = discovery_info.properties
        serial = properties.get("serial")
        if properties.get("product_type") != P1_PRODUCT_TYPE or not serial:
            return self.async_abort(reason="not_p1_meter")
        if properties.get("api_enabled") != "1":
            return self.async_abort(reason="api_disabled")
        p1_host = join_address(
            discovery_info.host, discovery_info.port or P1_DEFAULT_PORT, P1_DEFAULT_PORT
        )
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_P1_SERIAL) == serial:
                return self._async_move(entry, CONF_P1_HOST, p1_host, P1_DEFAULT_PORT)
        # Keyed on the meter until the battery (the entry's real unique id) is known, so the
        # same meter is offered once.
        await self.async_set_unique_id(f"{P1_FLOW_PREFIX}{serial}")
        self._abort_if_unique_id_configured()
        self._discovered_p1_host = p1_host
        self.context["title_placeholders"] = {"name": f"P1 meter ({discovery_info.host})"}
        # Also where a discovered Indevolt's set-up finds the meter's address.
        self.context["configuration_url"] = f"http://{p1_host}"
        return await self.async_step_user()

    async def _async_discovered_indevolt(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """An Indevolt announced itself as `<serial>.local.`: move a known one, or offer it."""
        serial = serial_from_hostname(discovery_info.hostname)
        if serial is None:
            return self.async_abort(reason="not_indevolt")
        for entry in self._async_current_entries(include_ignore=False):
            if serial.casefold() in (
                str(entry.unique_id).casefold(),
                str(entry.data.get(CONF_INDEVOLT_SERIAL)).casefold(),
            ):
                address = address_at_host(
                    entry.data[CONF_INDEVOLT_HOST], discovery_info.host, INDEVOLT_DEFAULT_PORT
                )
                return self._async_move(entry, CONF_INDEVOLT_HOST, address, INDEVOLT_DEFAULT_PORT)
        await self.async_set_unique_id(serial)
        self._abort_if_unique_id_configured()
        address = join_address(discovery_info.host, INDEVOLT_DEFAULT_PORT, INDEVOLT_DEFAULT_PORT)
        client = IndevoltClient(
            async_get_clientsession(self.hass),
            discovery_info.host,
            INDEVOLT_DEFAULT_PORT,
            timeout_s=PROBE_TIMEOUT_S,
        )
        model: str | None = None
        try:
            info = await client.get_config()
        except AuthenticationError:
            # A password is set: the user step asks for it; the model shows once connected.
            pass
        except DeviceError as err:
            LOGGER.debug("Discovered Indevolt at %s does not answer: %s", address, err)
            return self.async_abort(reason="cannot_connect")
        else:
            model = info.model
        self._discovered_indevolt = DiscoveredIndevolt(address, serial, model)
        self.context["title_placeholders"] = {
            "name": f"Indevolt {model or serial} ({discovery_info.host})"
        }
        return await self.async_step_indevolt_confirm()

    async def async_step_indevolt_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the discovered Indevolt; on confirmation ask for the rest of the set-up."""
        discovered = self._discovered_indevolt
        assert discovered is not None  # only reached from the Indevolt discovery
        if user_input is not None:
            return await self.async_step_user()
        self._set_confirm_only()
        return self.async_show_form(
            step_id="indevolt_confirm",
            description_placeholders={
                "model": discovered.model or "Indevolt",
                "serial": discovered.serial,
                "host": discovered.address,
            },
        )

    @override
    async def async_step_dhcp(self, discovery_info: DhcpServiceInfo) -> ConfigFlowResult:
        """A registered device (by its MAC) asked for an address: follow it if it moved.

        Both devices are registered with their MAC; the device's identifiers tell which of
        the entry's two addresses it is. Nothing is sent to the device.
        """
        connection = (dr.CONNECTION_NETWORK_MAC, dr.format_mac(discovery_info.macaddress))
        registry = dr.async_get(self.hass)
        for entry in self._async_current_entries(include_ignore=False):
            device = registry.async_get_device_by_connection(connection, entry.entry_id)
            if device is None:
                continue
            if (DOMAIN, entry.data.get(CONF_P1_SERIAL)) in device.identifiers:
                field, port = CONF_P1_HOST, P1_DEFAULT_PORT
            else:
                field, port = CONF_INDEVOLT_HOST, INDEVOLT_DEFAULT_PORT
            address = address_at_host(entry.data[field], discovery_info.ip, port)
            return self._async_move(entry, field, address, port)
        return self.async_abort(reason="not_registered")
