"""ems: a HomeWizard P1 meter and an Indevolt battery as one energy management system."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .address import parse_address
from .const import (
    CONF_INDEVOLT_GENERATION,
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_P1_HOST,
    CONF_REQUEST_METHOD,
    DOMAIN,
    INDEVOLT_DEFAULT_PORT,
    P1_DEFAULT_PORT,
)
from .control_store import ControlStore, FeedInLimitStore
from .controller import BatteryController
from .coordinator import EmsCoordinator
from .devices.indevolt import IndevoltClient
from .devices.indevolt_registers import GENERATION_2
from .devices.p1 import P1Client
from .entry_update import async_watch_entry_updates
from .migration import async_migrate
from .optimiser import Optimiser, async_remove_forecast_log
from .options import entry_options
from .plan_card import async_register_plan_card
from .repair_issues import async_delete_all
from .runtime_data import EmsConfigEntry, EmsRuntimeData
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration (actions and the plan card are registered here, once)."""
    async_setup_services(hass)
    await async_register_plan_card(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: EmsConfigEntry) -> bool:
    """Re-key the registry entries on the stored serials (see migration.py)."""
    return await async_migrate(hass, entry)


async def async_setup_entry(hass: HomeAssistant, entry: EmsConfigEntry) -> bool:
    """Connect to both devices, poll them once, and create the entities."""
    session = async_get_clientsession(hass)
    options = entry_options(entry)
    p1 = P1Client(session, *parse_address(entry.data[CONF_P1_HOST], P1_DEFAULT_PORT))
    indevolt = IndevoltClient(
        session,
        *parse_address(entry.data[CONF_INDEVOLT_HOST], INDEVOLT_DEFAULT_PORT),
        password=entry.data.get(CONF_INDEVOLT_PASSWORD),
        method=str(options[CONF_REQUEST_METHOD]),
        generation=int(entry.data.get(CONF_INDEVOLT_GENERATION, GENERATION_2)),
    )
    coordinator = EmsCoordinator(hass, entry, p1, indevolt)
    controller = BatteryController(hass, entry, coordinator)
    # Before the first poll: undoing a command left behind needs the Indevolt only.
    await controller.async_restore_left_behind()
    await coordinator.async_config_entry_first_refresh()
    optimiser = Optimiser(hass, entry, coordinator, controller)
    entry.runtime_data = EmsRuntimeData(coordinator, controller, optimiser)
    # Before the controller's: at Home Assistant's stop the feed-in limit goes back through the
    # controller, which refuses writes once its own stop has begun.
    await optimiser.feed_in.async_setup()
    await controller.async_setup()
    optimiser.async_setup()
    async_watch_entry_updates(entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EmsConfigEntry) -> bool:
    """Give back what ems changed on the battery (mode, feed-in limit), unload the entities."""
    optimiser = entry.runtime_data.optimiser
    optimiser.async_shutdown()
    await optimiser.feed_in.async_give_back("the entry is unloading", final=True)
    await entry.runtime_data.controller.async_shutdown("the entry is unloading")
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EmsConfigEntry) -> None:
    """Delete the entry's stored battery records, forecast log and repair issues."""
    await ControlStore(hass, entry.entry_id).async_remove()
    await FeedInLimitStore(hass, entry.entry_id).async_remove()
    await async_remove_forecast_log(hass, entry.entry_id)
    async_delete_all(hass, entry)
