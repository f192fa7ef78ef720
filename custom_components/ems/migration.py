"""Config entry migration: every registry id keyed on what the entry stored at creation.

Up to version 1.1, unique ids and the battery's device identifier followed the serial read from
the battery at each set-up, which falls back to the MAC while register 0 is missing. From 1.2
they follow the entry's unique id (the battery serial at creation) and the stored P1 serial;
entities and devices registered under another serial are re-keyed, so they keep their entity
ids and their history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import CONF_INDEVOLT_SERIAL, CONF_P1_SERIAL, DOMAIN, LOGGER
from .p1_sensors import P1_SENSORS
from .sensor import DERIVED_SENSORS, REGISTER_SENSORS

CURRENT_MINOR_VERSION: Final = 2
# Sensor keys that were keyed on a device's serial (longest first: the most specific suffix).
_BATTERY_KEYS: Final = sorted(
    [description.key for description in REGISTER_SENSORS]
    + [description.key for description in DERIVED_SENSORS if description.key == "battery_power"],
    key=len,
    reverse=True,
)
_P1_KEYS: Final = sorted((description.key for description in P1_SENSORS), key=len, reverse=True)


async def async_migrate(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Migrate `entry` to the current minor version (Home Assistant refuses a newer major)."""
    if entry.minor_version < CURRENT_MINOR_VERSION:
        battery_id = entry.unique_id or str(entry.data[CONF_INDEVOLT_SERIAL])
        p1_id = str(entry.data[CONF_P1_SERIAL])
        await er.async_migrate_entries(
            hass, entry.entry_id, _rekey_entity(er.async_get(hass), battery_id, p1_id)
        )
        _rekey_battery_device(dr.async_get(hass), entry.entry_id, battery_id)
        hass.config_entries.async_update_entry(entry, minor_version=CURRENT_MINOR_VERSION)
    return True


def _rekey_entity(
    registry: er.EntityRegistry, battery_id: str, p1_id: str
) -> Callable[[er.RegistryEntry], dict[str, Any] | None]:
    @callback
    def rekey(entity: er.RegistryEntry) -> dict[str, Any] | None:
        if entity.domain != Platform.SENSOR:
            return None
        for keys, prefix in ((_BATTERY_KEYS, battery_id), (_P1_KEYS, p1_id)):
            key = next((k for k in keys if entity.unique_id.endswith(f"_{k}")), None)
            if key is None:
                continue
            unique_id = f"{prefix}_{key}"
            if unique_id == entity.unique_id:
                return None
            if registry.async_get_entity_id(entity.domain, DOMAIN, unique_id) is not None:
                # A duplicate created under a fallback serial: the original keeps the id.
                LOGGER.debug("Not re-keying %s: %s exists", entity.entity_id, unique_id)
                return None
            return {"new_unique_id": unique_id}
        return None

    return rekey


def _rekey_battery_device(registry: dr.DeviceRegistry, entry_id: str, battery_id: str) -> None:
    if registry.async_get_device_by_identifier((DOMAIN, battery_id), entry_id) is not None:
        return
    for device in dr.async_entries_for_config_entry(registry, entry_id):
        if device.manufacturer == "Indevolt":
            registry.async_update_device(device.id, new_identifiers={(DOMAIN, battery_id)})
            return
