"""The entry's options: schema for the form, and validation shared by every caller.

The form groups the options into collapsible sections; they are stored flat, under the keys of
the original design, so entries made before the sections load unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import valid_entity_id
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    DateSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.util import dt as dt_util
import probatio

from .const import (
    CLUSTER_MAX_POWER_W,
    CONF_CAPACITY_KWH,
    CONF_CAPACITY_TARIFF,
    CONF_ENERGY_TAX,
    CONF_EXPORT_PRICE_ENTITY,
    CONF_EXPORT_SHARE_PERCENT,
    CONF_EXPORT_USES_EFFECTIVE_PRICE,
    CONF_FEED_IN_COST,
    CONF_IMPORT_MARKUP,
    CONF_INDEVOLT_MAX_CHARGE_W,
    CONF_INDEVOLT_MAX_DISCHARGE_W,
    CONF_INVERT_BATTERY_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_MAX_GRID_PEAK_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_MIN_SPREAD_PERCENT,
    CONF_NET_METERING_UNTIL,
    CONF_POLL_INTERVAL,
    CONF_PRICE_ENTITY,
    CONF_PRICES_INCLUDE_TAXES,
    CONF_PV_FORECAST_ENTITY,
    CONF_PV_FORECAST_EXTRA_ENTITIES,
    CONF_PV_FORECAST_FROM_ENERGY,
    CONF_PV_POWER_ENTITIES,
    CONF_REQUEST_METHOD,
    CONF_ROUND_TRIP_EFFICIENCY,
    CONF_VAT_PERCENT,
    DEFAULT_OPTIONS,
    DEVICE_MAX_SOC_PERCENT,
    DEVICE_MIN_POWER_W,
    DEVICE_MIN_SOC_PERCENT,
    POLL_INTERVAL_MAX_S,
    POLL_INTERVAL_MIN_S,
    REQUEST_METHOD_GET,
    REQUEST_METHOD_POST,
)


@dataclass(frozen=True, slots=True)
class NumberOption:
    """A numeric option: its range, step and unit (for the form and for validation)."""

    minimum: float
    maximum: float
    step: float
    unit: str | None
    integer: bool = False


NUMBER_OPTIONS: Final[dict[str, NumberOption]] = {
    CONF_POLL_INTERVAL: NumberOption(
        POLL_INTERVAL_MIN_S, POLL_INTERVAL_MAX_S, 1, "s", integer=True
    ),
    CONF_CAPACITY_KWH: NumberOption(0.5, 100, 0.01, "kWh"),
    CONF_MIN_SOC: NumberOption(DEVICE_MIN_SOC_PERCENT, DEVICE_MAX_SOC_PERCENT, 1, "%"),
    CONF_MAX_SOC: NumberOption(DEVICE_MIN_SOC_PERCENT, DEVICE_MAX_SOC_PERCENT, 1, "%"),
    CONF_MAX_CHARGE_W: NumberOption(DEVICE_MIN_POWER_W, CLUSTER_MAX_POWER_W, 10, "W", integer=True),
    CONF_MAX_DISCHARGE_W: NumberOption(
        DEVICE_MIN_POWER_W, CLUSTER_MAX_POWER_W, 10, "W", integer=True
    ),
    CONF_MAX_GRID_PEAK_W: NumberOption(500, 100_000, 100, "W", integer=True),
    CONF_MIN_SPREAD_PERCENT: NumberOption(0, 500, 1, "%"),
    CONF_ROUND_TRIP_EFFICIENCY: NumberOption(0.5, 1.0, 0.01, None),
    CONF_IMPORT_MARKUP: NumberOption(-1, 1, 0.001, "EUR/kWh"),
    CONF_ENERGY_TAX: NumberOption(0, 1, 0.001, "EUR/kWh"),
    CONF_VAT_PERCENT: NumberOption(0, 50, 0.1, "%"),
    CONF_EXPORT_SHARE_PERCENT: NumberOption(0, 100, 1, "%"),
    CONF_FEED_IN_COST: NumberOption(0, 1, 0.001, "EUR/kWh"),
    CONF_CAPACITY_TARIFF: NumberOption(0, 500, 0.01, "EUR/kW/year"),
}
# Optional entities the optimiser reads (None when not configured).
ENTITY_OPTIONS: Final = (CONF_PRICE_ENTITY, CONF_EXPORT_PRICE_ENTITY, CONF_PV_FORECAST_ENTITY)
ENTITY_LIST_OPTIONS: Final = (CONF_PV_FORECAST_EXTRA_ENTITIES, CONF_PV_POWER_ENTITIES)
BOOLEAN_OPTIONS: Final = (
    CONF_INVERT_BATTERY_POWER,
    CONF_PRICES_INCLUDE_TAXES,
    CONF_EXPORT_USES_EFFECTIVE_PRICE,
    CONF_PV_FORECAST_FROM_ENERGY,
)
# The form's sections and the options in each, in the order shown.
SECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "device": (CONF_POLL_INTERVAL, CONF_REQUEST_METHOD, CONF_INVERT_BATTERY_POWER),
    "battery": (
        CONF_CAPACITY_KWH,
        CONF_MIN_SOC,
        CONF_MAX_SOC,
        CONF_MAX_CHARGE_W,
        CONF_MAX_DISCHARGE_W,
        CONF_ROUND_TRIP_EFFICIENCY,
        CONF_MIN_SPREAD_PERCENT,
        CONF_MAX_GRID_PEAK_W,
    ),
    "prices_and_tariffs": (
        CONF_PRICE_ENTITY,
        CONF_EXPORT_PRICE_ENTITY,
        CONF_IMPORT_MARKUP,
        CONF_ENERGY_TAX,
        CONF_VAT_PERCENT,
        CONF_PRICES_INCLUDE_TAXES,
        CONF_EXPORT_USES_EFFECTIVE_PRICE,
        CONF_NET_METERING_UNTIL,
        CONF_EXPORT_SHARE_PERCENT,
        CONF_FEED_IN_COST,
        CONF_CAPACITY_TARIFF,
    ),
    "forecasts": (
        CONF_PV_FORECAST_ENTITY,
        CONF_PV_FORECAST_EXTRA_ENTITIES,
        CONF_PV_FORECAST_FROM_ENERGY,
        CONF_PV_POWER_ENTITIES,
    ),
}
# Optional options a form leaves out of its input when they are cleared.
CLEARABLE_OPTIONS: Final = (*ENTITY_OPTIONS, CONF_NET_METERING_UNTIL)


def entry_options(entry: ConfigEntry) -> dict[str, Any]:
    """An entry's options with the defaults filled in, read live (they change without a reload).

    The power options are capped at the device's own limits as last read (a cluster takes
    more than one unit; one unit less than a cluster's 10800 W the form allows).
    """
    options = {**DEFAULT_OPTIONS, **entry.options}
    for option, device_limit in (
        (CONF_MAX_CHARGE_W, CONF_INDEVOLT_MAX_CHARGE_W),
        (CONF_MAX_DISCHARGE_W, CONF_INDEVOLT_MAX_DISCHARGE_W),
    ):
        if (limit := entry.data.get(device_limit)) is not None:
            options[option] = min(int(options[option]), int(limit))
    return options


class OptionsValidationError(ValueError):
    """An option is invalid; `field` and `error` (a translation key) say which and why."""

    def __init__(self, field: str, error: str) -> None:
        """Keep the field and the translation key of the error."""
        super().__init__(f"{field}: {error}")
        self.field = field
        self.error = error


def validate_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise every option; raise OptionsValidationError on the first bad one."""
    result = {**DEFAULT_OPTIONS, **options}
    for key, spec in NUMBER_OPTIONS.items():
        value = result[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OptionsValidationError(key, "not_a_number")
        if not spec.minimum <= value <= spec.maximum:
            raise OptionsValidationError(key, "out_of_range")
        result[key] = int(value) if spec.integer else float(value)
    if result[CONF_MIN_SOC] >= result[CONF_MAX_SOC]:
        raise OptionsValidationError(CONF_MIN_SOC, "min_soc_not_below_max")
    if result[CONF_REQUEST_METHOD] not in (REQUEST_METHOD_POST, REQUEST_METHOD_GET):
        raise OptionsValidationError(CONF_REQUEST_METHOD, "invalid_request_method")
    for key in BOOLEAN_OPTIONS:
        result[key] = bool(result[key])
    for key in ENTITY_OPTIONS:
        entity_id = result[key] or None
        if entity_id is not None and not (
            isinstance(entity_id, str) and valid_entity_id(entity_id)
        ):
            raise OptionsValidationError(key, "invalid_entity_id")
        result[key] = entity_id
    for key in ENTITY_LIST_OPTIONS:
        entity_ids = result[key] or []
        if not isinstance(entity_ids, list | tuple) or not all(
            isinstance(entity_id, str) and valid_entity_id(entity_id) for entity_id in entity_ids
        ):
            raise OptionsValidationError(key, "invalid_entity_id")
        result[key] = list(entity_ids)
    until = result[CONF_NET_METERING_UNTIL] or None
    if until is not None and (not isinstance(until, str) or dt_util.parse_date(until) is None):
        raise OptionsValidationError(CONF_NET_METERING_UNTIL, "invalid_date")
    result[CONF_NET_METERING_UNTIL] = until
    return result


def sectioned(flat: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat options as the form's sections hold them (for its suggested values)."""
    return {
        name: {key: flat[key] for key in keys if key in flat} for name, keys in SECTIONS.items()
    }


def flattened(form_input: Mapping[str, Any]) -> dict[str, Any]:
    """The form's input, sections taken apart into the flat options they hold."""
    flat: dict[str, Any] = {}
    for key, value in form_input.items():
        if key in SECTIONS and isinstance(value, Mapping):
            flat.update(value)
        else:
            flat[key] = value
    return flat


class OptionalEntitySelector(EntitySelector):
    """An entity selector that also accepts None (an optional entity not configured)."""

    @override
    def __call__(self, data: Any) -> Any:
        """None stays None; anything else must be an entity id."""
        return None if data is None else super().__call__(data)


def options_schema() -> probatio.Schema:
    """The options form: every option, grouped into collapsible sections."""
    fields = _option_fields()
    return probatio.Schema(
        {
            probatio.Required(name): section(
                probatio.Schema({_marker(key): fields[key] for key in keys}),
                {"collapsed": name != "device"},
            )
            for name, keys in SECTIONS.items()
        }
    )


def _marker(key: str) -> probatio.Marker:
    return probatio.Optional(key) if key in CLEARABLE_OPTIONS else probatio.Required(key)


def _option_fields() -> dict[str, object]:
    """Each option's selector, by key."""
    fields: dict[str, object] = {
        key: NumberSelector(
            NumberSelectorConfig(
                min=spec.minimum,
                max=spec.maximum,
                step=spec.step,
                mode=NumberSelectorMode.BOX,
                **({} if spec.unit is None else {"unit_of_measurement": spec.unit}),
            )
        )
        for key, spec in NUMBER_OPTIONS.items()
    }
    fields[CONF_REQUEST_METHOD] = SelectSelector(
        SelectSelectorConfig(
            options=[REQUEST_METHOD_POST, REQUEST_METHOD_GET],
            mode=SelectSelectorMode.DROPDOWN,
            translation_key=CONF_REQUEST_METHOD,
        )
    )
    for key in ENTITY_OPTIONS:
        fields[key] = OptionalEntitySelector(EntitySelectorConfig(domain="sensor"))
    fields[CONF_PV_FORECAST_EXTRA_ENTITIES] = EntitySelector(
        EntitySelectorConfig(domain="sensor", multiple=True)
    )
    fields[CONF_PV_POWER_ENTITIES] = EntitySelector(
        EntitySelectorConfig(domain="sensor", device_class="power", multiple=True)
    )
    fields[CONF_NET_METERING_UNTIL] = DateSelector()
    for key in BOOLEAN_OPTIONS:
        fields[key] = BooleanSelector()
    return fields
