"""aiohttp applications of the simulated devices: their routes, request log and serving.

Each device is its own `web.Application` on its own port (as on a LAN). A middleware logs each
device request and lets the device's faults answer first (fault_replies.py); both applications
also serve the control API (control_api.py), which acts on the whole simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import asdict, dataclass
from datetime import datetime
import json
import time
from typing import Any

from aiohttp import web

from .control_api import add_control_routes
from .fault_replies import INDEVOLT, P1, DigestAuth, fault_reply
from .faults import Faults
from .hostile import with_raw_values
from .indevolt_device import DeviceSettings, device_registers, write_setting
from .model import HomeModel

# Longer key lists are answered 400, as some firmware does with very long lists.
MAX_KEYS = 50

P1_DEVICE = {
    "product_type": "HWE-P1",
    "product_name": "P1 meter",
    "serial": "3c39e7aabbcc",
    "firmware_version": "5.18",
    "api_version": "v1",
}
INDEVOLT_SERIAL = "PowerFlex2000-12345678"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class RequestRecord:
    """One request a device received: `raw_query` as on the wire, `config` decoded JSON.

    `status` is None when the request got no reply (device off, hang, dropped connection).
    """

    device: str
    method: str
    path: str
    raw_query: str
    config: Any
    time: float
    status: int | None = None
    # The Host header: the address the client sent the request to.
    host: str = ""


class Simulator:
    """Both simulated devices around one `HomeModel`, with per-device faults and a request log."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        start: datetime | None = None,
        initial_soc_percent: float = 50.0,
        config_sn: str = "",
        p1_faults: Faults | None = None,
        indevolt_faults: Faults | None = None,
        ct_reversed: bool = False,
        battery_charge_positive: bool = True,
        device: DeviceSettings | None = None,
    ) -> None:
        """Create the model and the fault knobs; serve with `p1_app()` / `indevolt_app()`."""
        self.clock = clock
        self.model = HomeModel(
            clock,
            start=start,
            initial_soc_percent=initial_soc_percent,
            ct_reversed=ct_reversed,
            battery_charge_positive=battery_charge_positive,
        )
        self.config_sn = config_sn
        self.device = device or DeviceSettings()
        self._apply_device()
        self.faults = {P1: p1_faults or Faults(), INDEVOLT: indevolt_faults or Faults()}
        self.requests: list[RequestRecord] = []
        self._auth = DigestAuth()

    @property
    def p1_faults(self) -> Faults:
        """Fault knobs of the P1 meter."""
        return self.faults[P1]

    @property
    def indevolt_faults(self) -> Faults:
        """Fault knobs of the Indevolt."""
        return self.faults[INDEVOLT]

    # -- applications --------------------------------------------------------------------------

    def p1_app(self) -> web.Application:
        """The HomeWizard P1 meter: `/api`, `/api/v1/data`, plus the control API."""
        app = web.Application(middlewares=[self._device_middleware(P1)])
        app.router.add_get("/api", self._p1_device)
        app.router.add_get("/api/v1/data", self._p1_data)
        add_control_routes(app, self)
        return app

    def indevolt_app(self) -> web.Application:
        """The Indevolt: `/rpc/Indevolt.GetData`, `.SetData` (POST, GET), `/rpc/Sys.GetConfig`."""
        app = web.Application(middlewares=[self._device_middleware(INDEVOLT)])
        for method in ("GET", "POST"):
            app.router.add_route(method, "/rpc/Indevolt.GetData", self._get_data)
            app.router.add_route(method, "/rpc/Indevolt.SetData", self._set_data)
        app.router.add_get("/rpc/Sys.GetConfig", self._get_config)
        add_control_routes(app, self)
        return app

    # -- request log and faults, shared by both devices ----------------------------------------

    def _device_middleware(self, device: str) -> Any:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith("/sim/"):
                return await handler(request)
            record = self._log(device, request)
            faults = self.faults[device]
            response = await fault_reply(device, faults, request, self._auth)
            if response is None:
                self.model.advance()
                response = await handler(request)
            transport = request.transport
            if transport is not None and not transport.is_closing():
                record.status = response.status
            return response

        return middleware

    def _log(self, device: str, request: web.Request) -> RequestRecord:
        raw = request.query.get("config")
        config: Any = raw
        if raw is not None:
            with contextlib.suppress(ValueError):
                config = json.loads(raw)
        record = RequestRecord(
            device=device,
            method=request.method,
            path=request.path,
            raw_query=request.raw_path.partition("?")[2],
            config=config,
            time=self.clock(),
            host=request.host,
        )
        self.requests.append(record)
        return record

    # -- P1 ------------------------------------------------------------------------------------

    async def _p1_device(self, request: web.Request) -> web.Response:
        return web.json_response(P1_DEVICE)

    async def _p1_data(self, request: web.Request) -> web.Response:
        body = with_raw_values(self.model.p1_data(), self.p1_faults.raw_values)
        return web.Response(body=body, content_type="application/json")

    # -- Indevolt ------------------------------------------------------------------------------

    async def _get_data(self, request: web.Request) -> web.Response:
        config = _config(request)
        keys = config.get("t") if isinstance(config, dict) else None
        if not isinstance(keys, list) or not all(isinstance(key, int) for key in keys):
            return web.json_response({"error": "bad config"}, status=400)
        if len(keys) > MAX_KEYS:
            return web.json_response({"error": "too many keys"}, status=400)
        faults = self.indevolt_faults
        # The device's settings say whether a meter is connected; the physics zero the CT then.
        self.model.meter_connected = self.device.meter_connected
        known = device_registers(self.model, self.device, INDEVOLT_SERIAL)
        reply: dict[str, object] = {}
        for key in keys:
            if key in known and key not in faults.missing_registers:
                value = known[key]
                reply[str(key)] = str(value) if faults.string_numbers else value
        asked = {str(key) for key in keys}
        raw_values = {key: raw for key, raw in faults.raw_values.items() if key in asked}
        body = with_raw_values(reply, raw_values)
        return web.Response(body=body, content_type="application/json")

    async def _set_data(self, request: web.Request) -> web.Response:
        config = _config(request)
        if (
            not isinstance(config, dict)
            or config.get("f") != 16
            or not isinstance(config.get("t"), int)
            or not isinstance(config.get("v"), list)
            or not all(type(value) is int for value in config["v"])
        ):
            return web.json_response({"error": "bad config"}, status=400)
        if self.indevolt_faults.reject_commands:
            return web.json_response({"result": False})
        return web.json_response({"result": self._write(config["t"], config["v"])})

    def _write(self, register: int, values: list[int]) -> bool:
        model = self.model
        if register == 47005 and len(values) == 1:
            return model.set_mode(values[0])
        if register == 47015 and len(values) == 3:
            if self.device.ignores_commands:
                return True  # confirmed, and not held: what the readback check must notice
            return model.set_realtime(*values)
        return bool(write_setting(model, self.device, register, values))

    def set_device(self, device: DeviceSettings) -> None:
        """Make the Indevolt `device` (another generation, cluster size, setting ...)."""
        self.device = device
        self._apply_device()

    def _apply_device(self) -> None:
        """Give the physics the device's (cluster's) power limits."""
        self.model.max_charge_w = self.device.charge_limit_w
        self.model.max_discharge_w = self.device.discharge_limit_w
        self.model.feed_in_limit_w = self.device.feed_in_limit_w

    async def _get_config(self, request: web.Request) -> web.Response:
        now = self.model.now()
        device = {
            "hostname": "",
            "timezone": 60,
            "type": self.device.device_type,
            "sn": self.config_sn,
            "mac": "7C3E82EF997F",
            "fw": "T1.4.06_ROOD. 072_M4801_0000002C",
            "f_ver": "T1406.07.002C",
            "p_ver": "VOD.00.08",
            "time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "time_stamp": int(now.timestamp()),
            "run_time": self.model.tick,
        }
        return web.json_response({"device": device})

    # -- state ---------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Model state and faults, as `GET /sim/state` shows them."""
        model = self.model
        model.advance()
        return {
            "time": model.now().isoformat(),
            "tick": model.tick,
            "mode": model.mode,
            "command": asdict(model.command),
            "soc_percent": model.soc_percent,
            "house_w": model.house_w,
            "pv_w": sum(model.pv_w),
            "battery_w": model.battery_w,
            "grid_w": model.grid_w,
            "ct_reversed": model.ct_reversed,
            "ct_gain": model.ct_gain,
            "battery_charge_positive": model.battery_charge_positive,
            "backup_soc_percent": model.backup_soc_percent,
            "grid_charging": model.grid_charging,
            "device": asdict(self.device),
            "faults": self.faults_dict(),
        }

    def faults_dict(self) -> dict[str, Any]:
        """Both devices' faults, as `GET /sim/faults` shows them."""
        return {device: faults.to_dict() for device, faults in self.faults.items()}


def _config(request: web.Request) -> Any:
    raw = request.query.get("config")
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator being served: its handle and where each device listens."""

    simulator: Simulator
    host: str
    p1_port: int
    indevolt_port: int

    @property
    def p1_url(self) -> str:
        """Base URL of the P1 meter."""
        return f"http://{self.host}:{self.p1_port}"

    @property
    def indevolt_url(self) -> str:
        """Base URL of the Indevolt."""
        return f"http://{self.host}:{self.indevolt_port}"


@contextlib.asynccontextmanager
async def serve(
    simulator: Simulator, host: str = "127.0.0.1", p1_port: int = 0, indevolt_port: int = 0
) -> AsyncIterator[RunningSimulator]:
    """Serve both devices in the running event loop (port 0 = any free port) until exit."""
    runners: list[web.AppRunner] = []
    ports: list[int] = []
    try:
        for app, port in ((simulator.p1_app(), p1_port), (simulator.indevolt_app(), indevolt_port)):
            # handler_cancellation: a hanging handler ("timeout" fault) ends with its connection.
            runner = web.AppRunner(
                app, handler_cancellation=True, shutdown_timeout=0.1, access_log=None
            )
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, host, port)
            await site.start()
            ports.append(runner.addresses[0][1])
        yield RunningSimulator(simulator, host, ports[0], ports[1])
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
