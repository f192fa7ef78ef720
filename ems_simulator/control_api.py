"""The simulator's control API, served by both devices' applications (faults are per device).

- `GET  /sim/state`     model state, faults of both devices
- `GET  /sim/faults`    `{"p1": {...}, "indevolt": {...}}`
- `POST /sim/faults`    `{"p1": {"api_disabled": true}, "indevolt": {"reset": true, ...}}`
- `POST /sim/model`     `{"soc_percent": 80, "ct_reversed": true, "ct_gain": 1.0,
                          "battery_charge_positive": false}`
- `POST /sim/device`    `{"units": 3, "generation": 1, "meter_connected": false, ...}`
                        (the Indevolt's `DeviceSettings`, indevolt_device.py)
- `GET  /sim/requests`  every device request received, oldest first (control calls not logged)
- `DELETE /sim/requests` clear that log
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .faults import Faults
from .indevolt_device import DeviceSettings

if TYPE_CHECKING:
    from .server import Simulator

MODEL_SETTABLE = frozenset({"soc_percent", "ct_reversed", "ct_gain", "battery_charge_positive"})


def add_control_routes(app: web.Application, simulator: Simulator) -> None:
    """Serve the control API of `simulator` on `app`."""
    api = _ControlApi(simulator)
    app.router.add_get("/sim/state", api.state)
    app.router.add_get("/sim/faults", api.get_faults)
    app.router.add_post("/sim/faults", api.post_faults)
    app.router.add_post("/sim/model", api.post_model)
    app.router.add_post("/sim/device", api.post_device)
    app.router.add_get("/sim/requests", api.get_requests)
    app.router.add_delete("/sim/requests", api.delete_requests)


class _ControlApi:
    """The handlers; each request acts on the whole simulator."""

    def __init__(self, simulator: Simulator) -> None:
        self._sim = simulator

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(self._sim.state())

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self._sim.faults_dict())

    async def post_faults(self, request: web.Request) -> web.Response:
        faults = self._sim.faults
        body = await _json_body(request)
        if not isinstance(body, dict) or not set(body) <= set(faults):
            return _bad_request(f"expected keys {sorted(faults)}")
        staged = {}
        for device, changes in body.items():
            if not isinstance(changes, dict):
                return _bad_request(f"{device}: expected an object")
            reset = bool(changes.pop("reset", False))
            trial = Faults() if reset else Faults(**asdict(faults[device]))
            try:
                trial.update(changes)
            except (TypeError, ValueError) as err:
                return _bad_request(str(err))
            staged[device] = trial
        for device, trial in staged.items():
            faults[device].reset()
            faults[device].update(asdict(trial))
        return web.json_response(self._sim.faults_dict())

    async def post_model(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not set(body) <= MODEL_SETTABLE:
            return _bad_request(f"settable: {sorted(MODEL_SETTABLE)}")
        model = self._sim.model
        model.advance()
        for name, value in body.items():
            setattr(model, name, value)
        return web.json_response(self._sim.state())

    async def post_device(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return _bad_request("expected an object")
        trial = DeviceSettings(**asdict(self._sim.device))
        try:
            trial.update(body)
        except (TypeError, ValueError) as err:
            return _bad_request(str(err))
        self._sim.model.advance()
        self._sim.set_device(trial)
        return web.json_response(self._sim.state())

    async def get_requests(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(record) for record in self._sim.requests])

    async def delete_requests(self, request: web.Request) -> web.Response:
        self._sim.requests.clear()
        return web.json_response([])


def _bad_request(error: str) -> web.Response:
    return web.json_response({"error": error}, status=400)


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None
