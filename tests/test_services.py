"""The ems.* actions against the simulator: exact wire sequences, validation, device errors."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import (
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    DOMAIN,
)
from custom_components.ems.control_store import ForcedKind
from custom_components.ems.devices.errors import CommandRejectedError
from ems_simulator import RunningSimulator, Simulator


def writes(simulator: Simulator) -> list[tuple[int, list[int]]]:
    """The SetData requests the Indevolt received, as (register, values)."""
    return [
        (r.config["t"], r.config["v"])
        for r in simulator.requests
        if r.device == "indevolt" and r.path == "/rpc/Indevolt.SetData"
    ]


async def call(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


async def test_services_registered(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    assert set(hass.services.async_services_for_domain(DOMAIN)) == {
        "charge",
        "discharge",
        "stop",
        "set_working_mode",
        "restore_auto_mode",
    }


async def test_charge_switches_then_commands(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.requests.clear()
    await call(hass, "charge", power=1000, target_soc=90)
    assert writes(sim) == [(47005, [4]), (47015, [1, 1000, 90])]
    assert sim.model.mode == 4
    controller = init_integration.runtime_data.controller
    assert controller.forced_command is not None
    assert controller.forced_command.kind is ForcedKind.CHARGE
    assert controller.forced_command.deadline is None

    # Already in real-time mode: only the command; the target defaults to the max SOC.
    sim.requests.clear()
    await call(hass, "charge", power=500)
    assert writes(sim) == [(47015, [1, 500, 100])]

    sim.requests.clear()
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert writes(sim) == [(47005, [1])]
    assert sim.model.mode == 1


async def test_discharge(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.requests.clear()
    await call(hass, "discharge", power=800, target_soc=20, duration=30)
    assert writes(sim) == [(47005, [4]), (47015, [2, 800, 20])]
    forced = init_integration.runtime_data.controller.forced_command
    assert forced is not None and forced.deadline is not None
    sim.requests.clear()
    await call(hass, "discharge", power=800)
    assert writes(sim) == [(47015, [2, 800, 10])]


async def test_discharge_default_target_respects_backup_soc(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.model.backup_soc_percent = 30
    await init_integration.runtime_data.coordinator.async_refresh()
    sim.requests.clear()
    await call(hass, "discharge", power=800)
    assert writes(sim) == [(47005, [4]), (47015, [2, 800, 30])]


async def test_stop(hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator) -> None:
    sim.requests.clear()
    await call(hass, "stop", duration=60)
    assert writes(sim) == [(47005, [4]), (47015, [0, 0, 0])]
    forced = init_integration.runtime_data.controller.forced_command
    assert forced is not None and forced.kind is ForcedKind.STOP


async def test_stop_falls_back_when_standby_rejected(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    client = init_integration.runtime_data.coordinator.indevolt
    sim.requests.clear()
    with patch.object(client, "stop", side_effect=CommandRejectedError("no")):
        await call(hass, "stop")
    assert writes(sim) == [(47005, [4]), (47015, [0, 50, 10])]


@pytest.mark.parametrize(
    ("mode", "register_value"),
    [("schedule", 5), ("self_consumed", 1), ("realtime", 4)],
)
async def test_set_working_mode(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    mode: str,
    register_value: int,
) -> None:
    sim.requests.clear()
    await call(hass, "set_working_mode", mode=mode)
    assert writes(sim) == [(47005, [register_value])]
    assert sim.model.mode == register_value
    forced = init_integration.runtime_data.controller.forced_command
    assert (forced is not None) == (mode == "realtime")


async def test_restore_auto_mode_is_one_write(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    await call(hass, "charge", power=1000, target_soc=90)
    sim.requests.clear()
    await call(hass, "restore_auto_mode")
    assert writes(sim) == [(47005, [1])]
    assert init_integration.runtime_data.controller.forced_command is None
    # Nothing is forced any more: unloading sends nothing.
    sim.requests.clear()
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert writes(sim) == []


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        ("charge", {"power": 1600}, "charge_power_out_of_range"),
        ("charge", {"power": 49}, "charge_power_out_of_range"),
        ("discharge", {"power": 1300}, "discharge_power_out_of_range"),
        ("charge", {"power": 1000, "target_soc": 95}, "target_soc_out_of_range"),
        ("discharge", {"power": 1000, "target_soc": 15}, "target_soc_out_of_range"),
        ("charge", {"power": 1000, "duration": 0}, "duration_out_of_range"),
        ("stop", {"duration": 1441}, "duration_out_of_range"),
    ],
)
async def test_validation_sends_nothing(
    hass: HomeAssistant,
    *,
    init_integration: MockConfigEntry,
    sim: Simulator,
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    hass.config_entries.async_update_entry(
        init_integration,
        options={
            **init_integration.options,
            CONF_MAX_CHARGE_W: 1500,
            CONF_MAX_DISCHARGE_W: 1200,
            CONF_MIN_SOC: 20.0,
            CONF_MAX_SOC: 90.0,
        },
    )
    await hass.async_block_till_done()
    sim.requests.clear()
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, **data)
    assert err.value.translation_key == key
    assert err.value.translation_domain == DOMAIN
    assert [r for r in sim.requests if r.device == "indevolt"] == []


async def test_discharge_below_backup_soc_sends_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.model.backup_soc_percent = 30
    await init_integration.runtime_data.coordinator.async_refresh()
    sim.requests.clear()
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "discharge", power=800, target_soc=20)
    assert err.value.translation_key == "target_soc_below_backup"
    assert err.value.translation_placeholders == {"target": "20", "backup": "30"}
    assert sim.requests == []


async def test_validation_message_is_translated(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError, match=r"2500 W is outside 50.2400 W"):
        await call(hass, "charge", power=2500)


@pytest.mark.parametrize(
    ("fault", "value", "key"),
    [
        ("reject_commands", True, "command_rejected"),
        ("off", True, "device_unreachable"),
        ("http_status", 500, "device_error"),
        ("password", "secret", "command_auth_failed"),
    ],
)
async def test_device_errors(
    hass: HomeAssistant,
    *,
    init_integration: MockConfigEntry,
    sim: Simulator,
    fault: str,
    value: object,
    key: str,
) -> None:
    setattr(sim.indevolt_faults, fault, value)
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "charge", power=1000, target_soc=90)
    assert err.value.translation_key == key
    assert err.value.translation_placeholders["action"] == "charge"
    assert init_integration.state is ConfigEntryState.LOADED


async def test_device_timeout(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    init_integration.runtime_data.coordinator.indevolt.timeout_s = 0.2
    sim.indevolt_faults.timeout = True
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "restore_auto_mode")
    assert err.value.translation_key == "device_timeout"


async def test_no_loaded_entry(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "restore_auto_mode")
    assert err.value.translation_key == "no_loaded_entry"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "restore_auto_mode", config_entry_id=init_integration.entry_id)
    assert err.value.translation_key == "entry_not_loaded"


async def test_unknown_entry(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "restore_auto_mode", config_entry_id="nope")
    assert err.value.translation_key == "entry_not_found"
    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "restore_auto_mode", config_entry_id=other.entry_id)
    assert err.value.translation_key == "entry_not_found"


async def test_two_entries_need_an_entry_id(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    second = MockConfigEntry(
        domain=DOMAIN,
        # The same battery, keyed on its MAC (an entry created while register 0 was missing):
        # a different serial would be refused as another battery.
        unique_id="7C3E82EF997F",
        data=dict(init_integration.data),
        options=dict(init_integration.options),
    )
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "restore_auto_mode")
    assert err.value.translation_key == "entry_required"
    sim.requests.clear()
    await call(hass, "set_working_mode", mode="schedule", config_entry_id=second.entry_id)
    assert writes(sim) == [(47005, [5])]


@pytest.mark.parametrize(
    ("service", "data", "key", "placeholders"),
    [
        ("charge", {"power": 1000, "duration": 10**30}, "duration_out_of_range", None),
        ("discharge", {"power": 1000, "duration": -(10**30)}, "duration_out_of_range", None),
        ("stop", {"duration": 10**30}, "duration_out_of_range", None),
        ("stop", {"duration": 1e300}, "duration_out_of_range", None),
        ("charge", {"power": 10**30}, "charge_power_out_of_range", None),
        ("charge", {"power": 1000, "target_soc": 10**30}, "target_soc_out_of_range", None),
        (
            "charge",
            {"power": 1000.7},
            "not_a_whole_number",
            {"field": "power", "value": "1000.7"},
        ),
        (
            "discharge",
            {"power": 1000, "target_soc": 90.9},
            "not_a_whole_number",
            {"field": "target_soc", "value": "90.9"},
        ),
        (
            "stop",
            {"duration": 1.5},
            "not_a_whole_number",
            {"field": "duration", "value": "1.5"},
        ),
        (
            "charge",
            {"power": "1000.5"},
            "not_a_whole_number",
            {"field": "power", "value": "1000.5"},
        ),
        ("charge", {"power": float("nan")}, "not_a_whole_number", None),
        ("charge", {"power": float("inf")}, "not_a_whole_number", None),
    ],
)
async def test_bad_numbers_are_validation_errors(
    hass: HomeAssistant,
    *,
    init_integration: MockConfigEntry,
    sim: Simulator,
    service: str,
    data: dict[str, Any],
    key: str,
    placeholders: dict[str, str] | None,
) -> None:
    sim.requests.clear()
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, **data)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    if placeholders is not None:
        assert err.value.translation_placeholders == placeholders
    assert str(err.value)  # the translated message
    assert [r for r in sim.requests if r.device == "indevolt"] == []


async def test_whole_numbers_in_any_form_are_accepted(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.requests.clear()
    await call(hass, "charge", power=1000.0, target_soc="90", duration=" 30 ")
    assert writes(sim) == [(47005, [4]), (47015, [1, 1000, 90])]


@pytest.mark.parametrize("power", ["abc", True, [1000], None])
async def test_not_a_number_is_a_schema_error(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator, power: object
) -> None:
    sim.requests.clear()
    with pytest.raises(probatio.Invalid):
        await call(hass, "charge", power=power)
    assert [r for r in sim.requests if r.device == "indevolt"] == []


async def test_not_a_whole_number_message_is_translated(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError, match=r"power must be a whole number, not 1000.7"):
        await call(hass, "charge", power=1000.7)
