"""Hostile replies: what a broken or malicious device on the LAN can send instead of its data.

Each one targets a way a client can be hurt: the decoder's recursion (`nested_json`), memory and
the event loop (`endless_body`, `huge_body_bytes`), and the values themselves (`raw_values`,
spliced into a valid reply as raw JSON text, because Python's encoder cannot write `1e400`).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Mapping

# 10^5 levels: deep enough for any recursive decoder, yet only 200 kB, so it passes a size cap
# of a few hundred kB and reaches the decoder.
NESTING_DEPTH = 100_000
# An endless body is sent in chunks of this size, as fast as the client reads them.
ENDLESS_CHUNK = b'{"filler": "' + b"x" * 65_500 + b'"},'


def nested_json_reply() -> web.Response:
    """A 200 reply of `NESTING_DEPTH` nested JSON arrays (valid JSON, absurd depth)."""
    body = b"[" * NESTING_DEPTH + b"]" * NESTING_DEPTH
    return web.Response(body=body, content_type="application/json")


async def endless_reply(request: web.Request) -> web.StreamResponse:
    """A 200 reply with a chunked body that never ends; it stops when the client hangs up."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        await response.write(b"[")
        while True:
            await response.write(ENDLESS_CHUNK)
            await asyncio.sleep(0)  # let other connections be served meanwhile
    except ConnectionError:
        # The client closed the connection: the only way this reply ends.
        return response


def huge_reply(size_bytes: int) -> web.Response:
    """A valid JSON object of `size_bytes` (at least 15), with its Content-Length (e.g. 20 MB)."""
    padding = "x" * max(0, size_bytes - len(b'{"padding": ""}'))
    return web.Response(
        body=json.dumps({"padding": padding}).encode(), content_type="application/json"
    )


def with_raw_values(payload: Mapping[str, object], raw_values: Mapping[str, str]) -> bytes:
    """`payload` as JSON with the values of `raw_values` replaced by (or added as) raw JSON text.

    `{"active_power_w": "1e400", "6002": "250", "active_tariff": '"abc"'}` sends the number
    1e400, the number 250 and the string "abc": text a JSON encoder would never write.
    """
    kept = {key: value for key, value in payload.items() if key not in raw_values}
    spliced = [f"{json.dumps(key)}: {raw}" for key, raw in raw_values.items()]
    encoded = json.dumps(kept)
    if not spliced:
        return encoded.encode()
    separator = ", " if kept else ""
    return f"{encoded[:-1]}{separator}{', '.join(spliced)}}}".encode()
