"""Fault knobs, one `Faults` object per simulated device, settable in Python or over HTTP."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# How long a "timeout" request hangs: far beyond any client timeout. The server cancels the
# handler when the client gives up and closes the connection.
HANG_S = 3600.0


@dataclass
class Faults:
    """What a device does wrong. Fields that do not apply to a device are ignored by it.

    Both devices: `off` (the connection is closed at once, no reply), `latency_s` (delay before
    answering), `timeout` (never answers), `http_status` (every request answered with this status,
    e.g. 500 or 400), `malformed_json` (200 with a body that is not JSON), `drop_connection`
    (the reply starts, then the connection is cut mid-body).
    Indevolt: `missing_registers` (left out of GetData replies), `string_numbers` (numbers sent
    as strings, `"6002": "92"`), `reject_commands` (SetData answers `{"result": false}`),
    `password` (HTTP Digest auth required, user `opend`), `get_only` (POST answered 405).
    P1: `api_disabled` (403 with error id 202).
    Hostile replies, both devices (see `hostile.py`): `nested_json` (200 with 10^5 nested
    arrays), `endless_body` (200 with a chunked body that never ends), `huge_body_bytes` (200 with
    a valid JSON object of that size and its Content-Length; 0 = off), `raw_values` (data
    replies carry these keys with raw JSON text as value: `{"active_power_w": "NaN"}`,
    `{"6002": "250"}`, `{"meter_model": '"abc"'}`; Indevolt: only keys that were asked).
    """

    off: bool = False
    latency_s: float = 0.0
    timeout: bool = False
    http_status: int | None = None
    malformed_json: bool = False
    drop_connection: bool = False
    missing_registers: set[int] = field(default_factory=set)
    string_numbers: bool = False
    reject_commands: bool = False
    password: str | None = None
    get_only: bool = False
    api_disabled: bool = False
    nested_json: bool = False
    endless_body: bool = False
    huge_body_bytes: int = 0
    raw_values: dict[str, str] = field(default_factory=dict)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes` (as from JSON); unknown names raise ValueError, nothing applied."""
        known = {item.name for item in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault(s): {sorted(unknown)}")
        if "raw_values" in changes:
            raw_values = changes["raw_values"]
            if not isinstance(raw_values, dict) or not all(
                isinstance(raw, str) for raw in raw_values.values()
            ):
                raise ValueError("raw_values must map keys to raw JSON text")
        for name, value in changes.items():
            if name == "missing_registers":
                setattr(self, name, set(value))
            elif name == "raw_values":
                setattr(self, name, {str(key): raw for key, raw in value.items()})
            else:
                setattr(self, name, value)

    def reset(self) -> None:
        """Clear every fault."""
        for item in fields(self):
            setattr(self, item.name, getattr(Faults(), item.name))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view."""
        data = asdict(self)
        data["missing_registers"] = sorted(self.missing_registers)
        return data
