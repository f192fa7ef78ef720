"""Constants of the ems integration: keys, defaults and limits shared by every layer."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "ems"
LOGGER = logging.getLogger(__package__)

# Config entry data (set by the config flow).
CONF_P1_HOST: Final = "p1_host"
CONF_INDEVOLT_HOST: Final = "indevolt_host"
CONF_INDEVOLT_PASSWORD: Final = "indevolt_password"  # noqa: S105 - a key name
CONF_P1_SERIAL: Final = "p1_serial"
CONF_INDEVOLT_SERIAL: Final = "indevolt_serial"
# The Indevolt's register generation (1 or 2, devices/indevolt_registers.py), stored at set-up.
CONF_INDEVOLT_GENERATION: Final = "indevolt_generation"
# The Indevolt's own charge and discharge limits (registers 114 / 115, a cluster's sum), W, as
# last read: the power options never exceed them.
CONF_INDEVOLT_MAX_CHARGE_W: Final = "indevolt_max_charge_w"
CONF_INDEVOLT_MAX_DISCHARGE_W: Final = "indevolt_max_discharge_w"
# The P1 keys of the last successful poll: the P1 sensors to create while the meter is down.
CONF_P1_KEYS: Final = "p1_keys"

P1_DEFAULT_PORT: Final = 80
INDEVOLT_DEFAULT_PORT: Final = 8080

# Options, under the key names of the original design where it had them.
CONF_POLL_INTERVAL: Final = "poll_interval_seconds"
CONF_CAPACITY_KWH: Final = "battery_rated_capacity_kwh"
CONF_MIN_SOC: Final = "battery_min_soc_percent"
CONF_MAX_SOC: Final = "battery_max_soc_percent"
CONF_MAX_CHARGE_W: Final = "battery_max_charge_power_w"
CONF_MAX_DISCHARGE_W: Final = "battery_max_discharge_power_w"
CONF_MAX_GRID_PEAK_W: Final = "battery_max_desired_grid_peak_w"
CONF_MIN_SPREAD_PERCENT: Final = "battery_min_price_spread_percent"
CONF_ROUND_TRIP_EFFICIENCY: Final = "battery_round_trip_efficiency"
CONF_REQUEST_METHOD: Final = "indevolt_request_method"
CONF_INVERT_BATTERY_POWER: Final = "invert_battery_power"
# Optimiser inputs (docs/optimiser.md): price and forecast entities, and the price formula.
CONF_PRICE_ENTITY: Final = "price_entity_id"
CONF_EXPORT_PRICE_ENTITY: Final = "export_price_entity_id"
CONF_PV_FORECAST_ENTITY: Final = "pv_forecast_entity_id"
CONF_IMPORT_MARKUP: Final = "price_import_markup_eur_per_kwh"
CONF_ENERGY_TAX: Final = "price_energy_tax_eur_per_kwh"
CONF_VAT_PERCENT: Final = "price_vat_percent"
CONF_PRICES_INCLUDE_TAXES: Final = "prices_include_taxes"
CONF_EXPORT_USES_EFFECTIVE_PRICE: Final = "export_uses_effective_price"
# More PV forecasts added to the first (Solcast's tomorrow entity, a second array), and the
# solar forecasts of the Energy dashboard (Forecast.Solar and other energy platforms).
CONF_PV_FORECAST_EXTRA_ENTITIES: Final = "pv_forecast_extra_entity_ids"
CONF_PV_FORECAST_FROM_ENERGY: Final = "pv_forecast_from_energy_dashboard"
# Power sensors of PV the Indevolt does not measure (an inverter of its own, AC-coupled): added
# back to the measured load like the Indevolt's PV inputs, so its forecast is not counted twice.
CONF_PV_POWER_ENTITIES: Final = "pv_power_entity_ids"
# Tariffs of 2026-2027 (docs/prices.md): the end of net metering in the Netherlands and the
# Belgian capacity charge.
CONF_NET_METERING_UNTIL: Final = "net_metering_until"
CONF_EXPORT_SHARE_PERCENT: Final = "export_share_percent"
CONF_FEED_IN_COST: Final = "feed_in_cost_eur_per_kwh"
CONF_CAPACITY_TARIFF: Final = "capacity_tariff_eur_per_kw_year"

REQUEST_METHOD_POST: Final = "post"
REQUEST_METHOD_GET: Final = "get"

# Defaults: the values of the original design, except the poll interval (the Indevolt vendor
# advises polling no faster than every 5 s; the earlier daemon used 1 s).
DEFAULT_OPTIONS: Final[dict[str, object]] = {
    CONF_POLL_INTERVAL: 5,
    CONF_CAPACITY_KWH: 12.0,
    CONF_MIN_SOC: 10.0,
    CONF_MAX_SOC: 100.0,
    CONF_MAX_CHARGE_W: 2400,
    CONF_MAX_DISCHARGE_W: 2400,
    CONF_MAX_GRID_PEAK_W: 4000,
    CONF_MIN_SPREAD_PERCENT: 25.0,
    CONF_ROUND_TRIP_EFFICIENCY: 0.80,
    CONF_REQUEST_METHOD: REQUEST_METHOD_POST,
    CONF_INVERT_BATTERY_POWER: False,
    CONF_PRICE_ENTITY: None,
    CONF_EXPORT_PRICE_ENTITY: None,
    CONF_PV_FORECAST_ENTITY: None,
    CONF_IMPORT_MARKUP: 0.0,
    CONF_ENERGY_TAX: 0.0,
    CONF_VAT_PERCENT: 0.0,
    CONF_PRICES_INCLUDE_TAXES: False,
    CONF_EXPORT_USES_EFFECTIVE_PRICE: False,
    CONF_PV_FORECAST_EXTRA_ENTITIES: [],
    CONF_PV_FORECAST_FROM_ENERGY: False,
    CONF_PV_POWER_ENTITIES: [],
    CONF_NET_METERING_UNTIL: None,
    CONF_EXPORT_SHARE_PERCENT: 100.0,
    CONF_FEED_IN_COST: 0.0,
    CONF_CAPACITY_TARIFF: 0.0,
}

POLL_INTERVAL_MIN_S: Final = 1
POLL_INTERVAL_MAX_S: Final = 60

# The PowerFlex2000 accepts real-time power commands between these limits; one unit takes
# 2400 W, a cluster of three 7200 W, and the vendor documents 0-10800 W for 47016 on a
# parallel system. The limit of the device at hand is read from it (114 / 115) at each use.
DEVICE_MIN_POWER_W: Final = 50
CLUSTER_MAX_POWER_W: Final = 10800
DEVICE_MIN_SOC_PERCENT: Final = 5
DEVICE_MAX_SOC_PERCENT: Final = 100

DEFAULT_SCAN_INTERVAL: Final = timedelta(seconds=5)

# Polls after an ems write of 47005 (not counting one in flight during it) that may still report
# the old 7101 (real firmware is suspected to lag by 1-2 polls); mode_tracker.py applies it.
MODE_REPORT_LAG_POLLS: Final = 3
