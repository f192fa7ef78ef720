"""Diagnostics: entry, device identities, the last epoch, controller and optimiser state.

Private data is redacted by key, and the configured hosts wherever they appear in a text (an
error text such as `Cannot connect to host 192.168.1.20:8080` carries one).
"""

from __future__ import annotations

from dataclasses import asdict
import re
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant

from .address import parse_address
from .const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_INDEVOLT_SERIAL,
    CONF_P1_HOST,
    CONF_P1_SERIAL,
    INDEVOLT_DEFAULT_PORT,
    P1_DEFAULT_PORT,
)
from .runtime_data import EmsConfigEntry

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
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    controller = runtime.controller
    optimiser = runtime.optimiser
    data = coordinator.data
    forced = controller.forced_command
    decision = optimiser.last_decision
    diagnostics = {
        "entry": {
            "data": dict(entry.data),
            "options": dict(entry.options),
            "title": entry.title,
        },
        "p1_device": None if coordinator.p1_device is None else asdict(coordinator.p1_device),
        "battery_device": None
        if coordinator.battery_info is None
        else asdict(coordinator.battery_info),
        "last_cycle_s": coordinator.last_cycle_s,
        "last_update_success": coordinator.last_update_success,
        "p1": None
        if data.p1 is None
        else {
            "values": dict(data.p1.values),
            "external": [asdict(m) for m in data.p1.external],
            "invalid_keys": sorted(data.p1.invalid_keys),
        },
        "battery": None
        if data.battery is None
        else {str(register): value for register, value in data.battery.registers.items()},
        "battery_invalid_registers": None
        if data.battery is None
        else sorted(data.battery.invalid_registers),
        "p1_error": data.p1_error,
        "battery_error": data.battery_error,
        "reconciliation": asdict(data.reconciliation),
        "controller": {
            "forced_command": None if forced is None else asdict(forced),
            "restore_pending": controller.restore_pending,
        },
        "optimiser": {
            "enabled": optimiser.enabled,
            "dry_run": optimiser.dry_run,
            "status": optimiser.status.value,
            "detail": optimiser.status_detail,
            "last_command": None if decision is None else asdict(decision.command),
        },
    }
    hosts = {
        parse_address(entry.data[CONF_P1_HOST], P1_DEFAULT_PORT)[0],
        parse_address(entry.data[CONF_INDEVOLT_HOST], INDEVOLT_DEFAULT_PORT)[0],
    }
    redacted: dict[str, Any] = _redact_text(
        async_redact_data(diagnostics, TO_REDACT), _any_of(hosts)
    )
    return redacted


def _any_of(texts: set[str]) -> re.Pattern[str]:
    """A pattern matching any of `texts` literally (longest first, so none hides another)."""
    return re.compile("|".join(re.escape(text) for text in sorted(texts, key=len, reverse=True)))


def _redact_text(value: Any, pattern: re.Pattern[str]) -> Any:
    """`value` with every match of `pattern` in any string (keys included) redacted."""
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, dict):
        return {_redact_text(k, pattern): _redact_text(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_text(item, pattern) for item in value]
    return value
