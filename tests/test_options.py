"""Validation of the entry's options."""

from __future__ import annotations

import pytest

from custom_components.ems.const import (
    CONF_INVERT_BATTERY_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_POLL_INTERVAL,
    CONF_REQUEST_METHOD,
    DEFAULT_OPTIONS,
)
from custom_components.ems.options import OptionsValidationError, options_schema, validate_options


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
        ({CONF_MAX_CHARGE_W: 3000}, CONF_MAX_CHARGE_W, "out_of_range"),
        ({CONF_MAX_CHARGE_W: "fast"}, CONF_MAX_CHARGE_W, "not_a_number"),
        ({CONF_MAX_CHARGE_W: True}, CONF_MAX_CHARGE_W, "not_a_number"),
        ({CONF_MIN_SOC: 4}, CONF_MIN_SOC, "out_of_range"),
        ({CONF_MIN_SOC: 90, CONF_MAX_SOC: 90}, CONF_MIN_SOC, "min_soc_not_below_max"),
        ({CONF_REQUEST_METHOD: "put"}, CONF_REQUEST_METHOD, "invalid_request_method"),
    ],
)
def test_invalid_options(changes: dict[str, object], field: str, error: str) -> None:
    with pytest.raises(OptionsValidationError) as err:
        validate_options(changes)
    assert (err.value.field, err.value.error) == (field, error)


def test_schema_has_every_option() -> None:
    assert {str(key) for key in options_schema().schema} == set(DEFAULT_OPTIONS)
