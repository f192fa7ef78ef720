"""One read of the Indevolt: the register values, normalised and checked, and typed views.

Kept apart from the HTTP client (indevolt.py) so the entities and the controller can read a
snapshot without the client's transport details.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import IntEnum
import re
from typing import TYPE_CHECKING

from .indevolt_registers import (
    BATTERY_PACKS,
    GENERATION_2,
    METER_CONNECTED,
    METER_DISCONNECTED,
    REG_AC_INPUT_ENERGY,
    REG_AC_INPUT_POWER,
    REG_AC_OUTPUT_POWER,
    REG_BACKUP_SOC,
    REG_BATTERY_POWER,
    REG_BATTERY_STATE,
    REG_CUMULATIVE_PRODUCTION,
    REG_DAILY_CHARGE,
    REG_DAILY_DISCHARGE,
    REG_DAILY_PRODUCTION,
    REG_DC_OUTPUT_POWER,
    REG_MAX_CHARGE_POWER,
    REG_MAX_DISCHARGE_POWER,
    REG_METER_CONNECTION,
    REG_METER_POWER,
    REG_METER_POWER_GEN1,
    REG_PV1_POWER,
    REG_PV2_POWER,
    REG_RATED_CAPACITY,
    REG_REALTIME_COMMAND,
    REG_REALTIME_POWER,
    REG_REALTIME_SOC,
    REG_SERIAL,
    REG_SOC,
    REG_TOTAL_CHARGE,
    REG_TOTAL_DISCHARGE,
    REG_WORKING_MODE,
    STRING_REGISTERS,
    UNIT_POWER_LIMITS_W,
    BatteryPack,
    PowerLimit,
)
from .plausibility import INDEVOLT_BOUNDS, split_plausible

if TYPE_CHECKING:
    from collections.abc import Mapping

_INT_TEXT = re.compile(r"[-+]?\d+")
# Register numbers are 16-bit; a longer key is no register (and int() may refuse its digits).
_REGISTER_KEY = re.compile(r"\d{1,5}")
_FLOAT_TEXT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
# Firmware that reports 6107 like 6001 (core's reading: 1000 standby, 1001 charge, 1002
# discharge) instead of the vendor's 0/1/2.
_STATE_STYLE_OFFSET = 1000


class WorkingMode(IntEnum):
    """Register 7101 (read) and 47005 (write)."""

    OUTDOOR_PORTABLE = 0
    SELF_CONSUMED = 1
    REALTIME = 4
    SCHEDULE = 5


class BatteryState(IntEnum):
    """Register 6001."""

    STATIC = 1000
    CHARGING = 1001
    DISCHARGING = 1002


class RealtimeAction(IntEnum):
    """First value of a real-time command (register 47015)."""

    STOP = 0
    CHARGE = 1
    DISCHARGE = 2


def normalise_value(register: int, value: object) -> float | int | str | None:
    """Normalise one GetData value: numbers as numbers, numeric text parsed, text kept.

    Some firmware sends numbers as strings (`"606": "1001"`). Text registers (`STRING_REGISTERS`)
    are kept verbatim. Null, booleans, lists and objects are not register values: None.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str):
        return None
    if register in STRING_REGISTERS:
        return value
    text = value.strip()
    if _INT_TEXT.fullmatch(text):
        with contextlib.suppress(ValueError):  # too many digits for int(): a float (inf) below
            return int(text)
    if _FLOAT_TEXT.fullmatch(text):
        return float(text)
    return value


def parse_registers(
    payload: Mapping[str, object],
) -> tuple[dict[int, float | int | str], dict[int, str]]:
    """Turn a decoded GetData reply into `{register: normalised value}` and the rejections.

    Keys that are not register numbers and values that are not scalars are left out. Values
    that are not plausible (`plausibility.INDEVOLT_BOUNDS`: SOC 250 %, NaN, text under a numeric
    register) are left out too, and returned as `{register: reason}`.
    """
    registers: dict[int, float | int | str] = {}
    for key, raw in payload.items():
        if not _REGISTER_KEY.fullmatch(key):
            continue
        value = normalise_value(int(key), raw)
        if value is not None:
            registers[int(key)] = value
    return split_plausible(registers, INDEVOLT_BOUNDS)


@dataclass(frozen=True, slots=True)
class BatterySnapshot:
    """One read of the battery: the normalised registers and typed views of them.

    Every typed attribute is None when its register is absent or not a number (absent keys are
    normal for hours after a firmware update). `invalid_registers` were sent with a value that is
    not plausible and are absent from `registers`.
    """

    registers: Mapping[int, float | int | str]
    invalid_registers: frozenset[int] = frozenset()

    def value(self, register: int) -> float | int | str | None:
        """The normalised value of `register`, None when absent."""
        return self.registers.get(register)

    def number(self, register: int) -> float | None:
        """The value of `register` when it is a number, else None."""
        value = self.registers.get(register)
        if isinstance(value, int | float):
            return value
        return None

    def code(self, register: int) -> int | None:
        """The value of `register` when it is a whole number (an enum code), else None."""
        value = self.number(register)
        if value is None or not float(value).is_integer():
            return None
        return int(value)

    @property
    def working_mode_code(self) -> int | None:
        """Register 7101 as sent."""
        return self.code(REG_WORKING_MODE)

    @property
    def working_mode(self) -> WorkingMode | None:
        """Register 7101; None when absent or a code this client does not know."""
        code = self.working_mode_code
        return None if code is None or code not in WorkingMode else WorkingMode(code)

    @property
    def battery_state_code(self) -> int | None:
        """Register 6001 as sent."""
        return self.code(REG_BATTERY_STATE)

    @property
    def battery_state(self) -> BatteryState | None:
        """Register 6001; None when absent or unknown."""
        code = self.battery_state_code
        return None if code is None or code not in BatteryState else BatteryState(code)

    @property
    def pv1_power_w(self) -> float | None:
        """DC input power of PV1 (1664), W."""
        return self.number(REG_PV1_POWER)

    @property
    def pv2_power_w(self) -> float | None:
        """DC input power of PV2 (1665), W."""
        return self.number(REG_PV2_POWER)

    @property
    def dc_output_power_w(self) -> float | None:
        """Total DC output power (1501), W."""
        return self.number(REG_DC_OUTPUT_POWER)

    @property
    def ac_output_power_w(self) -> float | None:
        """Total AC output power (2108), W."""
        return self.number(REG_AC_OUTPUT_POWER)

    @property
    def daily_production_kwh(self) -> float | None:
        """PV production today (1502), kWh."""
        return self.number(REG_DAILY_PRODUCTION)

    @property
    def cumulative_production_kwh(self) -> float | None:
        """Cumulative production (1505, sent in Wh), kWh."""
        value_wh = self.number(REG_CUMULATIVE_PRODUCTION)
        return None if value_wh is None else value_wh / 1000

    @property
    def ac_input_power_w(self) -> float | None:
        """Total AC input power (2101), W."""
        return self.number(REG_AC_INPUT_POWER)

    @property
    def ac_input_energy_kwh(self) -> float | None:
        """Total AC input energy (2107), kWh."""
        return self.number(REG_AC_INPUT_ENERGY)

    @property
    def battery_power_w(self) -> float | None:
        """Battery power (6000), W, as sent (the simulator and one public client: + = charging)."""
        return self.number(REG_BATTERY_POWER)

    @property
    def soc_percent(self) -> float | None:
        """Battery state of charge (6002), %."""
        return self.number(REG_SOC)

    @property
    def daily_charge_kwh(self) -> float | None:
        """Energy charged today (6004), kWh."""
        return self.number(REG_DAILY_CHARGE)

    @property
    def daily_discharge_kwh(self) -> float | None:
        """Energy discharged today (6005), kWh."""
        return self.number(REG_DAILY_DISCHARGE)

    @property
    def total_charge_kwh(self) -> float | None:
        """Energy charged in total (6006), kWh."""
        return self.number(REG_TOTAL_CHARGE)

    @property
    def total_discharge_kwh(self) -> float | None:
        """Energy discharged in total (6007), kWh."""
        return self.number(REG_TOTAL_DISCHARGE)

    @property
    def meter_power_w(self) -> float | None:
        """Grid CT power (11016; generation 1: 21028), W; + = import when the clamp is right."""
        power = self.number(REG_METER_POWER)
        return self.number(REG_METER_POWER_GEN1) if power is None else power

    @property
    def meter_connected(self) -> bool | None:
        """Whether a meter (the grid CT) is connected (7120: 1000 yes, 1001 no); None if unknown."""
        code = self.code(REG_METER_CONNECTION)
        if code == METER_CONNECTED:
            return True
        if code == METER_DISCONNECTED:
            return False
        return None

    @property
    def serial(self) -> str | None:
        """Serial number (register 0) as text, None when absent."""
        value = self.registers.get(REG_SERIAL)
        return None if value is None else str(value)

    @property
    def rated_capacity_kwh(self) -> float | None:
        """Rated capacity (142), kWh."""
        return self.number(REG_RATED_CAPACITY)

    @property
    def backup_soc_percent(self) -> float | None:
        """Backup (emergency) SOC (6105), %."""
        return self.number(REG_BACKUP_SOC)

    @property
    def realtime_readback(self) -> RealtimeReadback | None:
        """The real-time command the device holds (6107-6109), None when it sends none."""
        action = self.code(REG_REALTIME_COMMAND)
        power = self.number(REG_REALTIME_POWER)
        soc = self.number(REG_REALTIME_SOC)
        if action is None or power is None or soc is None:
            return None
        if action >= _STATE_STYLE_OFFSET:
            action -= _STATE_STYLE_OFFSET
        return RealtimeReadback(action, round(power), round(soc))

    def power_limit_w(self, kind: PowerLimit, generation: int = GENERATION_2) -> int:
        """The device's charge or discharge limit (114 / 115), W; a cluster reports its sum.

        Without the register (generation 1, older firmware): one unit's limit.
        """
        register = REG_MAX_CHARGE_POWER if kind is PowerLimit.CHARGE else REG_MAX_DISCHARGE_POWER
        reported = self.number(register)
        if reported is not None and reported > 0:
            return int(reported)
        charge_w, discharge_w = UNIT_POWER_LIMITS_W[generation]
        return charge_w if kind is PowerLimit.CHARGE else discharge_w

    @property
    def packs_present(self) -> tuple[BatteryPack, ...]:
        """The battery packs whose serial register holds a serial."""
        return tuple(
            pack
            for pack in BATTERY_PACKS
            if isinstance(value := self.registers.get(pack.serial), str) and value.strip()
        )


@dataclass(frozen=True, slots=True)
class RealtimeReadback:
    """A real-time command as sent (47015) or as read back (6107 action, 6109 W, 6108 %)."""

    action: int
    power_w: int
    soc_percent: int

    def matches(self, sent: RealtimeReadback) -> bool:
        """True when the device holds `sent`; a standby matches whatever power and SOC."""
        if self.action != sent.action:
            return False
        return sent.action == RealtimeAction.STOP or (
            self.power_w == sent.power_w and self.soc_percent == sent.soc_percent
        )
