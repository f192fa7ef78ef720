"""The device settings' ranges and their validation, for the controller, entities and actions.

A power setting's maximum is the device's own limit (registers 114 / 115: a cluster reports
its sum), never a fixed constant; without those registers, one unit's limit of its generation.
Pure logic: the snapshot is passed in.
"""

from __future__ import annotations

from .command_validation import raise_validation
from .devices.indevolt_registers import UNIT_POWER_LIMITS_W, DeviceSetting, PowerLimit
from .devices.indevolt_snapshot import BatterySnapshot


def device_power_limit_w(battery: BatterySnapshot | None, kind: PowerLimit, generation: int) -> int:
    """The device's charge or discharge limit, W (one unit's when it was not read)."""
    if battery is not None:
        return battery.power_limit_w(kind, generation)
    charge_w, discharge_w = UNIT_POWER_LIMITS_W[generation]
    return charge_w if kind is PowerLimit.CHARGE else discharge_w


def setting_range(
    setting: DeviceSetting, battery: BatterySnapshot | None, generation: int
) -> tuple[int, int]:
    """The values `setting` takes on this device: (minimum, maximum)."""
    if setting.power_limit is None:
        return setting.minimum, setting.maximum
    return setting.minimum, device_power_limit_w(battery, setting.power_limit, generation)


def check_setting(
    setting: DeviceSetting, value: int, battery: BatterySnapshot | None, generation: int
) -> None:
    """Raise a translated ServiceValidationError unless `value` may be written to `setting`."""
    if generation not in setting.generations:
        raise_validation("setting_not_supported", setting=setting.key, generation=str(generation))
    minimum, maximum = setting_range(setting, battery, generation)
    if not minimum <= value <= maximum or (value - minimum) % setting.step:
        raise_validation(
            "setting_out_of_range",
            setting=setting.key,
            value=str(value),
            min=str(minimum),
            max=str(maximum),
        )
