"""The config flow against the simulator: success, every error, discovery, reconfigure, reauth, options."""

from __future__ import annotations

from ipaddress import ip_address
import json
from pathlib import Path
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import (
    CONF_INDEVOLT_HOST,
    CONF_INDEVOLT_PASSWORD,
    CONF_INDEVOLT_SERIAL,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_P1_HOST,
    CONF_P1_SERIAL,
    CONF_POLL_INTERVAL,
    CONF_PRICE_ENTITY,
    CONF_REQUEST_METHOD,
    DEFAULT_OPTIONS,
    DOMAIN,
)
from ems_simulator import RunningSimulator

from .conftest import INDEVOLT_SERIAL, P1_SERIAL
from .test_options import form_input

pytestmark = pytest.mark.usefixtures("enable_custom_integrations")

TRANSLATIONS = Path(__file__).parents[1] / "custom_components" / "ems" / "translations"


@pytest.fixture(autouse=True)
def no_entry_setup():
    """Flows that finish with a reload must not start polling the simulator in the background."""
    with patch("custom_components.ems.async_setup_entry", return_value=True) as mock_setup:
        yield mock_setup


def _hosts(sim: RunningSimulator) -> dict[str, str]:
    return {
        CONF_P1_HOST: f"127.0.0.1:{sim.p1_port}",
        CONF_INDEVOLT_HOST: f"127.0.0.1:{sim.indevolt_port}",
    }


async def _start(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result["flow_id"]


async def test_user_flow_creates_entry(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _hosts(running_simulator))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "CMS-SF2000 + P1 meter"
    assert result["result"].unique_id == INDEVOLT_SERIAL
    assert result["data"] == {
        **_hosts(running_simulator),
        CONF_INDEVOLT_PASSWORD: None,
        CONF_P1_SERIAL: P1_SERIAL,
        CONF_INDEVOLT_SERIAL: INDEVOLT_SERIAL,
        CONF_REQUEST_METHOD: "post",
    }
    assert result["options"] == {**DEFAULT_OPTIONS, CONF_REQUEST_METHOD: "post"}


async def test_user_flow_falls_back_to_get(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    running_simulator.simulator.indevolt_faults.get_only = True
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _hosts(running_simulator))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_REQUEST_METHOD] == "get"
    assert result["options"][CONF_REQUEST_METHOD] == "get"


async def test_user_flow_with_password(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    running_simulator.simulator.indevolt_faults.password = "secret"
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _hosts(running_simulator))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_INDEVOLT_PASSWORD: "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**_hosts(running_simulator), CONF_INDEVOLT_PASSWORD: "secret"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_INDEVOLT_PASSWORD] == "secret"


@pytest.mark.parametrize(
    ("device", "fault", "errors"),
    [
        ("p1", {"off": True}, {CONF_P1_HOST: "cannot_connect"}),
        ("p1", {"api_disabled": True}, {CONF_P1_HOST: "api_disabled"}),
        ("p1", {"malformed_json": True}, {CONF_P1_HOST: "cannot_connect"}),
        ("indevolt", {"off": True}, {CONF_INDEVOLT_HOST: "cannot_connect"}),
        ("indevolt", {"http_status": 500}, {CONF_INDEVOLT_HOST: "cannot_connect"}),
        ("indevolt", {"password": "x"}, {CONF_INDEVOLT_PASSWORD: "invalid_auth"}),
    ],
)
async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant,
    running_simulator: RunningSimulator,
    device: str,
    fault: dict[str, object],
    errors: dict[str, str],
) -> None:
    faults = running_simulator.simulator.faults[device]
    faults.update(fault)
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _hosts(running_simulator))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    faults.reset()
    result = await hass.config_entries.flow.async_configure(flow_id, _hosts(running_simulator))
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("hosts", "errors"),
    [
        (
            {CONF_P1_HOST: "bad host!", CONF_INDEVOLT_HOST: "127.0.0.1"},
            {CONF_P1_HOST: "invalid_host"},
        ),
        (
            {CONF_P1_HOST: "127.0.0.1", CONF_INDEVOLT_HOST: "1.2.3.4:99999"},
            {CONF_INDEVOLT_HOST: "invalid_host"},
        ),
    ],
)
async def test_user_flow_invalid_host(
    hass: HomeAssistant, socket_enabled: None, hosts: dict[str, str], errors: dict[str, str]
) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, hosts)
    assert result["errors"] == errors


async def test_user_flow_unknown_error(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    flow_id = await _start(hass)
    with patch(
        "custom_components.ems.config_flow.IndevoltClient.probe_method", side_effect=RuntimeError
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, _hosts(running_simulator))
    assert result["errors"] == {"base": "unknown"}


async def test_second_entry_for_same_battery_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    mock_config_entry.add_to_hass(hass)
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _hosts(running_simulator))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


def _zeroconf(port: int, **properties: str) -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="p1meter-aabbcc.local.",
        name="p1meter-aabbcc._hwenergy._tcp.local.",
        port=port,
        type="_hwenergy._tcp.local.",
        properties={
            "api_enabled": "1",
            "path": "/api/v1",
            "product_name": "P1 meter",
            "product_type": "HWE-P1",
            "serial": P1_SERIAL,
            **properties,
        },
    )


async def test_zeroconf_new_meter_asks_for_battery(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(running_simulator.p1_port)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    schema_keys = {str(key): key for key in result["data_schema"].schema}
    assert schema_keys[CONF_P1_HOST].description == {
        "suggested_value": f"127.0.0.1:{running_simulator.p1_port}"
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _hosts(running_simulator)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == INDEVOLT_SERIAL


async def test_zeroconf_known_meter_updates_host(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, socket_enabled: None
) -> None:
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(80)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data[CONF_P1_HOST] == "127.0.0.1"


async def test_zeroconf_replaces_a_damaged_stored_address(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, socket_enabled: None
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_P1_HOST: "bad host!"}
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(8081)
    )
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data[CONF_P1_HOST] == "127.0.0.1:8081"


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"product_type": "HWE-SKT"}, "not_p1_meter"),
        ({"serial": ""}, "not_p1_meter"),
        ({"api_enabled": "0"}, "api_disabled"),
    ],
)
async def test_zeroconf_ignores_other_devices(
    hass: HomeAssistant, socket_enabled: None, properties: dict[str, str], reason: str
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(80, **properties)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_reconfigure_changes_addresses(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, CONF_P1_HOST: "127.0.0.2", CONF_INDEVOLT_HOST: "127.0.0.2"},
    )
    result = await mock_config_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_P1_HOST: "nonsense host", CONF_INDEVOLT_HOST: "127.0.0.1"}
    )
    assert result["errors"] == {CONF_P1_HOST: "invalid_host"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _hosts(running_simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert mock_config_entry.data[CONF_P1_HOST] == f"127.0.0.1:{running_simulator.p1_port}"


async def test_reconfigure_refuses_another_battery(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="another-battery",
        data={**_hosts(running_simulator), CONF_P1_SERIAL: P1_SERIAL},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _hosts(running_simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_device"


async def test_reconfigure_refuses_another_meter(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=INDEVOLT_SERIAL,
        data={**_hosts(running_simulator), CONF_P1_SERIAL: "000000000000"},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _hosts(running_simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_p1_device"


async def test_reauth_updates_password(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    mock_config_entry.add_to_hass(hass)
    running_simulator.simulator.indevolt_faults.password = "new"
    result = await mock_config_entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_INDEVOLT_PASSWORD: "wrong"}
    )
    assert result["errors"] == {CONF_INDEVOLT_PASSWORD: "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_INDEVOLT_PASSWORD: "new"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert mock_config_entry.data[CONF_INDEVOLT_PASSWORD] == "new"


async def test_reauth_refuses_another_battery(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="another-battery", data=_hosts(running_simulator)
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_device"


async def test_options_flow(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, no_entry_setup: object
) -> None:
    init_integration = mock_config_entry
    init_integration.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        form_input({**init_integration.options, CONF_MIN_SOC: 60, CONF_MAX_SOC: 50}),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_MIN_SOC: "min_soc_not_below_max"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form_input({**init_integration.options, CONF_POLL_INTERVAL: 7})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options[CONF_POLL_INTERVAL] == 7
    assert isinstance(init_integration.options[CONF_POLL_INTERVAL], int)


async def test_options_flow_clears_an_optional_entity(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_PRICE_ENTITY: "sensor.prices"},
    )
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    user_input = {k: v for k, v in mock_config_entry.options.items() if k != CONF_PRICE_ENTITY}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form_input(user_input)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_PRICE_ENTITY] is None


@pytest.mark.parametrize(
    "p1_host", ["https://1.2.3.4", "ftp://1.2.3.4:8080", "http://1.2.3.4/api", "http://[fe80::1"]
)
async def test_url_as_host_is_a_form_error_without_traceback(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture, p1_host: str
) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_P1_HOST: p1_host, CONF_INDEVOLT_HOST: "127.0.0.1"}
    )
    assert result["errors"] == {CONF_P1_HOST: "invalid_host"}
    assert "Traceback" not in caplog.text


async def test_http_scheme_is_accepted_and_stored_without_it(
    hass: HomeAssistant, running_simulator: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    flow_id = await _start(hass)
    hosts = _hosts(running_simulator)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            CONF_P1_HOST: f" http://{hosts[CONF_P1_HOST]}/ ",
            CONF_INDEVOLT_HOST: f"HTTP://{hosts[CONF_INDEVOLT_HOST]}",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_P1_HOST] == hosts[CONF_P1_HOST]
    assert result["data"][CONF_INDEVOLT_HOST] == hosts[CONF_INDEVOLT_HOST]
    assert "Traceback" not in caplog.text


def _other_entry(sim: RunningSimulator) -> MockConfigEntry:
    """An entry of another battery that already has this P1 meter."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id="another-battery",
        data={**_hosts(sim), CONF_P1_SERIAL: P1_SERIAL, CONF_INDEVOLT_SERIAL: "another-battery"},
    )


async def test_user_flow_refuses_a_meter_of_another_entry(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    _other_entry(running_simulator).add_to_hass(hass)
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _hosts(running_simulator))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "p1_already_configured"


async def test_zeroconf_for_a_meter_of_another_entry_is_not_offered(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    _other_entry(running_simulator).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(running_simulator.p1_port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


async def test_zeroconf_then_typing_a_meter_of_another_entry_is_refused(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    _other_entry(running_simulator).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(running_simulator.p1_port, serial="3c39e7000001"),
    )
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _hosts(running_simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "p1_already_configured"


async def test_reconfigure_onto_a_meter_of_another_entry_is_refused(
    hass: HomeAssistant, running_simulator: RunningSimulator
) -> None:
    _other_entry(running_simulator).add_to_hass(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=INDEVOLT_SERIAL,
        data={**_hosts(running_simulator), CONF_P1_SERIAL: "3c39e7000001"},
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _hosts(running_simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "p1_already_configured"


async def test_abort_reasons_are_translated(hass: HomeAssistant) -> None:
    for language in ("en", "nl"):
        translations = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))
        assert translations["config"]["abort"]["p1_already_configured"]
