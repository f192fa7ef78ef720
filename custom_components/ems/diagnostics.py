"""Diagnostics: entry, device identities and the last epoch, with private data redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_INDEVOLT_SERIAL,
    CONF_P1_HOST,
    CONF_P1_SERIAL,
)
from .coordinator import EmsConfigEntry

TO_REDACT = {
    CONF_P1_HOST,
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_P1_SERIAL,
    CONF_INDEVOLT_SERIAL,
    "serial",
    "mac",
    "host",
    "wifi_ssid",
    "unique_id",
    "gas_unique_id",
    "unique_entry_id",
    "0",
    "title",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EmsConfigEntry
) -> dict[str, Any]:
    """Return what helps to debug this entry, without anything that identifies the home."""
    coordinator = entry.runtime_data.coordinator
    data = coordinator.data
    return async_redact_data(
        {
            "entry": {
                "data": dict(entry.data),
                "options": dict(entry.options),
                "title": entry.title,
            },
            "p1_device": asdict(coordinator.p1_device),
            "battery_device": asdict(coordinator.battery_info),
            "last_cycle_s": coordinator.last_cycle_s,
            "last_update_success": coordinator.last_update_success,
            "p1": None
            if data.p1 is None
            else {
                "values": dict(data.p1.values),
                "external": [asdict(m) for m in data.p1.external],
            },
            "battery": None
            if data.battery is None
            else {str(register): value for register, value in data.battery.registers.items()},
            "p1_error": data.p1_error,
            "battery_error": data.battery_error,
            "reconciliation": asdict(data.reconciliation),
        },
        TO_REDACT,
    )
