"""The battery commands' checks and errors: refused before anything is sent, translated after.

A command out of range raises a translated ServiceValidationError (nothing was sent); a device
failure while sending becomes a translated HomeAssistantError naming the action. No I/O: the
options and the last snapshot are passed in.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
import math
from typing import Any, Final, Never

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import (
    CONF_MAX_CHARGE_W,
    CONF_MAX_DISCHARGE_W,
    CONF_MAX_SOC,
    CONF_MIN_SOC,
    DEVICE_MAX_SOC_PERCENT,
    DEVICE_MIN_POWER_W,
    DEVICE_MIN_SOC_PERCENT,
    DOMAIN,
)
from .control_store import CommandSource, ForcedCommand, ForcedKind
from .devices.errors import (
    AuthenticationError,
    CommandRejectedError,
    DeviceConnectionError,
    DeviceError,
    DeviceTimeoutError,
)
from .devices.indevolt import BatterySnapshot
from .devices.indevolt_registers import PowerLimit
from .soc_floor import soc_floor_percent

MIN_DURATION: Final = timedelta(minutes=1)
MAX_DURATION: Final = timedelta(minutes=1440)


class ControlAction(StrEnum):
    """What a caller asked the controller to do."""

    CHARGE = "charge"
    DISCHARGE = "discharge"
    STOP = "stop"
    SET_WORKING_MODE = "set_working_mode"
    RESTORE_AUTO_MODE = "restore_auto_mode"
    SET_SETTING = "set_setting"


def forced_command(
    kind: ForcedKind,
    source: CommandSource,
    power_w: int | None,
    target_soc_percent: int | None,
    duration: timedelta | None,
) -> ForcedCommand:
    """The record of a command starting now; it ends `duration` from now, if given."""
    now = dt_util.utcnow()
    return ForcedCommand(
        kind=kind,
        source=source,
        started=now,
        power_w=power_w,
        target_soc_percent=target_soc_percent,
        deadline=None if duration is None else now + duration,
    )


def checked_charge_target(
    options: dict[str, Any],
    device_max_w: int,
    *,
    power_w: int,
    target_soc_percent: int | None,
    duration: timedelta | None,
) -> int:
    """Check a charge command; its target SOC (default: the configured max SOC)."""
    max_soc = math.floor(float(options[CONF_MAX_SOC]))
    target = max_soc if target_soc_percent is None else target_soc_percent
    check_power(power_w, int(options[CONF_MAX_CHARGE_W]), device_max_w, PowerLimit.CHARGE)
    check_target_soc(target, options)
    check_duration(duration)
    return target


def checked_discharge_target(
    options: dict[str, Any],
    device_max_w: int,
    battery: BatterySnapshot | None,
    *,
    power_w: int,
    target_soc_percent: int | None,
    duration: timedelta | None,
) -> int:
    """Check a discharge command; its target SOC.

    The default target is the configured min SOC, or the battery's backup SOC (6105) when
    that is higher; an explicit target below the backup SOC is refused.
    """
    backup = backup_soc_percent(battery)
    if target_soc_percent is None:
        target = soc_floor_percent(float(options[CONF_MIN_SOC]), backup)
    else:
        target = target_soc_percent
    check_power(power_w, int(options[CONF_MAX_DISCHARGE_W]), device_max_w, PowerLimit.DISCHARGE)
    check_target_soc(target, options)
    if backup is not None and target < backup:
        raise_validation("target_soc_below_backup", target=str(target), backup=str(backup))
    check_duration(duration)
    return target


def check_power(power_w: int, configured_max_w: int, device_max_w: int, kind: PowerLimit) -> None:
    """Refuse a power outside the device minimum .. the lower of both maxima."""
    maximum = min(configured_max_w, device_max_w)
    if not DEVICE_MIN_POWER_W <= power_w <= maximum:
        raise_validation(
            f"{kind}_power_out_of_range",
            power=str(power_w),
            min=str(DEVICE_MIN_POWER_W),
            max=str(maximum),
        )


def check_target_soc(target: int, options: dict[str, Any]) -> None:
    """Refuse a target SOC outside the configured range (within the device's)."""
    low = max(math.ceil(float(options[CONF_MIN_SOC])), DEVICE_MIN_SOC_PERCENT)
    high = min(math.floor(float(options[CONF_MAX_SOC])), DEVICE_MAX_SOC_PERCENT)
    if not low <= target <= high:
        raise_validation("target_soc_out_of_range", target=str(target), min=str(low), max=str(high))


def check_duration(duration: timedelta | None) -> None:
    """Refuse a duration outside MIN_DURATION .. MAX_DURATION (None: until restored)."""
    if duration is not None and not MIN_DURATION <= duration <= MAX_DURATION:
        raise_validation("duration_out_of_range", duration=str(int(duration.total_seconds() // 60)))


def backup_soc_percent(battery: BatterySnapshot | None) -> int | None:
    """The backup SOC (6105) rounded up, None when not read."""
    backup = None if battery is None else battery.backup_soc_percent
    return None if backup is None or not math.isfinite(backup) else math.ceil(backup)


def standby_soc_percent(options: dict[str, Any]) -> int:
    """The SOC a standby command carries: the configured min SOC, within the device's range."""
    min_soc = math.ceil(float(options[CONF_MIN_SOC]))
    return max(DEVICE_MIN_SOC_PERCENT, min(DEVICE_MAX_SOC_PERCENT, min_soc))


def raise_validation(translation_key: str, **placeholders: str) -> Never:
    """Raise the translated ServiceValidationError `translation_key` (nothing was sent)."""
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=translation_key,
        translation_placeholders=placeholders,
    )


def device_error(err: DeviceError, action: ControlAction) -> HomeAssistantError:
    """The translated error for a device failure during `action`."""
    if isinstance(err, CommandRejectedError):
        key = "command_rejected"
    elif isinstance(err, DeviceTimeoutError):
        key = "device_timeout"
    elif isinstance(err, AuthenticationError):
        key = "command_auth_failed"
    elif isinstance(err, DeviceConnectionError):
        key = "device_unreachable"
    else:
        key = "device_error"
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"action": str(action), "error": str(err) or type(err).__name__},
    )
