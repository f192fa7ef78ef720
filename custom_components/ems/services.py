"""The ems.* actions: thin wrappers that find the entry and call its battery controller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.helpers import config_validation as cv
import probatio

from .command_validation import MAX_DURATION, MIN_DURATION, raise_validation
from .const import DOMAIN
from .controller import BatteryController
from .devices.indevolt import WorkingMode
from .runtime_data import EmsConfigEntry

SERVICE_CHARGE: Final = "charge"
SERVICE_DISCHARGE: Final = "discharge"
SERVICE_STOP: Final = "stop"
SERVICE_SET_WORKING_MODE: Final = "set_working_mode"
SERVICE_RESTORE_AUTO_MODE: Final = "restore_auto_mode"

ATTR_POWER: Final = "power"
ATTR_TARGET_SOC: Final = "target_soc"
ATTR_DURATION: Final = "duration"
ATTR_MODE: Final = "mode"

# The action's `mode` values; the select entity shows the same ones.
MODE_OPTIONS: Final = {
    "self_consumed": WorkingMode.SELF_CONSUMED,
    "realtime": WorkingMode.REALTIME,
    "schedule": WorkingMode.SCHEDULE,
}


def _number(value: Any) -> int | float:
    """A number, or its text. Whether it is whole is checked later, with a translated message."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            value = text
        try:
            return float(text)
        except ValueError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise probatio.Invalid(f"expected a number, not {value!r}")


_ENTRY: Final = {probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}
# Whole numbers and ranges are checked by the handlers and the controller (the ranges depend on
# the options), with translated messages.
_POWER_COMMAND_SCHEMA: Final = probatio.Schema(
    {
        **_ENTRY,
        probatio.Required(ATTR_POWER): _number,
        probatio.Optional(ATTR_TARGET_SOC): _number,
        probatio.Optional(ATTR_DURATION): _number,
    }
)
_STOP_SCHEMA: Final = probatio.Schema({**_ENTRY, probatio.Optional(ATTR_DURATION): _number})
_SET_WORKING_MODE_SCHEMA: Final = probatio.Schema(
    {**_ENTRY, probatio.Required(ATTR_MODE): probatio.In(list(MODE_OPTIONS))}
)
_ENTRY_SCHEMA: Final = probatio.Schema(_ENTRY)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the ems.* actions (once, from `async_setup`)."""

    def handler(
        run: Callable[[BatteryController, ServiceCall], Awaitable[None]],
    ) -> Callable[[ServiceCall], Coroutine[Any, Any, None]]:
        async def handle(call: ServiceCall) -> None:
            await run(_controller(hass, call), call)

        return handle

    hass.services.async_register(
        DOMAIN, SERVICE_CHARGE, handler(_charge), schema=_POWER_COMMAND_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DISCHARGE, handler(_discharge), schema=_POWER_COMMAND_SCHEMA
    )
    hass.services.async_register(DOMAIN, SERVICE_STOP, handler(_stop), schema=_STOP_SCHEMA)
    hass.services.async_register(
        DOMAIN,
        SERVICE_SET_WORKING_MODE,
        handler(_set_working_mode),
        schema=_SET_WORKING_MODE_SCHEMA,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_RESTORE_AUTO_MODE, handler(_restore_auto_mode), schema=_ENTRY_SCHEMA
    )


async def _charge(controller: BatteryController, call: ServiceCall) -> None:
    await controller.async_charge(
        _power(call), _whole(call, ATTR_TARGET_SOC), duration=_duration(call)
    )


async def _discharge(controller: BatteryController, call: ServiceCall) -> None:
    await controller.async_discharge(
        _power(call), _whole(call, ATTR_TARGET_SOC), duration=_duration(call)
    )


async def _stop(controller: BatteryController, call: ServiceCall) -> None:
    await controller.async_stop(duration=_duration(call))


async def _set_working_mode(controller: BatteryController, call: ServiceCall) -> None:
    await controller.async_set_working_mode(MODE_OPTIONS[call.data[ATTR_MODE]])


async def _restore_auto_mode(controller: BatteryController, call: ServiceCall) -> None:
    await controller.async_restore_auto_mode()


def _whole_number(field: str, value: float) -> int:
    """`value` as an int; 1000.7 is refused rather than silently truncated."""
    if isinstance(value, int):
        return value
    if not value.is_integer():  # also NaN and infinity
        raise_validation("not_a_whole_number", field=field, value=str(value))
    return int(value)


def _whole(call: ServiceCall, field: str) -> int | None:
    value: int | float | None = call.data.get(field)
    return None if value is None else _whole_number(field, value)


def _power(call: ServiceCall) -> int:
    return _whole_number(ATTR_POWER, call.data[ATTR_POWER])


def _duration(call: ServiceCall) -> timedelta | None:
    minutes = _whole(call, ATTR_DURATION)
    if minutes is None:
        return None
    # Checked before building the timedelta, which overflows for a huge number of minutes.
    if not MIN_DURATION.total_seconds() <= minutes * 60 <= MAX_DURATION.total_seconds():
        raise_validation("duration_out_of_range", duration=str(minutes))
    return timedelta(minutes=minutes)


def _controller(hass: HomeAssistant, call: ServiceCall) -> BatteryController:
    """The controller of the entry the call names, or of the only loaded entry."""
    entry_id: str | None = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id is None:
        loaded: list[EmsConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
        if not loaded:
            raise_validation("no_loaded_entry")
        if len(loaded) > 1:
            raise_validation("entry_required", count=str(len(loaded)))
        return loaded[0].runtime_data.controller
    entry: EmsConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise_validation("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise_validation("entry_not_loaded", title=entry.title)
    return entry.runtime_data.controller
