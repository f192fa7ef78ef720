"""The entry's options: schema for the form, and validation shared by every caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import valid_entity_id
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio

from .const import (
    CONF_CAPACITY_KWH,
    CONF_ENERGY_TAX,
    CONF_EXPORT_PRICE_ENTITY,
    CONF_EXPORT_USES_EFFECTIVE_PRICE,
    CONF_IMPORT_MARKUP,
    CONF_INVERT_BATTERY_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_MAX_GRID_PEAK_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    CONF_MIN_SPREAD_PERCENT,
    CONF_POLL_INTERVAL,
    CONF_PRICE_ENTITY,
    CONF_PRICES_INCLUDE_TAXES,
    CONF_PV_FORECAST_ENTITY,
    CONF_REQUEST_METHOD,
    CONF_ROUND_TRIP_EFFICIENCY,
    CONF_VAT_PERCENT,
    DEFAULT_OPTIONS,
    DEVICE_MAX_POWER_W,
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
    CONF_MAX_CHARGE_W: NumberOption(DEVICE_MIN_POWER_W, DEVICE_MAX_POWER_W, 10, "W", integer=True),
    CONF_MAX_DISCHARGE_W: NumberOption(
        DEVICE_MIN_POWER_W, DEVICE_MAX_POWER_W, 10, "W", integer=True
    ),
    CONF_MAX_GRID_PEAK_W: NumberOption(500, 100_000, 100, "W", integer=True),
    CONF_MIN_SPREAD_PERCENT: NumberOption(0, 500, 1, "%"),
    CONF_ROUND_TRIP_EFFICIENCY: NumberOption(0.5, 1.0, 0.01, None),
    CONF_IMPORT_MARKUP: NumberOption(-1, 1, 0.001, "EUR/kWh"),
    CONF_ENERGY_TAX: NumberOption(0, 1, 0.001, "EUR/kWh"),
    CONF_VAT_PERCENT: NumberOption(0, 50, 0.1, "%"),
}
# Optional entities the optimiser reads (None when not configured).
ENTITY_OPTIONS: Final = (CONF_PRICE_ENTITY, CONF_EXPORT_PRICE_ENTITY, CONF_PV_FORECAST_ENTITY)
BOOLEAN_OPTIONS: Final = (
    CONF_INVERT_BATTERY_POWER,
    CONF_PRICES_INCLUDE_TAXES,
    CONF_EXPORT_USES_EFFECTIVE_PRICE,
)


def entry_options(entry: ConfigEntry) -> dict[str, Any]:
    """An entry's options with the defaults filled in, read live (they change without a reload)."""
    return {**DEFAULT_OPTIONS, **entry.options}


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
    return result


class OptionalEntitySelector(EntitySelector):
    """An entity selector that also accepts None (an optional entity not configured)."""

    @override
    def __call__(self, data: Any) -> Any:
        """None stays None; anything else must be an entity id."""
        return None if data is None else super().__call__(data)


def options_schema() -> probatio.Schema:
    """The options form."""
    fields: dict[probatio.Marker, object] = {
        probatio.Required(key): NumberSelector(
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
    fields[probatio.Required(CONF_REQUEST_METHOD)] = SelectSelector(
        SelectSelectorConfig(
            options=[REQUEST_METHOD_POST, REQUEST_METHOD_GET],
            mode=SelectSelectorMode.DROPDOWN,
            translation_key=CONF_REQUEST_METHOD,
        )
    )
    for key in ENTITY_OPTIONS:
        fields[probatio.Optional(key)] = OptionalEntitySelector(
            EntitySelectorConfig(domain="sensor")
        )
    for key in BOOLEAN_OPTIONS:
        fields[probatio.Required(key)] = BooleanSelector()
    return probatio.Schema(fields)
