"""Async client of the Indevolt PowerFlex2000 "OpenData" local API (port 8080).

Why our own client rather than the public `indevolt-api` package: that package turns network
errors into a plain `False` on writes, so a rejected command and a dropped connection look the
same, and battery control must know which happened. Here every failure is a distinct
`DeviceError` subclass (see `errors.py`).

Wire format (vendor documentation, and what the device tolerates):
- `POST /rpc/Indevolt.GetData?config={"t":[7101,6002]}` -> `{"7101": 1, "6002": 92}`; the JSON
  in `config` is compact and URL-encoded. GET works the same way on the firmware the earlier
  daemon used; `method` selects it and `probe_method` finds out which one the device takes.
- `POST /rpc/Indevolt.SetData?config={"f":16,"t":47005,"v":[4]}` -> `{"result": true|false}`.
- `GET /rpc/Sys.GetConfig` -> `{"device": {"type", "sn", "mac", "fw", ...}}`.
- Every request carries `Connection: close`: the embedded server drops kept-alive connections.
- Long key lists have been answered with HTTP 400, so reads go out in batches of <= 50 keys.
- Optional HTTP Digest authentication, user `opend`; a 401 is an `AuthenticationError`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import IntEnum
import json
import re
from typing import TYPE_CHECKING, Final

import aiohttp
from yarl import URL

from ._http import decode_json_object, exchange
from .errors import (
    AuthenticationError,
    CommandRejectedError,
    DeviceHttpStatusError,
    MalformedReplyError,
)
from .plausibility import INDEVOLT_BOUNDS, RejectionLog, split_plausible

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

DIGEST_USER: Final = "opend"
MAX_KEYS_PER_REQUEST: Final = 50
# Statuses with which firmware that only takes GET answers a POST.
METHOD_REFUSED_STATUSES: Final = frozenset({400, 404, 405, 501})
SETDATA_FUNCTION: Final = 16

METHOD_POST: Final = "post"
METHOD_GET: Final = "get"

# Write registers.
REG_WRITE_WORKING_MODE: Final = 47005
REG_WRITE_REALTIME: Final = 47015

# Read registers (device-facts.md).
REG_SERIAL: Final = 0
REG_RATED_CAPACITY: Final = 142
REG_PV1_POWER: Final = 1664
REG_PV2_POWER: Final = 1665
REG_PV3_POWER: Final = 1666
REG_PV4_POWER: Final = 1667
REG_DC_OUTPUT_POWER: Final = 1501
REG_DAILY_PRODUCTION: Final = 1502
REG_CUMULATIVE_PRODUCTION: Final = 1505
REG_AC_INPUT_POWER: Final = 2101
REG_AC_INPUT_ENERGY: Final = 2107
REG_AC_OUTPUT_POWER: Final = 2108
REG_GRID_CHARGING: Final = 2618
REG_BATTERY_POWER: Final = 6000
REG_BATTERY_STATE: Final = 6001
REG_SOC: Final = 6002
REG_DAILY_CHARGE: Final = 6004
REG_DAILY_DISCHARGE: Final = 6005
REG_TOTAL_CHARGE: Final = 6006
REG_TOTAL_DISCHARGE: Final = 6007
REG_BACKUP_SOC: Final = 6105
REG_WORKING_MODE: Final = 7101
REG_METER_CONNECTION: Final = 7120
REG_METER_POWER: Final = 11016
# Codes of REG_METER_CONNECTION (as core `indevolt` reads them).
METER_CONNECTED: Final = 1000
METER_DISCONNECTED: Final = 1001

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

# What the integration polls: the design registers plus identity, capacity and the neighbours
# entities use. 1666/1667 are absent on two-input models, which is harmless.
POLL_REGISTERS: Final[tuple[int, ...]] = (
    *DESIGN_REGISTERS,
    REG_SERIAL,
    REG_RATED_CAPACITY,
    REG_BACKUP_SOC,
    REG_METER_CONNECTION,
    REG_GRID_CHARGING,
    REG_PV3_POWER,
    REG_PV4_POWER,
)

# Registers that hold text: kept verbatim, never turned into numbers (a serial such as
# "12345678" must stay a string). 9008.. are the battery pack serials of the gen-2 fixture.
STRING_REGISTERS: Final = frozenset({REG_SERIAL, 9008, 9032, 9051, 9070, 9165, 9218})

_INT_TEXT = re.compile(r"[-+]?\d+")
# Register numbers are 16-bit; a longer key is no register (and int() may refuse its digits).
_REGISTER_KEY = re.compile(r"\d{1,5}")
_FLOAT_TEXT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


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
        """Grid CT power (11016), W; + = import when the clamp faces the right way."""
        return self.number(REG_METER_POWER)

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


@dataclass(frozen=True, slots=True)
class IndevoltDeviceInfo:
    """Identity of the inverter, from `Sys.GetConfig` (serial possibly from register 0)."""

    model: str | None
    serial: str
    mac: str | None
    firmware: str | None


def _text(device: Mapping[str, object], key: str) -> str | None:
    value = device.get(key)
    return value.strip() or None if isinstance(value, str) else None


class IndevoltClient:
    """Reads and commands an Indevolt battery inverter over its OpenData HTTP API.

    The aiohttp session is injected (Home Assistant's shared one) and never created or closed
    here. `method` ("post" or "get") and `timeout_s` can be changed at run time. With a
    `password`, every request goes through aiohttp's `DigestAuthMiddleware` (user `opend`),
    passed per request because the session is shared with other integrations.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int = 8080,
        *,
        password: str | None = None,
        method: str = METHOD_POST,
        timeout_s: float = 4.0,
    ) -> None:
        """Remember where the device is; nothing is sent until a method is called."""
        self._session = session
        self.set_address(host, port)
        self.method = method
        self.timeout_s = timeout_s
        # One middleware per client: it keeps the nonce of the last challenge, so later requests
        # authenticate up front instead of taking a 401 round trip each time.
        self._middlewares = (
            (aiohttp.DigestAuthMiddleware(DIGEST_USER, password),) if password else None
        )
        self._rejections = RejectionLog[int](lambda register: f"Indevolt register {register}")

    def set_address(self, host: str, port: int) -> None:
        """Send the next requests to `host`:`port` (the device moved; nothing is sent now)."""
        self._base = URL.build(scheme="http", host=host, port=port)
        self.host = host
        self.port = port

    @property
    def method(self) -> str:
        """HTTP method for GetData/SetData: "post" (vendor documented) or "get"."""
        return self._method

    @method.setter
    def method(self, method: str) -> None:
        if method not in (METHOD_POST, METHOD_GET):
            raise ValueError(f"method must be {METHOD_POST!r} or {METHOD_GET!r}, not {method!r}")
        self._method = method

    async def get_data(self, registers: Iterable[int] = POLL_REGISTERS) -> BatterySnapshot:
        """Read `registers`, one request per <= 50 keys, into one snapshot.

        Duplicates are asked once. Keys the firmware does not know are absent from the snapshot,
        as are implausible values (logged once per register until a valid value arrives).
        """
        keys = list(dict.fromkeys(registers))
        merged: dict[int, float | int | str] = {}
        rejected: dict[int, str] = {}
        for start in range(0, len(keys), MAX_KEYS_PER_REQUEST):
            batch = keys[start : start + MAX_KEYS_PER_REQUEST]
            payload = await self._rpc("Indevolt.GetData", {"t": batch}, self.method)
            batch_values, batch_rejected = parse_registers(payload)
            merged.update(batch_values)
            rejected.update(batch_rejected)
        self._rejections.update(rejected, merged)
        return BatterySnapshot(registers=merged, invalid_registers=frozenset(rejected))

    async def get_config(self) -> IndevoltDeviceInfo:
        """Read model, serial, MAC and firmware (`Sys.GetConfig`).

        The serial is `sn` when it is not empty, else register 0 read verbatim with GetData,
        else the MAC address (unique too, so the entry still gets a stable id). Firmware without
        `Sys.GetConfig` (404) gives the serial of register 0 and nothing else.
        """
        try:
            payload = await self._rpc("Sys.GetConfig", None, METHOD_GET)
        except DeviceHttpStatusError as err:
            if err.status != 404:
                raise
            payload = {"device": {}}
        device = payload.get("device")
        if not isinstance(device, dict):
            raise MalformedReplyError("Sys.GetConfig reply has no device object")
        mac = _text(device, "mac")
        serial = _text(device, "sn") or (await self.get_data((REG_SERIAL,))).serial or mac
        if not serial:
            raise MalformedReplyError("the device reports no serial number")
        return IndevoltDeviceInfo(
            model=_text(device, "type"),
            serial=serial,
            mac=mac,
            firmware=_text(device, "fw"),
        )

    async def probe_method(self) -> str:
        """Find the method the firmware takes for GetData, adopt it and return it.

        Tries POST (vendor documented); when the firmware refuses the method (400, 404, 405 or
        501) tries GET. Any other error propagates, as does the GET attempt's error.
        """
        config = {"t": [REG_WORKING_MODE]}
        try:
            await self._rpc("Indevolt.GetData", config, METHOD_POST)
        except DeviceHttpStatusError as err:
            if err.status not in METHOD_REFUSED_STATUSES or isinstance(err, AuthenticationError):
                raise
            await self._rpc("Indevolt.GetData", config, METHOD_GET)
            self.method = METHOD_GET
        else:
            self.method = METHOD_POST
        return self.method

    async def set_working_mode(self, mode: WorkingMode) -> None:
        """Switch the working mode (register 47005)."""
        await self._set_data(REG_WRITE_WORKING_MODE, [int(mode)])

    async def realtime(self, action: RealtimeAction, watts: int, soc_percent: int) -> None:
        """Send a real-time command (register 47015 = [action, watts, soc]).

        The device honours it only in `WorkingMode.REALTIME`; limits are the caller's to check.
        """
        await self._set_data(REG_WRITE_REALTIME, [int(action), int(watts), int(soc_percent)])

    async def charge(self, watts: int, soc_percent: int) -> None:
        """Charge at `watts` until the SOC reaches `soc_percent`."""
        await self.realtime(RealtimeAction.CHARGE, watts, soc_percent)

    async def discharge(self, watts: int, soc_percent: int) -> None:
        """Discharge at `watts` until the SOC falls to `soc_percent`."""
        await self.realtime(RealtimeAction.DISCHARGE, watts, soc_percent)

    async def stop(self) -> None:
        """Stand by: `[0, 0, 0]` (the integration decides on any fallback if it is rejected)."""
        await self.realtime(RealtimeAction.STOP, 0, 0)

    async def _set_data(self, register: int, values: list[int]) -> None:
        config = {"f": SETDATA_FUNCTION, "t": register, "v": values}
        payload = await self._rpc("Indevolt.SetData", config, self.method)
        result = payload.get("result")
        if result is False:
            raise CommandRejectedError(f"SetData {register}={values} was rejected")
        if result is not True:
            raise MalformedReplyError(f"SetData {register}: reply has no boolean result")

    async def _rpc(
        self, service: str, config: Mapping[str, object] | None, method: str
    ) -> dict[str, object]:
        url = self._base.with_path(f"/rpc/{service}")
        if config is not None:
            url = url.with_query(config=json.dumps(config, separators=(",", ":")))
        reply = await exchange(
            self._session,
            method.upper(),
            url,
            timeout_s=self.timeout_s,
            headers={"Connection": "close"},
            middlewares=self._middlewares,
        )
        what = f"{method.upper()} /rpc/{service}"
        if reply.status == 401:
            raise AuthenticationError(401, f"{what}: authentication required or failed")
        if not 200 <= reply.status < 300:
            raise DeviceHttpStatusError(reply.status, f"{what}: HTTP status {reply.status}")
        return decode_json_object(reply.body, what)
