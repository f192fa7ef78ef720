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

from dataclasses import dataclass
import json
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
from .indevolt_poll_plan import MAX_KEYS_PER_REQUEST, PollPlan
from .indevolt_registers import (
    DESIGN_REGISTERS,
    GENERATION_2,
    POLL_REGISTERS,
    REG_SERIAL,
    REG_WORKING_MODE,
    REG_WRITE_REALTIME,
    REG_WRITE_WORKING_MODE,
)
from .indevolt_snapshot import (
    BatterySnapshot,
    BatteryState,
    RealtimeAction,
    RealtimeReadback,
    WorkingMode,
    normalise_value,
    parse_registers,
)
from .plausibility import RejectionLog

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# The snapshot's names stay importable from here, where the integration has always taken them.
__all__ = [
    "DESIGN_REGISTERS",
    "POLL_REGISTERS",
    "BatterySnapshot",
    "BatteryState",
    "IndevoltClient",
    "IndevoltDeviceInfo",
    "RealtimeAction",
    "WorkingMode",
    "normalise_value",
    "parse_registers",
]

DIGEST_USER: Final = "opend"
# Statuses with which firmware that only takes GET answers a POST.
METHOD_REFUSED_STATUSES: Final = frozenset({400, 404, 405, 501})
SETDATA_FUNCTION: Final = 16

METHOD_POST: Final = "post"
METHOD_GET: Final = "get"


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
        generation: int = GENERATION_2,
    ) -> None:
        """Remember where the device is; nothing is sent until a method is called."""
        self._session = session
        self.set_address(host, port)
        self.method = method
        self.timeout_s = timeout_s
        # Which register set `get_data` reads by default (indevolt_registers.py).
        self.generation = generation
        # The last real-time command the device accepted (for the readback of 6107-6109).
        self.last_realtime: RealtimeReadback | None = None
        # Which keys each poll reads (indevolt_poll_plan.py), and the slow registers as last
        # read: a poll carries them between their readings.
        self._plan = PollPlan(generation)
        self._slow_values: dict[int, float | int | str] = {}
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

    async def get_data(self, registers: Iterable[int] | None = None) -> BatterySnapshot:
        """Read `registers`, <= 50 keys a request; by default, poll (see `poll`).

        Duplicates are asked once. Keys the firmware does not know are absent from the snapshot,
        as are implausible values (logged once per register until a valid value arrives).
        """
        if registers is None:
            return await self.poll()
        return await self._read(registers)

    async def _read(self, registers: Iterable[int]) -> BatterySnapshot:
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

    async def poll(self) -> BatterySnapshot:
        """Read the generation's fast registers and a share of the slow ones, in one request.

        The slow registers (identity, settings, limits, packs) take turns in the room the fast
        ones leave (`PollPlan`); the snapshot carries each one's last value between its
        readings. All of them are read at the first poll, at the first after a failed one (the
        device may have restarted or had a pack swapped while away) and after the generation
        changed; those polls take two requests.
        """
        plan = self._plan
        if plan.generation != self.generation:
            plan = self._plan = PollPlan(self.generation)
            self._slow_values = {}
        keys = plan.next_keys()
        try:
            snapshot = await self._read(keys)
        except BaseException:
            plan.read_everything_next()
            raise
        slow_read = keys[len(plan.fast) :]
        for register in slow_read:
            # A register the device no longer reports (a pack taken out) goes with its value.
            self._slow_values.pop(register, None)
            if register in snapshot.registers:
                self._slow_values[register] = snapshot.registers[register]
        return BatterySnapshot(
            registers={**self._slow_values, **snapshot.registers},
            invalid_registers=snapshot.invalid_registers,
        )

    def refresh_slow_registers(self) -> None:
        """Read the settings' registers at the next poll (a setting was written)."""
        self._plan.read_settings_next()

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
        self.last_realtime = RealtimeReadback(int(action), int(watts), int(soc_percent))

    async def write_setting(self, register: int, value: int) -> None:
        """Write one device setting (`register` = [value]); ranges are the caller's to check."""
        await self._set_data(register, [int(value)])

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
