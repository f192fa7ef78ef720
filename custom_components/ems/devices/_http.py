"""One bounded HTTP exchange, shared by both clients: transport failures become our errors."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import json
from typing import TYPE_CHECKING

import aiohttp

from .errors import DeviceConnectionError, DeviceTimeoutError, MalformedReplyError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aiohttp.client_middlewares import ClientMiddlewareType
    from yarl import URL


@dataclass(frozen=True, slots=True)
class HttpReply:
    """Status and complete body of one reply."""

    status: int
    body: bytes


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    middlewares: Sequence[ClientMiddlewareType] | None = None,
) -> HttpReply:
    """Send one request and read the whole reply within `timeout_s` seconds.

    The deadline covers connecting, sending and reading the body, so a device that trickles its
    reply cannot stall the caller. No retries: the poll interval is the retry.
    """
    try:
        async with asyncio.timeout(timeout_s):
            async with session.request(
                method, url, headers=headers, middlewares=middlewares, allow_redirects=False
            ) as response:
                return HttpReply(response.status, await response.read())
    # aiohttp's own socket timeouts are both ClientError and TimeoutError: report them as timeouts.
    except TimeoutError as err:
        raise DeviceTimeoutError(f"{method} {url.path} timed out after {timeout_s} s") from err
    except aiohttp.ClientError as err:
        raise DeviceConnectionError(f"{method} {url.path} failed: {err!r}") from err


def decode_json_object(body: bytes) -> dict[str, object]:
    """Decode a JSON object or raise `MalformedReplyError`."""
    try:
        value = json.loads(body)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError both are ValueErrors
        raise MalformedReplyError(f"reply is not JSON: {body[:80]!r}") from err
    if not isinstance(value, dict):
        raise MalformedReplyError(f"reply is not a JSON object: {body[:80]!r}")
    return value
