"""Validation of the entry's options, and the options form in its sections."""

from __future__ import annotations

from collections.abc import Mapping
import json
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData, section
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import (
    CONF_CAPACITY_TARIFF,
    CONF_EXPORT_SHARE_PERCENT,
    CONF_FEED_IN_COST,
    CONF_INVERT_BATTERY_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_NET_METERING_UNTIL,
    CONF_POLL_INTERVAL,
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_EXTRA_ENTITIES,
    CONF_PV_FORECAST_FROM_ENERGY,
    CONF_PV_POWER_ENTITIES,
    CONF_REQUEST_METHOD,
    DEFAULT_OPTIONS,
)
from custom_components.ems.options import (
    SECTIONS,
    OptionsValidationError,
    flattened,
    options_schema,
    sectioned,
    validate_options,
)

TRANSLATIONS = Path(__file__).parent.parent / "custom_components" / "ems" / "translations"
# The 19 options of entries made before the form had sections (and before the tariffs).
OLD_OPTION_KEYS = (
    "poll_interval_seconds",
    "battery_rated_capacity_kwh",
    "battery_min_soc_percent",
    "battery_max_soc_percent",
    "battery_max_charge_power_w",
    "battery_max_discharge_power_w",
    "battery_max_desired_grid_peak_w",
    "battery_min_price_spread_percent",
    "battery_round_trip_efficiency",
    "indevolt_request_method",
    "invert_battery_power",
    "price_entity_id",
    "export_price_entity_id",
    "pv_forecast_entity_id",
    "price_import_markup_eur_per_kwh",
    "price_energy_tax_eur_per_kwh",
    "price_vat_percent",
    "prices_include_taxes",
    "export_uses_effective_price",
)


def form_input(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat options as the form sends them: in sections, cleared fields left out."""
    return sectioned({key: value for key, value in options.items() if value is not None})


def test_defaults_are_valid_and_original() -> None:
    options = validate_options({})
    assert options == DEFAULT_OPTIONS
    assert options[CONF_POLL_INTERVAL] == 5
    assert options["battery_rated_capacity_kwh"] == 12.0
    assert options["battery_round_trip_efficiency"] == 0.8


def test_numbers_are_normalised() -> None:
    options = validate_options(
        {CONF_POLL_INTERVAL: 7.0, CONF_MIN_SOC: 20, CONF_INVERT_BATTERY_POWER: 1}
    )
    assert options[CONF_POLL_INTERVAL] == 7
    assert isinstance(options[CONF_POLL_INTERVAL], int)
    assert options[CONF_MIN_SOC] == 20.0
    assert options[CONF_INVERT_BATTERY_POWER] is True


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({CONF_POLL_INTERVAL: 0}, CONF_POLL_INTERVAL, "out_of_range"),
        ({CONF_POLL_INTERVAL: 61}, CONF_POLL_INTERVAL, "out_of_range"),
        ({CONF_MAX_CHARGE_W: 10801}, CONF_MAX_CHARGE_W, "out_of_range"),
        ({CONF_MAX_CHARGE_W: "fast"}, CONF_MAX_CHARGE_W, "not_a_number"),
        ({CONF_MAX_CHARGE_W: True}, CONF_MAX_CHARGE_W, "not_a_number"),
        ({CONF_MIN_SOC: 4}, CONF_MIN_SOC, "out_of_range"),
        ({CONF_MIN_SOC: 90, CONF_MAX_SOC: 90}, CONF_MIN_SOC, "min_soc_not_below_max"),
        ({CONF_REQUEST_METHOD: "put"}, CONF_REQUEST_METHOD, "invalid_request_method"),
        ({CONF_EXPORT_SHARE_PERCENT: 101}, CONF_EXPORT_SHARE_PERCENT, "out_of_range"),
        ({CONF_FEED_IN_COST: -0.01}, CONF_FEED_IN_COST, "out_of_range"),
        ({CONF_CAPACITY_TARIFF: "a lot"}, CONF_CAPACITY_TARIFF, "not_a_number"),
        ({CONF_NET_METERING_UNTIL: "2027-13-01"}, CONF_NET_METERING_UNTIL, "invalid_date"),
        ({CONF_NET_METERING_UNTIL: 2027}, CONF_NET_METERING_UNTIL, "invalid_date"),
        (
            {CONF_PV_FORECAST_EXTRA_ENTITIES: "sensor.a"},
            CONF_PV_FORECAST_EXTRA_ENTITIES,
            "invalid_entity_id",
        ),
        (
            {CONF_PV_FORECAST_EXTRA_ENTITIES: ["no id"]},
            CONF_PV_FORECAST_EXTRA_ENTITIES,
            "invalid_entity_id",
        ),
        ({CONF_PV_POWER_ENTITIES: ["sensor.a", 7]}, CONF_PV_POWER_ENTITIES, "invalid_entity_id"),
    ],
)
def test_invalid_options(changes: dict[str, object], field: str, error: str) -> None:
    with pytest.raises(OptionsValidationError) as err:
        validate_options(changes)
    assert (err.value.field, err.value.error) == (field, error)


def test_the_tariff_and_forecast_options_are_normalised() -> None:
    options = validate_options(
        {
            CONF_NET_METERING_UNTIL: "2027-01-01",
            CONF_PV_FORECAST_EXTRA_ENTITIES: ("sensor.solcast_tomorrow",),
            CONF_CAPACITY_TARIFF: 53,
            CONF_PV_POWER_ENTITIES: ("sensor.inverter_power",),
        }
    )
    assert options[CONF_NET_METERING_UNTIL] == "2027-01-01"
    assert options[CONF_PV_FORECAST_EXTRA_ENTITIES] == ["sensor.solcast_tomorrow"]
    assert options[CONF_CAPACITY_TARIFF] == 53.0
    assert options[CONF_PV_POWER_ENTITIES] == ["sensor.inverter_power"]
    cleared = validate_options({CONF_NET_METERING_UNTIL: "", CONF_PV_FORECAST_EXTRA_ENTITIES: None})
    assert cleared[CONF_NET_METERING_UNTIL] is None
    assert cleared[CONF_PV_FORECAST_EXTRA_ENTITIES] == []


def test_schema_has_every_option_once_in_a_section() -> None:
    schema = options_schema().schema
    assert [str(key) for key in schema] == ["device", "battery", "prices_and_tariffs", "forecasts"]
    keys = [
        str(key)
        for value in schema.values()
        if isinstance(value, section)
        for key in value.schema.schema
    ]
    assert sorted(keys) == sorted(DEFAULT_OPTIONS)
    collapsed = {str(key): value.options["collapsed"] for key, value in schema.items()}
    assert collapsed == {
        "device": False,
        "battery": True,
        "prices_and_tariffs": True,
        "forecasts": True,
    }


def test_sections_and_flat_options_round_trip() -> None:
    nested = sectioned(DEFAULT_OPTIONS)
    assert set(nested) == set(SECTIONS)
    assert nested["device"][CONF_POLL_INTERVAL] == 5
    assert flattened(nested) == DEFAULT_OPTIONS
    # A key outside any section (an old flat input) passes through.
    assert flattened({CONF_POLL_INTERVAL: 9}) == {CONF_POLL_INTERVAL: 9}


@pytest.mark.parametrize("language", ["en", "nl"])
def test_sections_and_their_fields_are_translated(language: str) -> None:
    strings = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))
    sections = strings["options"]["step"]["init"]["sections"]
    assert set(sections) == set(SECTIONS)
    for name, keys in SECTIONS.items():
        assert sections[name]["name"]
        assert set(sections[name]["data"]) == set(keys)
        assert set(sections[name]["data_description"]) == set(keys)


# -- the options flow of a loaded entry -----------------------------------------------------


async def test_an_entry_with_the_old_flat_options_loads_and_edits(
    hass: HomeAssistant, enable_custom_integrations: None, mock_config_entry: MockConfigEntry
) -> None:
    old_options = {key: DEFAULT_OPTIONS[key] for key in OLD_OPTION_KEYS}
    old_options[CONF_POLL_INTERVAL] = 6
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options=old_options)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    device = next(
        value for key, value in result["data_schema"].schema.items() if str(key) == "device"
    )
    suggested = {str(key): key.description["suggested_value"] for key in device.schema.schema}
    assert suggested[CONF_POLL_INTERVAL] == 6
    # The form shows every option, the new ones at their defaults, and sends them all back.
    shown = {**DEFAULT_OPTIONS, **old_options}
    # The date field only takes dates; other invalid input shows the form again with the error.
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], form_input({**shown, CONF_NET_METERING_UNTIL: "2027-02-30"})
        )
    bad = form_input({**shown, CONF_MIN_SOC: 90, CONF_MAX_SOC: 80})
    result = await hass.config_entries.options.async_configure(result["flow_id"], bad)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_MIN_SOC: "min_soc_not_below_max"}
    good = form_input(
        {
            **shown,
            CONF_NET_METERING_UNTIL: "2027-01-01",
            CONF_EXPORT_SHARE_PERCENT: 50,
            CONF_PV_FORECAST_FROM_ENERGY: True,
        }
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], good)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # Stored flat, old keys kept, new keys added.
    assert set(mock_config_entry.options) == set(DEFAULT_OPTIONS)
    assert mock_config_entry.options[CONF_POLL_INTERVAL] == 6
    assert mock_config_entry.options[CONF_NET_METERING_UNTIL] == "2027-01-01"
    assert mock_config_entry.options[CONF_EXPORT_SHARE_PERCENT] == 50.0
    assert mock_config_entry.options[CONF_PV_FORECAST_FROM_ENERGY] is True
    assert mock_config_entry.options[CONF_PRICE_ENTITY] is None
