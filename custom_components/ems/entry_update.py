"""Changes to a loaded entry are applied in place: a reload would end a running battery command.

Home Assistant calls an entry's update listener after its data or options change:
- options (the poll interval and the request method; the others are read at each use) apply
  to the running coordinator;
- a device's new address (the P1 meter rediscovered elsewhere, a reconfigure) moves its client
  there: the next request goes to the new address, and the battery is not touched;
- a new Indevolt password (re-authentication) reloads the entry. The listener schedules that
  reload: Home Assistant (2026.12) wants an entry with an update listener reloaded by it, not
  by the flow.
"""

from __future__ import annotations

from typing import Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .address import parse_address
from .const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_P1_HOST,
    CONF_POLL_INTERVAL,
    CONF_REQUEST_METHOD,
    INDEVOLT_DEFAULT_PORT,
    LOGGER,
    P1_DEFAULT_PORT,
)
from .options import entry_options
from .runtime_data import EmsConfigEntry


class _DeviceClient(Protocol):
    host: str
    port: int

    def set_address(self, host: str, port: int) -> None: ...


@callback
def async_watch_entry_updates(entry: EmsConfigEntry) -> None:
    """Apply each later change of `entry` to its running objects (until it unloads)."""
    password = entry.data.get(CONF_INDEVOLT_PASSWORD)

    async def async_entry_updated(hass: HomeAssistant, _: ConfigEntry) -> None:
        if entry.data.get(CONF_INDEVOLT_PASSWORD) != password:
            LOGGER.debug("The Indevolt password changed; reloading %s", entry.title)
            hass.config_entries.async_schedule_reload(entry.entry_id)
            return
        async_apply_entry_update(entry)

    entry.async_on_unload(entry.add_update_listener(async_entry_updated))


@callback
def async_apply_entry_update(entry: EmsConfigEntry) -> None:
    """Point the clients at the entry's addresses and apply its options, without a reload."""
    coordinator = entry.runtime_data.coordinator
    _move(coordinator.p1, "P1 meter", entry.data[CONF_P1_HOST], P1_DEFAULT_PORT)
    _move(coordinator.indevolt, "Indevolt", entry.data[CONF_INDEVOLT_HOST], INDEVOLT_DEFAULT_PORT)
    options = entry_options(entry)
    coordinator.indevolt.method = str(options[CONF_REQUEST_METHOD])
    coordinator.set_poll_interval(float(options[CONF_POLL_INTERVAL]))
    coordinator.async_update_listeners()


def _move(client: _DeviceClient, name: str, address: str, default_port: int) -> None:
    # Stored addresses were validated by the config flow, so this parse does not fail.
    host, port = parse_address(address, default_port)
    if (host, port) != (client.host, client.port):
        LOGGER.info("%s moved from %s:%s to %s:%s", name, client.host, client.port, host, port)
        client.set_address(host, port)
