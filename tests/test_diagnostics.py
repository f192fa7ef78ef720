"""Diagnostics: useful, and nothing that identifies the home."""

from __future__ import annotations

from datetime import timedelta
import json
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.diagnostics import async_get_config_entry_diagnostics

from .conftest import INDEVOLT_SERIAL, P1_SERIAL


async def test_diagnostics_are_redacted(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    diagnostics = await async_get_config_entry_diagnostics(hass, init_integration)
    text = json.dumps(diagnostics, default=str)
    for secret in (INDEVOLT_SERIAL, P1_SERIAL, "127.0.0.1", "7C3E82EF997F", "My Wi-Fi"):
        assert secret not in text, secret
    assert diagnostics["entry"]["data"]["p1_host"] == "**REDACTED**"
    assert diagnostics["battery"]["6002"] == 50
    assert diagnostics["battery"]["0"] == "**REDACTED**"
    assert diagnostics["p1"]["values"]["active_power_w"] is not None
    assert diagnostics["reconciliation"]["status"] == "ok"
    assert diagnostics["last_cycle_s"] >= 0
    assert diagnostics["p1_error"] is None


async def test_diagnostics_with_a_failed_device(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator
) -> None:
    running_simulator.simulator.indevolt_faults.http_status = 500
    await init_integration.runtime_data.coordinator.async_refresh()
    diagnostics = await async_get_config_entry_diagnostics(hass, init_integration)
    assert diagnostics["battery"] is None
    assert "500" in diagnostics["battery_error"]


async def test_hosts_redacted_in_error_texts(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The clients' texts carry no address; a text that does (a bug's, a library's) is redacted."""
    coordinator = init_integration.runtime_data.coordinator
    with patch.object(
        coordinator.p1, "get_data", side_effect=RuntimeError("no route to 127.0.0.1:80")
    ):
        await coordinator.async_refresh()
    assert "127.0.0.1" in (coordinator.data.p1_error or "")
    assert coordinator.data.battery is not None
    diagnostics = await async_get_config_entry_diagnostics(hass, init_integration)
    assert "127.0.0.1" not in json.dumps(diagnostics, default=str)
    assert "**REDACTED**" in diagnostics["p1_error"]


async def test_diagnostics_include_controller_and_optimiser(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    runtime = init_integration.runtime_data
    await runtime.controller.async_charge(1000, 90, duration=timedelta(minutes=30))
    diagnostics = await async_get_config_entry_diagnostics(hass, init_integration)
    forced = diagnostics["controller"]["forced_command"]
    assert forced["kind"] == "charge"
    assert forced["power_w"] == 1000
    assert diagnostics["controller"]["restore_pending"] is False
    optimiser = diagnostics["optimiser"]
    assert optimiser["status"] == "off"
    assert optimiser["enabled"] is False
    assert optimiser["last_command"] is None
