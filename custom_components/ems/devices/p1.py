"""Client of the HomeWizard Wi-Fi P1 meter's local API v1 (`GET /api`, `GET /api/v1/data`).

Why not `python-homewizard-energy` (the library Home Assistant core uses): it maps the v1 reply
onto its own model, renaming keys and dropping some (there is no `total_gas_m3`, and the
firmware's literal `montly_power_peak_w` is not kept), while our entities are keyed on the v1
names as the meter sends them. It also takes a payload without `wifi_ssid` for the v2 API, and
it retries three times with backoff on a 10 s timeout, so one dead meter would stall a whole poll
for about half a minute. Two GET endpoints do not need a library: this client makes one request
per call, bounded by `timeout_s` (kept below the poll interval), and keeps every key literally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from yarl import URL

from ._http import decode_json_object, exchange
from .errors import DeviceHttpStatusError, MalformedReplyError, P1ApiDisabledError
from .plausibility import (
    EXTERNAL_VALUE,
    METER_TIMESTAMP,
    P1_BOUNDS,
    RejectionLog,
    plausible_number,
    split_plausible,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import aiohttp

# The error id the meter sends with 403 when the owner has not enabled "Local API".
API_DISABLED_ERROR_ID = 202


@dataclass(frozen=True, slots=True)
class P1Device:
    """Identity of the meter, from `GET /api`."""

    product_type: str
    product_name: str | None
    serial: str
    firmware_version: str | None
    api_version: str | None


@dataclass(frozen=True, slots=True)
class P1ExternalMeter:
    """One entry of the `external` list (gas, water, heat meters read through the P1 port)."""

    unique_id: str | None
    type: str | None
    timestamp: int | None
    value: float | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class P1Data:
    """One measurement from `GET /api/v1/data`.

    `values` holds every plausible scalar key exactly as the meter sent it (v1 names, including
    the firmware's spelling `montly_power_peak_w`); keys sent as null are dropped, so "absent"
    and "unknown" are the same thing for callers. `invalid_keys` are the keys whose value was
    rejected by `plausibility` (not a finite number, text under a numeric key, out of range):
    they are absent from `values` too.
    """

    values: Mapping[str, float | int | str]
    external: tuple[P1ExternalMeter, ...] = ()
    invalid_keys: frozenset[str] = frozenset()

    def number(self, key: str) -> float | None:
        """The value of `key` when it is a number, else None."""
        value = self.values.get(key)
        if isinstance(value, int | float):
            return value
        return None

    @property
    def active_power_w(self) -> float | None:
        """Net power in W, + = import from the grid, - = export."""
        return self.number("active_power_w")

    @property
    def active_power_average_w(self) -> float | None:
        """Average import power of the running 15-minute quarter, W."""
        return self.number("active_power_average_w")

    @property
    def monthly_power_peak_w(self) -> float | None:
        """Highest quarter average this month, W (sent as `montly_power_peak_w`)."""
        return self.number("montly_power_peak_w")


def _optional_str(payload: Mapping[str, object], key: str) -> str | None:
    value = payload.get(key)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def parse_device(payload: Mapping[str, object]) -> P1Device:
    """Build a `P1Device` from a decoded `/api` reply."""
    product_type = payload.get("product_type")
    serial = payload.get("serial")
    if not isinstance(product_type, str) or not isinstance(serial, str) or not serial:
        raise MalformedReplyError("/api reply lacks product_type or serial")
    return P1Device(
        product_type=product_type,
        product_name=_optional_str(payload, "product_name"),
        serial=serial,
        firmware_version=_optional_str(payload, "firmware_version"),
        api_version=_optional_str(payload, "api_version"),
    )


def _external_meter(entry: Mapping[str, object]) -> P1ExternalMeter:
    timestamp = plausible_number(entry.get("timestamp"), METER_TIMESTAMP)
    return P1ExternalMeter(
        unique_id=_optional_str(entry, "unique_id"),
        type=_optional_str(entry, "type"),
        timestamp=int(timestamp) if timestamp is not None else None,
        value=plausible_number(entry.get("value"), EXTERNAL_VALUE),
        unit=_optional_str(entry, "unit"),
    )


def parse_data(payload: Mapping[str, object]) -> P1Data:
    """Build a `P1Data` from a decoded `/api/v1/data` reply.

    Plausible scalars are kept under their literal key; null and non-scalar values are dropped,
    except the `external` list, whose object entries become `P1ExternalMeter`s. Implausible
    values (see `plausibility.P1_BOUNDS`) are dropped and their keys listed in `invalid_keys`.
    """
    return _parse_data(payload)[0]


def _parse_data(payload: Mapping[str, object]) -> tuple[P1Data, dict[str, str]]:
    """`parse_data`, plus the reason each invalid key was rejected."""
    scalars: dict[str, float | int | str] = {}
    for key, value in payload.items():
        if isinstance(value, bool):  # no v1 key is boolean; keep the value types honest
            continue
        if isinstance(value, int | float | str):
            scalars[key] = value
    values, rejected = split_plausible(scalars, P1_BOUNDS)
    raw_external = payload.get("external")
    external: tuple[P1ExternalMeter, ...] = ()
    if isinstance(raw_external, list):
        external = tuple(
            _external_meter(entry) for entry in raw_external if isinstance(entry, dict)
        )
    return P1Data(values=values, external=external, invalid_keys=frozenset(rejected)), rejected


class P1Client:
    """Reads a HomeWizard P1 meter over its local API v1.

    The aiohttp session is injected (Home Assistant's shared one) and never closed here.
    `timeout_s` bounds each call and can be changed at run time (e.g. when the poll interval
    changes).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int = 80,
        *,
        timeout_s: float = 4.0,
    ) -> None:
        """Remember where the meter is; nothing is sent until a method is called."""
        self._session = session
        self.set_address(host, port)
        self.timeout_s = timeout_s
        self._rejections = RejectionLog[str](lambda key: f"P1 meter reading {key}")

    def set_address(self, host: str, port: int) -> None:
        """Send the next requests to `host`:`port` (the meter moved; nothing is sent now)."""
        self._base = URL.build(scheme="http", host=host, port=port)
        self.host = host
        self.port = port

    async def get_device(self) -> P1Device:
        """Read the meter's identity (`GET /api`)."""
        return parse_device(await self._get_json("/api"))

    async def get_data(self) -> P1Data:
        """Read the current measurement (`GET /api/v1/data`).

        A rejected reading is logged once (a warning) until a valid value of it arrives.
        """
        data, rejected = _parse_data(await self._get_json("/api/v1/data"))
        self._rejections.update(rejected, data.values)
        return data

    async def _get_json(self, path: str) -> dict[str, object]:
        reply = await exchange(
            self._session, "GET", self._base.with_path(path), timeout_s=self.timeout_s
        )
        if reply.status == 403 and _error_id(reply.body) == API_DISABLED_ERROR_ID:
            raise P1ApiDisabledError(403, "the P1 meter's local API is not enabled")
        if not 200 <= reply.status < 300:
            raise DeviceHttpStatusError(reply.status, f"GET {path}: HTTP status {reply.status}")
        return decode_json_object(reply.body, f"GET {path}")


def _error_id(body: bytes) -> object:
    """The `error.id` of an error reply, or None when the body has none."""
    try:
        payload = decode_json_object(body, "error reply")
    except MalformedReplyError:
        return None
    error = payload.get("error")
    return error.get("id") if isinstance(error, dict) else None
