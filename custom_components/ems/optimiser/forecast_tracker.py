"""Measures the house's load and PV every poll and keeps the forecast log in a Store."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Final

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import PowerConverter

from ..const import (
    CONF_INVERT_BATTERY_POWER,
    CONF_MAX_CHARGE_W,
    CONF_MAX_SOC,
    CONF_PV_POWER_ENTITIES,
    DOMAIN,
)
from ..coordinator import EmsCoordinator
from ..devices.indevolt import BatterySnapshot
from ..devices.indevolt_registers import FEED_IN_LIMIT
from ..options import entry_options
from .dispatch import SOC_LIMIT_MARGIN_PERCENT
from .forecast_log import ForecastLog
from .readings import usable_power_w, usable_soc_percent

STORAGE_VERSION: Final = 1
# Written at most this often (and at shutdown): losing a minute of bookkeeping does not matter.
SAVE_DELAY_S: Final = 60
# Integrations whose sensors measure the Indevolt itself (ems, and core's Indevolt integration).
BATTERY_PLATFORMS: Final = frozenset({DOMAIN, "indevolt"})
# An export within this much of the Indevolt's feed-in limit counts as held at the limit (W).
AT_LIMIT_MARGIN_W: Final = 100.0


class ForecastTracker:
    """The forecast log of one entry, fed with the measured load and PV of every good poll."""

    def __init__(self, hass: HomeAssistant, coordinator: EmsCoordinator) -> None:
        """Nothing is read or measured until `async_start`."""
        self._hass = hass
        self._coordinator = coordinator
        self._store = _store(hass, coordinator.config_entry.entry_id)
        self.log: ForecastLog | None = None

    async def async_load(self) -> ForecastLog:
        """The log, read from the Store the first time."""
        if self.log is None:
            self.log = ForecastLog.from_dict(await self._store.async_load())
        return self.log

    @callback
    def async_start(self) -> Callable[[], Coroutine[Any, Any, None]]:
        """Measure every poll from now on; returns the function that stops and saves."""
        remove_listener = self._coordinator.async_add_listener(self._handle_poll)

        async def async_stop() -> None:
            remove_listener()
            if self.log is not None:
                # Now rather than after the delay: the entry may be removed right after.
                await self._store.async_save(self.log.as_dict())

        return async_stop

    @callback
    def _handle_poll(self) -> None:
        coordinator = self._coordinator
        if self.log is None or not coordinator.last_update_success:
            return  # measurements before the stored log is read are not worth a merge
        data = coordinator.data
        p1, battery = data.p1, data.battery
        if p1 is None or battery is None:
            return
        grid_w = usable_power_w(p1.active_power_w)
        charge_w = usable_power_w(battery.battery_power_w)  # + = charging, as sent
        if grid_w is None or charge_w is None:
            return
        options = entry_options(coordinator.config_entry)
        if options[CONF_INVERT_BATTERY_POWER]:
            charge_w = -charge_w
        dc_pv_w = sum(
            value
            for value in (usable_power_w(battery.pv1_power_w), usable_power_w(battery.pv2_power_w))
            if value is not None
        )
        pv_w = dc_pv_w + sum(
            sensor_power_w(self._hass, entity_id)
            for entity_id in other_pv_sensors(self._hass, options[CONF_PV_POWER_ENTITIES])
        )
        now = dt_util.utcnow()
        # What the house used apart from its PV: the grid's import plus the battery's discharge.
        is_new = self.log.add_sample(now, net_load_w=grid_w - charge_w, pv_w=pv_w)
        if dc_pv_w > 0 and _may_hold_pv_back(battery, options, grid_w=grid_w, charge_w=charge_w):
            self.log.note_pv_held_back(now)
        if is_new:
            self._store.async_delay_save(self.log.as_dict, SAVE_DELAY_S)


def _may_hold_pv_back(
    battery: BatterySnapshot, options: Mapping[str, Any], *, grid_w: float, charge_w: float
) -> bool:
    """Whether the Indevolt may be holding its PV back: its PV is then no measure of the sun.

    It does when the export is at its feed-in limit (the user's, or lowered at a negative price)
    and the battery takes no more (full, or charging at its maximum).
    """
    limit_w = usable_power_w(battery.number(FEED_IN_LIMIT.read_register))
    if limit_w is None or -grid_w < limit_w - AT_LIMIT_MARGIN_W:
        return False
    soc = usable_soc_percent(battery.soc_percent)
    full = soc is not None and soc >= float(options[CONF_MAX_SOC]) - SOC_LIMIT_MARGIN_PERCENT
    return full or charge_w >= float(options[CONF_MAX_CHARGE_W]) - AT_LIMIT_MARGIN_W


def other_pv_sensors(hass: HomeAssistant, entity_ids: Iterable[str]) -> tuple[str, ...]:
    """The configured PV power sensors outside the battery, less any of the Indevolt's own.

    The Indevolt's PV inputs are measured already (1664/1665): a PV power sensor of this
    integration or of core's Indevolt integration polling the same battery would count twice.
    """
    registry = er.async_get(hass)
    return tuple(
        entity_id
        for entity_id in dict.fromkeys(entity_ids)
        if (entry := registry.async_get(entity_id)) is None
        or entry.platform not in BATTERY_PLATFORMS
    )


def sensor_power_w(hass: HomeAssistant, entity_id: str) -> float:
    """A PV power sensor's state in W, 0 when it has none that can be read.

    Many inverters report nothing at night (unavailable): that is no PV, as is a state that is
    not a plausible power in a power unit (the load is then measured as without the sensor).
    """
    state = hass.states.get(entity_id)
    if state is None:
        return 0.0
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT, UnitOfPower.WATT)
    if not isinstance(unit, str):
        return 0.0
    try:
        value = PowerConverter.convert(float(state.state), unit, UnitOfPower.WATT)
    except ValueError, HomeAssistantError:
        return 0.0
    return max(usable_power_w(value) or 0.0, 0.0)


async def async_remove_forecast_log(hass: HomeAssistant, entry_id: str) -> None:
    """Delete an entry's stored forecast log (the entry is removed)."""
    await _store(hass, entry_id).async_remove()


def forecast_log_key(entry_id: str) -> str:
    """The storage key of an entry's forecast log."""
    return f"{DOMAIN}.forecast_log.{entry_id}"


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORAGE_VERSION, forecast_log_key(entry_id))
