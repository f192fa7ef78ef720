"""Device settings as entities, over real HTTP: validation, the exact wire write, the readback.

Also the generations (1 and 2 register sets, stored in the entry) and clusters (power limits
read from the device, not a constant).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from homeassistant.components.number import (
    ATTR_MAX,
    ATTR_MIN,
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    EntityCategory,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import (
    CONF_INDEVOLT_GENERATION,
    CONF_INDEVOLT_MAX_DISCHARGE_W,
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    DEFAULT_OPTIONS,
    DOMAIN,
)
from custom_components.ems.controller import BatteryController
from custom_components.ems.devices.indevolt_registers import (
    BACKUP_SOC,
    FEED_IN_LIMIT,
    INVERTER_INPUT_LIMIT,
    MAX_AC_OUTPUT,
    POLL_REGISTERS_BY_GENERATION,
    PowerLimit,
)
from custom_components.ems.options import entry_options
from ems_simulator import DeviceSettings, RunningSimulator, Simulator

from .conftest import SIM_START, FakeClock
from .test_services import writes

NUMBER = "number.indevolt_cms_sf2000_"
SWITCH = "switch.indevolt_cms_sf2000_"
SETTING_OF_ENTITY = {
    "backup_soc": BACKUP_SOC,
    "feed_in_limit": FEED_IN_LIMIT,
    "maximum_ac_output_power": MAX_AC_OUTPUT,
    "inverter_input_limit": INVERTER_INPUT_LIMIT,
}


@pytest.fixture
def device() -> DeviceSettings:
    """The simulated Indevolt's hardware; a test module or test overrides it."""
    return DeviceSettings()


@pytest.fixture
def simulator(sim_clock: FakeClock, device: DeviceSettings) -> Simulator:
    return Simulator(clock=sim_clock, start=SIM_START, device=device)


@pytest.fixture
def sim(running_simulator: RunningSimulator) -> Simulator:
    return running_simulator.simulator


@pytest.fixture
def controller(init_integration: MockConfigEntry) -> BatteryController:
    return init_integration.runtime_data.controller


async def refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


def raw_set_data(sim: Simulator) -> list[str]:
    """The SetData queries exactly as they arrived (decoded from the URL)."""
    return [
        unquote(record.raw_query)
        for record in sim.requests
        if record.path == "/rpc/Indevolt.SetData"
    ]


async def set_number(hass: HomeAssistant, entity_id: str, value: float) -> None:
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: value},
        blocking=True,
    )


@pytest.mark.parametrize(
    ("entity", "register", "value", "model_value"),
    [
        ("backup_soc", 1142, 30, lambda sim: sim.model.backup_soc_percent),
        ("feed_in_limit", 1146, 600, lambda sim: sim.device.feed_in_limit_w),
        ("maximum_ac_output_power", 1147, 1800, lambda sim: sim.device.max_ac_output_w),
        ("inverter_input_limit", 1138, 1200, lambda sim: sim.device.inverter_input_w),
    ],
)
async def test_number_writes_and_reads_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
    *,
    entity: str,
    register: int,
    value: int,
    model_value: Any,
) -> None:
    entity_id = NUMBER + entity
    entry = er.async_get(hass).async_get(entity_id)
    assert entry is not None
    assert entry.entity_category is EntityCategory.CONFIG
    sim.requests.clear()
    await set_number(hass, entity_id, value)
    await refresh(hass, init_integration)
    # One SetData, exactly as the vendor documents it, then the read back by the next poll.
    assert raw_set_data(sim) == [f'config={{"f":16,"t":{register},"v":[{value}]}}']
    assert model_value(sim) == value
    indevolt_paths = [r.path for r in sim.requests if r.device == "indevolt"]
    assert indevolt_paths[0] == "/rpc/Indevolt.SetData"
    assert set(indevolt_paths[1:]) == {"/rpc/Indevolt.GetData"}
    assert float(hass.states.get(entity_id).state) == value
    assert f"Battery setting {SETTING_OF_ENTITY[entity].key} = {value} (user)" in caplog.text


@pytest.mark.parametrize(
    ("entity", "register", "state_of_model"),
    [
        ("grid_charging", 1143, lambda sim: sim.model.grid_charging),
        ("bypass_socket", 7266, lambda sim: sim.device.bypass_enabled),
        ("led_indicator", 7265, lambda sim: sim.device.led_enabled),
    ],
)
async def test_switch_writes_and_reads_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    *,
    entity: str,
    register: int,
    state_of_model: Any,
) -> None:
    entity_id = SWITCH + entity
    assert hass.states.get(entity_id).state == STATE_OFF
    for service, value, state in ((SERVICE_TURN_ON, 1, STATE_ON), (SERVICE_TURN_OFF, 0, STATE_OFF)):
        sim.requests.clear()
        await hass.services.async_call(
            SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: entity_id}, blocking=True
        )
        await refresh(hass, init_integration)
        assert raw_set_data(sim) == [f'config={{"f":16,"t":{register},"v":[{value}]}}']
        assert state_of_model(sim) is bool(value)
        assert hass.states.get(entity_id).state == state


@pytest.mark.parametrize(
    ("entity", "value", "low", "high"),
    [
        ("backup_soc", 4, 5, 100),
        ("backup_soc", 101, 5, 100),
        ("feed_in_limit", 2401, 0, 2400),
        ("maximum_ac_output_power", 49, 50, 2400),
        ("inverter_input_limit", 2500, 50, 2400),
    ],
)
async def test_number_out_of_range_sends_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sim: Simulator,
    *,
    entity: str,
    value: int,
    low: int,
    high: int,
) -> None:
    entity_id = NUMBER + entity
    state = hass.states.get(entity_id)
    assert (state.attributes[ATTR_MIN], state.attributes[ATTR_MAX]) == (low, high)
    controller: BatteryController = init_integration.runtime_data.controller
    setting = SETTING_OF_ENTITY[entity]
    sim.requests.clear()
    with pytest.raises(ServiceValidationError) as raised:
        await controller.async_write_setting(setting, value)
    assert raised.value.translation_key == "setting_out_of_range"
    assert raised.value.translation_placeholders == {
        "setting": setting.key,
        "value": str(value),
        "min": str(low),
        "max": str(high),
    }
    assert writes(sim) == []


async def test_backup_soc_write_is_the_optimisers_floor(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    """A backup SOC written through the entity is the discharge floor at the next command."""
    controller: BatteryController = init_integration.runtime_data.controller
    await set_number(hass, NUMBER + "backup_soc", 35)
    await refresh(hass, init_integration)
    sim.requests.clear()
    await controller.async_discharge(800)
    assert writes(sim)[-1] == (47015, [2, 800, 35])
    with pytest.raises(ServiceValidationError) as raised:
        await controller.async_discharge(800, 30)
    assert raised.value.translation_key == "target_soc_below_backup"


async def test_the_per_setting_methods_write_their_register(
    hass: HomeAssistant, controller: BatteryController, sim: Simulator
) -> None:
    sim.requests.clear()
    await controller.async_set_backup_soc(20)
    await controller.async_set_feed_in_limit(50)
    await controller.async_set_max_ac_output(900)
    await controller.async_set_inverter_input_limit(700)
    await controller.async_set_grid_charging(True)
    await controller.async_set_bypass(True)
    await controller.async_set_led(True)
    await hass.async_block_till_done()
    assert writes(sim) == [
        (1142, [20]),
        (1146, [50]),
        (1147, [900]),
        (1138, [700]),
        (1143, [1]),
        (7266, [1]),
        (7265, [1]),
    ]


@pytest.mark.parametrize("device", [DeviceSettings(strict_ranges=True)])
async def test_a_setting_the_device_rejects_is_a_translated_error(
    hass: HomeAssistant, controller: BatteryController, sim: Simulator
) -> None:
    """Firmware with the vendor's range refuses a feed-in limit of 0 that core allows."""
    with pytest.raises(HomeAssistantError) as raised:
        await controller.async_set_feed_in_limit(0)
    assert raised.value.translation_key == "command_rejected"
    assert sim.device.feed_in_limit_w == 2400


@pytest.mark.parametrize("device", [DeviceSettings(units=3, strict_ranges=False)])
async def test_cluster_limits_come_from_the_device(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    """Three units: 7200 W for the settings and the commands, not one unit's 2400 W."""
    state = hass.states.get(NUMBER + "maximum_ac_output_power")
    assert state.attributes[ATTR_MAX] == 7200
    assert hass.states.get(NUMBER + "inverter_input_limit").attributes[ATTR_MAX] == 7200
    await set_number(hass, NUMBER + "feed_in_limit", 0)
    await set_number(hass, NUMBER + "maximum_ac_output_power", 6000)
    assert sim.device.max_ac_output_w == 6000
    controller: BatteryController = init_integration.runtime_data.controller
    assert controller.device_power_limit_w(PowerLimit.DISCHARGE) == 7200
    hass.config_entries.async_update_entry(
        init_integration, options={**DEFAULT_OPTIONS, CONF_MAX_DISCHARGE_W: 10800}
    )
    sim.requests.clear()
    await controller.async_discharge(5000, 20)
    assert writes(sim)[-1] == (47015, [2, 5000, 20])
    with pytest.raises(ServiceValidationError) as raised:
        await controller.async_discharge(7300, 20)
    assert raised.value.translation_placeholders["max"] == "7200"


async def test_one_unit_refuses_what_a_cluster_takes(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    hass.config_entries.async_update_entry(
        init_integration, options={**DEFAULT_OPTIONS, CONF_MAX_DISCHARGE_W: 10800}
    )
    controller: BatteryController = init_integration.runtime_data.controller
    with pytest.raises(ServiceValidationError) as raised:
        await controller.async_discharge(5000, 20)
    assert raised.value.translation_placeholders["max"] == "2400"


@pytest.mark.parametrize("device", [DeviceSettings(generation=1)])
async def test_generation_1_is_detected_stored_and_polled(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    assert init_integration.data[CONF_INDEVOLT_GENERATION] == 1
    entity_registry = er.async_get(hass)
    platforms = {
        entry.domain
        for entry in er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    }
    assert NUMBER_DOMAIN not in platforms  # generation 1 has no writable settings (core too)
    assert hass.states.get(SWITCH + "grid_charging") is None
    sim.requests.clear()
    await refresh(hass, init_integration)
    [poll] = [r for r in sim.requests if r.path == "/rpc/Indevolt.GetData"]
    # 32 fast and 8 slow keys: all of them fit the one request of every poll.
    assert poll.config == {"t": list(POLL_REGISTERS_BY_GENERATION[1])}
    # The meter power of generation 1 is register 21028.
    assert init_integration.runtime_data.coordinator.data.battery.meter_power_w is not None
    assert hass.states.get("sensor.indevolt_cms_bk1600_grid_power_battery_ct").state not in (
        "unknown",
        "unavailable",
    )
    controller: BatteryController = init_integration.runtime_data.controller
    with pytest.raises(ServiceValidationError) as raised:
        await controller.async_set_backup_soc(20)
    assert raised.value.translation_key == "setting_not_supported"
    # One generation-1 unit discharges 800 W at most.
    assert controller.device_power_limit_w(PowerLimit.DISCHARGE) == 800


async def test_generation_2_is_stored(init_integration: MockConfigEntry) -> None:
    assert init_integration.data[CONF_INDEVOLT_GENERATION] == 2
    assert init_integration.runtime_data.coordinator.indevolt.generation == 2


@pytest.mark.parametrize("device", [DeviceSettings(meter_connected=False)])
async def test_a_device_without_meter_reports_it(init_integration: MockConfigEntry) -> None:
    battery = init_integration.runtime_data.coordinator.data.battery
    assert battery.value(7120) == 1001


async def test_bypass_switch_only_where_the_model_has_one(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim: Simulator,
) -> None:
    sim.indevolt_faults.missing_registers = {680}
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH + "bypass_socket") is None
    assert hass.states.get(SWITCH + "grid_charging") is not None
    assert DOMAIN in hass.config.components


@pytest.mark.parametrize(("units", "limit"), [(1, 2400), (3, 7200)])
async def test_the_power_options_never_exceed_the_device(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    device: DeviceSettings,
    units: int,
    limit: int,
) -> None:
    """The optimiser and the controller read the options capped at what the device reports."""
    device.units = units
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**DEFAULT_OPTIONS, CONF_MAX_CHARGE_W: 10800, CONF_MAX_DISCHARGE_W: 10800},
    )
    options = entry_options(mock_config_entry)
    assert (options[CONF_MAX_CHARGE_W], options[CONF_MAX_DISCHARGE_W]) == (limit, limit)
    assert mock_config_entry.data[CONF_INDEVOLT_MAX_DISCHARGE_W] == limit


async def test_a_switch_reading_neither_on_nor_off_is_unknown(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim: Simulator
) -> None:
    sim.indevolt_faults.raw_values = {"2618": "1005"}
    init_integration.runtime_data.coordinator.indevolt.refresh_slow_registers()
    await refresh(hass, init_integration)
    assert hass.states.get(SWITCH + "grid_charging").state == "unknown"
