"""The Indevolt registers ems reads and writes, per device generation (docs/indevolt-registers.md).

Sources: the vendor's OpenData HTTP documentation (INDEVOLT/indevolt-doc, http-api.md), core
Home Assistant's `indevolt` integration and its `indevolt-api` library. Where they disagree the
docs say so; the code follows the one noted next to the register.

Generation 1 is the BK1600 family, generation 2 the PowerFlex2000 / SolidFlex2000 (CMS-SF2000,
CMS-SP2000), as `indevolt-api` tells them apart by the `Sys.GetConfig` type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

GENERATION_1: Final = 1
GENERATION_2: Final = 2
GENERATION_2_TYPES: Final = frozenset({"CMS-SF2000", "CMS-SP2000"})
BOTH_GENERATIONS: Final = frozenset({GENERATION_1, GENERATION_2})
ONLY_GENERATION_2: Final = frozenset({GENERATION_2})

# Write registers.
REG_WRITE_WORKING_MODE: Final = 47005
REG_WRITE_REALTIME: Final = 47015
REG_WRITE_BACKUP_SOC: Final = 1142
REG_WRITE_GRID_CHARGING: Final = 1143
REG_WRITE_INVERTER_INPUT_LIMIT: Final = 1138
REG_WRITE_FEED_IN_LIMIT: Final = 1146
REG_WRITE_MAX_AC_OUTPUT: Final = 1147
REG_WRITE_BYPASS: Final = 7266
REG_WRITE_LED: Final = 7265

# Read registers (device-facts.md and the sources above).
REG_SERIAL: Final = 0
REG_MAX_CHARGE_POWER: Final = 114
REG_MAX_DISCHARGE_POWER: Final = 115
REG_RATED_CAPACITY: Final = 142
REG_CLUSTER_ROLE: Final = 606
REG_BYPASS_POWER: Final = 667
REG_BYPASS_ENABLED: Final = 680
REG_DC_OUTPUT_POWER: Final = 1501
REG_DAILY_PRODUCTION: Final = 1502
REG_CUMULATIVE_PRODUCTION: Final = 1505
REG_PV_VOLTAGES: Final = (1600, 1601, 1602, 1603)
REG_PV_CURRENTS: Final = (1632, 1633, 1634, 1635)
REG_PV1_POWER: Final = 1664
REG_PV2_POWER: Final = 1665
REG_PV3_POWER: Final = 1666
REG_PV4_POWER: Final = 1667
REG_AC_INPUT_POWER: Final = 2101
REG_TOTAL_AC_OUTPUT_ENERGY: Final = 2104
REG_OFF_GRID_OUTPUT_ENERGY: Final = 2105
REG_AC_INPUT_ENERGY: Final = 2107
REG_AC_OUTPUT_POWER: Final = 2108
REG_GRID_VOLTAGE: Final = 2600
REG_GRID_FREQUENCY: Final = 2612
REG_GRID_CHARGING: Final = 2618
REG_BATTERY_POWER: Final = 6000
REG_BATTERY_STATE: Final = 6001
REG_SOC: Final = 6002
REG_DAILY_CHARGE: Final = 6004
REG_DAILY_DISCHARGE: Final = 6005
REG_TOTAL_CHARGE: Final = 6006
REG_TOTAL_DISCHARGE: Final = 6007
REG_BACKUP_SOC: Final = 6105
REG_REALTIME_COMMAND: Final = 6107
REG_REALTIME_SOC: Final = 6108
REG_REALTIME_POWER: Final = 6109
REG_WORKING_MODE: Final = 7101
REG_LED: Final = 7171
REG_METER_CONNECTION: Final = 7120
# Codes of REG_METER_CONNECTION (as core `indevolt` reads them).
METER_CONNECTED: Final = 1000
METER_DISCONNECTED: Final = 1001
REG_GEN1_MOS_TEMPERATURES: Final = (7638, 7639)  # charge, discharge side
REG_GEN1_INVERTER_TEMPERATURE: Final = 7600
REG_GEN1_PACK_TEMPERATURES: Final = (7605, 7620, 7621)  # packs 1-3 (api)
REG_EQUIVALENT_FULL_CYCLES: Final = 8646
REG_TRANSFORMER_TEMPERATURE: Final = 11005
REG_REMAINING_CHARGING_TIME: Final = 11019
REG_REMAINING_DISCHARGING_TIME: Final = 11020
REG_BYPASS_INPUT_ENERGY: Final = 11034
REG_INVERTER_INPUT_LIMIT: Final = 11009
REG_FEED_IN_LIMIT: Final = 11010
REG_MAX_AC_OUTPUT: Final = 11011
REG_METER_POWER: Final = 11016
REG_METER_POWER_GEN1: Final = 21028


@dataclass(frozen=True, slots=True)
class BatteryPack:
    """The registers of one battery pack; it is present while its serial register is not empty.

    `number` 0 is the main pack (in the inverter), 1..5 the extension packs. `mos_temperature`
    is None where no source gives the register. `cycles` is the pack's charge cycle count
    (indevolt-api 1.8.8 `MAIN_CYCLES`, `PACK_n_CYCLES`).
    """

    number: int
    serial: int
    soc: int
    temperature: int
    voltage: int
    current: int
    mos_temperature: int | None
    cycles: int

    @property
    def registers(self) -> tuple[int, ...]:
        """Every register of the pack, serial first."""
        others = (
            self.soc,
            self.temperature,
            self.voltage,
            self.current,
            self.mos_temperature,
            self.cycles,
        )
        return (self.serial, *(register for register in others if register is not None))


# Generation 2 only (indevolt-api; vendor http-api.md for the serials, SOC, voltage, current).
BATTERY_PACKS: Final = (
    BatteryPack(0, 9008, 9000, 9012, 9004, 9013, None, 9003),
    BatteryPack(1, 9032, 9016, 9030, 9020, 19173, 11042, 9019),
    BatteryPack(2, 9051, 9035, 9049, 9039, 19174, 9085, 9038),
    BatteryPack(3, 9070, 9054, 9068, 9058, 19175, 9101, 9057),
    BatteryPack(4, 9165, 9149, 9163, 9153, 19176, 9117, 9152),
    BatteryPack(5, 9218, 9202, 9216, 9206, 19177, 9133, 9205),
)

# Registers that hold text: kept verbatim, never turned into numbers (a serial such as
# "12345678" must stay a string).
STRING_REGISTERS: Final = frozenset({REG_SERIAL, *(pack.serial for pack in BATTERY_PACKS)})


class PowerLimit(StrEnum):
    """Which of the device's power limits caps a setting or a command."""

    CHARGE = "charge"
    DISCHARGE = "discharge"


@dataclass(frozen=True, slots=True)
class DeviceSetting:
    """A setting of the device: read from one register, written to another.

    A number takes `minimum`..`maximum` in `step`s; when `power_limit` is set, the maximum is
    the device's own limit of that kind instead (a cluster takes more than one unit). A switch
    (`on_value` set) reads `on_value` / `off_value` and is written 1 / 0.
    """

    key: str
    read_register: int
    write_register: int
    minimum: int = 0
    maximum: int = 1
    step: int = 1
    power_limit: PowerLimit | None = None
    on_value: int | None = None
    off_value: int | None = None
    generations: frozenset[int] = ONLY_GENERATION_2

    @property
    def is_switch(self) -> bool:
        """True for an on/off setting."""
        return self.on_value is not None


# Ranges: the vendor's write table (1142: 5-100; 1146: 50-2400; 1147 and 1138: 50-2400 per
# unit, up to 7200 for three units). Core allows 0 for the feed-in limit and the AC output, and
# 0 for the backup SOC; ems takes the vendor's floor except for the feed-in limit, where 0 (no
# export at all, for negative prices) is what core users set and the read register 11010
# documents 0-10800.
BACKUP_SOC: Final = DeviceSetting("backup_soc", REG_BACKUP_SOC, REG_WRITE_BACKUP_SOC, 5, 100)
FEED_IN_LIMIT: Final = DeviceSetting(
    "feed_in_limit",
    REG_FEED_IN_LIMIT,
    REG_WRITE_FEED_IN_LIMIT,
    0,
    power_limit=PowerLimit.DISCHARGE,
)
MAX_AC_OUTPUT: Final = DeviceSetting(
    "max_ac_output_power",
    REG_MAX_AC_OUTPUT,
    REG_WRITE_MAX_AC_OUTPUT,
    50,
    power_limit=PowerLimit.DISCHARGE,
)
INVERTER_INPUT_LIMIT: Final = DeviceSetting(
    "inverter_input_limit",
    REG_INVERTER_INPUT_LIMIT,
    REG_WRITE_INVERTER_INPUT_LIMIT,
    50,
    power_limit=PowerLimit.CHARGE,
)
GRID_CHARGING: Final = DeviceSetting(
    "grid_charging", REG_GRID_CHARGING, REG_WRITE_GRID_CHARGING, on_value=1001, off_value=1000
)
BYPASS: Final = DeviceSetting(
    "bypass", REG_BYPASS_ENABLED, REG_WRITE_BYPASS, on_value=1, off_value=0
)
# The LED light ring: no energy function, offered as core does (read 7171 / write 7265).
LED: Final = DeviceSetting("led", REG_LED, REG_WRITE_LED, on_value=1, off_value=0)
NUMBER_SETTINGS: Final = (BACKUP_SOC, FEED_IN_LIMIT, MAX_AC_OUTPUT, INVERTER_INPUT_LIMIT)
SWITCH_SETTINGS: Final = (GRID_CHARGING, BYPASS, LED)

# One unit's power limits when the device does not report 114 / 115 (indevolt-api
# DEVICE_LIMITS): generation -> (charge W, discharge W).
UNIT_POWER_LIMITS_W: Final = {GENERATION_1: (1200, 800), GENERATION_2: (2400, 2400)}

# The 17 registers of the original design, in its order.
DESIGN_REGISTERS: Final[tuple[int, ...]] = (
    REG_WORKING_MODE,
    REG_PV1_POWER,
    REG_PV2_POWER,
    REG_DC_OUTPUT_POWER,
    REG_AC_OUTPUT_POWER,
    REG_DAILY_PRODUCTION,
    REG_CUMULATIVE_PRODUCTION,
    REG_AC_INPUT_POWER,
    REG_AC_INPUT_ENERGY,
    REG_BATTERY_POWER,
    REG_BATTERY_STATE,
    REG_SOC,
    REG_DAILY_CHARGE,
    REG_DAILY_DISCHARGE,
    REG_TOTAL_CHARGE,
    REG_TOTAL_DISCHARGE,
    REG_METER_POWER,
)

# Every poll: what changes from one poll to the next (both generations: the design registers,
# the meter connection, the real-time command read back, bypass and PV strings 1-2), and the
# backup SOC: the discharge floor (soc_floor.py) must follow a change made in the app at once.
_FAST_COMMON: Final[tuple[int, ...]] = (
    *DESIGN_REGISTERS,
    REG_BACKUP_SOC,
    REG_METER_CONNECTION,
    REG_REALTIME_COMMAND,
    REG_REALTIME_SOC,
    REG_REALTIME_POWER,
    REG_BYPASS_POWER,
    REG_TOTAL_AC_OUTPUT_ENERGY,
    REG_OFF_GRID_OUTPUT_ENERGY,
    REG_PV_VOLTAGES[0],
    REG_PV_VOLTAGES[1],
    REG_PV_CURRENTS[0],
    REG_PV_CURRENTS[1],
)
# Identity, settings, limits and the packs change rarely: they take turns in the room the fast
# registers leave in the one request of a poll (indevolt_poll_plan.py).
_SLOW_COMMON: Final[tuple[int, ...]] = (
    REG_SERIAL,
    REG_RATED_CAPACITY,
    REG_CLUSTER_ROLE,
    REG_BYPASS_INPUT_ENERGY,
)

FAST_REGISTERS_BY_GENERATION: Final[dict[int, tuple[int, ...]]] = {
    GENERATION_1: (*_FAST_COMMON, REG_METER_POWER_GEN1, *REG_GEN1_MOS_TEMPERATURES),
    GENERATION_2: (
        *_FAST_COMMON,
        REG_PV3_POWER,
        REG_PV4_POWER,
        REG_PV_VOLTAGES[2],
        REG_PV_VOLTAGES[3],
        REG_PV_CURRENTS[2],
        REG_PV_CURRENTS[3],
        REG_GRID_VOLTAGE,
        REG_GRID_FREQUENCY,
    ),
}
SLOW_REGISTERS_BY_GENERATION: Final[dict[int, tuple[int, ...]]] = {
    GENERATION_1: (
        *_SLOW_COMMON,
        REG_GEN1_INVERTER_TEMPERATURE,
        *REG_GEN1_PACK_TEMPERATURES,
    ),
    GENERATION_2: (
        *_SLOW_COMMON,
        REG_GRID_CHARGING,
        REG_MAX_CHARGE_POWER,
        REG_MAX_DISCHARGE_POWER,
        REG_BYPASS_ENABLED,
        REG_INVERTER_INPUT_LIMIT,
        REG_FEED_IN_LIMIT,
        REG_MAX_AC_OUTPUT,
        REG_LED,
        REG_EQUIVALENT_FULL_CYCLES,
        REG_TRANSFORMER_TEMPERATURE,
        REG_REMAINING_CHARGING_TIME,
        REG_REMAINING_DISCHARGING_TIME,
        *(register for pack in BATTERY_PACKS for register in pack.registers),
    ),
}
# Everything a generation's polls read.
POLL_REGISTERS_BY_GENERATION: Final[dict[int, tuple[int, ...]]] = {
    generation: (*fast, *SLOW_REGISTERS_BY_GENERATION[generation])
    for generation, fast in FAST_REGISTERS_BY_GENERATION.items()
}
POLL_REGISTERS: Final = POLL_REGISTERS_BY_GENERATION[GENERATION_2]


def generation_of(model: str | None) -> int:
    """The register generation of a `Sys.GetConfig` type (as indevolt-api decides it).

    Firmware without `Sys.GetConfig` reports no type: the PowerFlex2000 ems was built for.
    """
    if model is None:
        return GENERATION_2
    return GENERATION_2 if model in GENERATION_2_TYPES else GENERATION_1
