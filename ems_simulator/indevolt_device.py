"""The Indevolt beyond the physics: generation, cluster size, packs, meter and device settings.

`DeviceSettings` is what the app would configure on a real unit; `settings_registers()` adds
its registers (and the generation's) to the model's, and `write_setting()` applies a SetData to
a setting register (docs/indevolt-registers.md). Where the sources disagree:

- `strict_ranges` True takes the vendor's write ranges (backup SOC 5-100, feed-in limit
  50-2400 per unit, AC output and input limits 50..2400 per unit); False takes core's (0 for
  the backup SOC, the feed-in limit and the AC output).
- `command_style` "vendor" reports the real-time command (6107) as 0/1/2, "state" as
  1000/1001/1002 (as core's integration reads it).
- `ignores_commands` accepts a 47015 write (`result: true`) but keeps the previous command:
  firmware that does not hold what it confirmed, for the readback check.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from .model import STATE_CHARGING, STATE_DISCHARGING

if TYPE_CHECKING:
    from .model import HomeModel

GENERATION_1 = 1
GENERATION_2 = 2
# Sys.GetConfig type per generation (indevolt-api: CMS-SF2000 / CMS-SP2000 are generation 2;
# the generation-1 type is not documented, this one is the simulator's).
DEVICE_TYPES = {GENERATION_1: "CMS-BK1600", GENERATION_2: "CMS-SF2000"}
# One unit's limits, W: (charge, discharge) (indevolt-api DEVICE_LIMITS).
UNIT_LIMITS_W = {GENERATION_1: (1200, 800), GENERATION_2: (2400, 2400)}
MAX_UNITS = 3
MAX_EXTENSION_PACKS = 5
CLUSTER_MAIN = 1000
CLUSTER_STANDALONE = 1002
# Pack registers (serial, SOC, temperature, voltage, current, MOS temperature, cycles); pack 0
# is the main pack (no MOS temperature register is known for it).
PACK_REGISTERS = (
    (9008, 9000, 9012, 9004, 9013, None, 9003),
    (9032, 9016, 9030, 9020, 19173, 11042, 9019),
    (9051, 9035, 9049, 9039, 19174, 9085, 9038),
    (9070, 9054, 9068, 9058, 19175, 9101, 9057),
    (9165, 9149, 9163, 9153, 19176, 9117, 9152),
    (9218, 9202, 9216, 9206, 19177, 9133, 9205),
)
# Write register -> attribute of DeviceSettings (backup SOC and grid charging live on the model).
_POWER_SETTINGS = {1146: "feed_in_limit_w", 1147: "max_ac_output_w", 1138: "inverter_input_w"}
_SWITCHES = {1143: "grid_charging", 7266: "bypass_enabled", 7265: "led_enabled"}


@dataclass
class DeviceSettings:
    """What the simulated Indevolt is and how it is configured."""

    generation: int = GENERATION_2
    units: int = 1
    extension_packs: int = 1
    meter_connected: bool = True
    strict_ranges: bool = True
    command_style: str = "vendor"
    ignores_commands: bool = False
    # One unit's maximum output: a limit that does not bind until someone lowers it (the
    # physics honour it, see `HomeModel._curtailed_w`).
    feed_in_limit_w: int = 2400
    max_ac_output_w: int = 2400
    inverter_input_w: int = 2400
    bypass_enabled: bool = False
    led_enabled: bool = False

    def __post_init__(self) -> None:
        """Refuse a device that cannot exist."""
        self.check()

    def check(self) -> None:
        """Raise ValueError for a generation, cluster size or pack count out of range."""
        if self.generation not in UNIT_LIMITS_W:
            raise ValueError(f"generation must be 1 or 2, not {self.generation}")
        if not 1 <= self.units <= MAX_UNITS:
            raise ValueError(f"units must be 1..{MAX_UNITS}, not {self.units}")
        if not 0 <= self.extension_packs <= MAX_EXTENSION_PACKS:
            raise ValueError(f"extension_packs must be 0..{MAX_EXTENSION_PACKS}")
        if self.command_style not in ("vendor", "state"):
            raise ValueError("command_style must be 'vendor' or 'state'")

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `{field: value}` (the control API); ValueError for unknown fields."""
        known = {field.name for field in fields(self)}
        if not set(changes) <= known:
            raise ValueError(f"settable: {sorted(known)}")
        for name, value in changes.items():
            setattr(self, name, value)
        self.check()

    @property
    def device_type(self) -> str:
        """The `Sys.GetConfig` type."""
        return DEVICE_TYPES[self.generation]

    @property
    def charge_limit_w(self) -> int:
        """What the device (the whole cluster) can take from the grid, W."""
        return UNIT_LIMITS_W[self.generation][0] * self.units

    @property
    def discharge_limit_w(self) -> int:
        """What the device (the whole cluster) can deliver, W."""
        return UNIT_LIMITS_W[self.generation][1] * self.units


def _minutes_to(model: HomeModel, soc_percent: float) -> int:
    """Minutes until the battery reaches `soc_percent` at its present power (11019 / 11020)."""
    energy_wh = abs(soc_percent - model.soc_percent) / 100 * model.capacity_kwh * 1000
    return round(energy_wh / abs(model.battery_sample_w) * 60)


def settings_registers(model: HomeModel, device: DeviceSettings) -> dict[int, float | int | str]:
    """The registers of `device` beyond the model's physics, for its generation."""
    command = model.command
    command_code = command.action + (1000 if device.command_style == "state" else 0)
    pv_volts = (38.5, 37.9, 0.0, 0.0)
    state = model.battery_state()
    charging, discharging = state == STATE_CHARGING, state == STATE_DISCHARGING
    registers: dict[int, float | int | str] = {
        606: CLUSTER_MAIN if device.units > 1 else CLUSTER_STANDALONE,
        667: 0,
        2104: round(model.discharge_total_wh / 1000 * 0.9, 2),
        2105: 0.0,
        6107: command_code,
        6108: command.soc_percent,
        6109: command.watts,
        1600: pv_volts[0],
        1601: pv_volts[1],
        1632: round(model.pv_w[0] / pv_volts[0], 2),
        1633: round(model.pv_w[1] / pv_volts[1], 2),
    }
    if device.generation == GENERATION_1:
        registers.update({7600: 35.0, 7605: 24.0, 7620: 24.5, 7621: 25.0, 7638: 31.0, 7639: 33.0})
        registers[11034] = 0
        return registers
    registers.update(
        {
            114: device.charge_limit_w,
            115: device.discharge_limit_w,
            680: int(device.bypass_enabled),
            7171: int(device.led_enabled),
            8646: round(model.discharge_total_wh / (model.capacity_kwh * 1000), 1),
            11005: 41.0,
            11019: _minutes_to(model, 100.0) if charging else 0,
            11020: _minutes_to(model, model.backup_soc_percent) if discharging else 0,
            11034: 0,
            1602: 0.0,
            1603: 0.0,
            1634: 0.0,
            1635: 0.0,
            2600: round(model.p1.voltage_v[0], 1),
            2612: 50.0,
            11009: device.inverter_input_w,
            11010: device.feed_in_limit_w,
            11011: device.max_ac_output_w,
        }
    )
    soc = round(model.soc_percent)
    for number, (serial, soc_reg, temp, volt, current, mos, cycles) in enumerate(PACK_REGISTERS):
        present = number <= device.extension_packs
        registers[serial] = f"PACK{number}-{10000000 + number}" if present else ""
        if not present:
            continue
        registers.update(
            {soc_reg: soc, temp: 24.5 + number, volt: 51.2, current: 0.0, cycles: 112 + number}
        )
        if mos is not None:
            registers[mos] = 27.0 + number
    return registers


def device_registers(
    model: HomeModel, device: DeviceSettings, serial: str
) -> dict[int, float | int | str]:
    """Every register the simulated Indevolt of `device`'s generation sends."""
    registers = {**model.registers(serial), **settings_registers(model, device)}
    if device.generation == GENERATION_1:
        # The BK1600 reports its meter in 21028 (vendor, BK1600 table; indevolt-api).
        registers[21028] = registers.pop(11016)
    return registers


def write_setting(
    model: HomeModel, device: DeviceSettings, register: int, values: list[int]
) -> bool | None:
    """Apply a SetData to a setting register: its result, or None when it is no setting."""
    if device.generation != GENERATION_2 or len(values) != 1:
        return None
    value = values[0]
    strict = device.strict_ranges
    if register == 1142:
        if not (5 if strict else 0) <= value <= 100:
            return False
        model.backup_soc_percent = value
        return True
    if register in _SWITCHES:
        if value not in (0, 1):
            return False
        target = model if register == 1143 else device
        setattr(target, _SWITCHES[register], bool(value))
        return True
    if register in _POWER_SETTINGS:
        limit = device.charge_limit_w if register == 1138 else device.discharge_limit_w
        floor = 50 if strict or register == 1138 else 0
        if not floor <= value <= limit:
            return False
        setattr(device, _POWER_SETTINGS[register], value)
        if register == 1146:
            model.feed_in_limit_w = value
        return True
    return None
