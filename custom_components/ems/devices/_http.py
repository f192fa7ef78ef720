"""One bounded HTTP exchange, shared by both clients: transport failures become our errors.

Bounded in time (one deadline for the whole exchange) and in size (`MAX_REPLY_BYTES`, checked
against Content-Length and again while reading). Error texts are short and human, and carry the
method and path but never the host, the port or an exception's repr (they end up in logs,
diagnostics and repair issues).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import errno
import json
from typing import TYPE_CHECKING, Final

import aiohttp

from .errors import (
    DeviceConnectionError,
    DeviceTimeoutError,
    MalformedReplyError,
    ReplyTooLargeError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aiohttp.client_middlewares import ClientMiddlewareType
    from yarl import URL

# The largest reply either device sends is about 2 kB (a three-phase P1 reply with external
# meters; 50 Indevolt registers are less): 256 KiB is over 100 times that, and decoding it takes
# a few milliseconds at worst (benchmarks/hostile_replies.py), so a hostile reply neither fills
# memory nor blocks the event loop.
MAX_REPLY_BYTES: Final = 256 * 1024
_READ_CHUNK_BYTES: Final = 64 * 1024

_CONNECT_ERRNO_TEXTS: Final = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out connecting",
}


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
    reply cannot stall the caller. A body over `MAX_REPLY_BYTES` is refused from its
    Content-Length, or while it streams in, without reading the rest. No retries: the poll
    interval is the retry.
    """
    what = f"{method} {url.path}"
    try:
        async with asyncio.timeout(timeout_s):
            async with session.request(
                method, url, headers=headers, middlewares=middlewares, allow_redirects=False
            ) as response:
                return HttpReply(response.status, await _read_capped(response, what))
    # aiohttp's own socket timeouts are both ClientError and TimeoutError: report them as timeouts.
    except TimeoutError as err:
        raise DeviceTimeoutError(f"{what}: timed out after {timeout_s:g} s") from err
    except aiohttp.ClientError as err:
        raise DeviceConnectionError(f"{what}: {_transport_text(err)}") from err


async def _read_capped(response: aiohttp.ClientResponse, what: str) -> bytes:
    """The body of `response`, or `ReplyTooLargeError` as soon as it exceeds the cap."""
    too_large = f"{what}: reply too large (over {MAX_REPLY_BYTES // 1024} KiB)"
    if response.content_length is not None and response.content_length > MAX_REPLY_BYTES:
        response.close()  # the connection cannot be reused with the body unread
        raise ReplyTooLargeError(too_large)
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK_BYTES):
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            response.close()
            raise ReplyTooLargeError(too_large)
    return bytes(body)


def _transport_text(err: aiohttp.ClientError) -> str:
    """A short, human description of a transport failure, without host, port or repr."""
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        return "host name not found"
    if isinstance(err, aiohttp.ClientConnectorError):
        return _CONNECT_ERRNO_TEXTS.get(err.os_error.errno or 0, "could not connect")
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "connection closed by the device"
    if isinstance(err, aiohttp.ClientPayloadError):
        return "reply cut off"
    if isinstance(err, aiohttp.ClientOSError) and err.errno == errno.ECONNRESET:
        return "connection reset"
    if isinstance(err, aiohttp.ClientResponseError):
        return "invalid HTTP reply"
    return "connection failed"


def decode_json_object(body: bytes, what: str) -> dict[str, object]:
    """Decode a JSON object or raise `MalformedReplyError` (`what` names the request).

    Any failure of the decoder is the reply's fault: a `ValueError` (not JSON, not UTF-8, an
    integer of more than 4300 digits) or a `RecursionError` (nesting deeper than the
    interpreter's stack; the body cap keeps that below ~256 K levels). Only a `dict` is
    accepted. `NaN`, `Infinity` and `1e400` decode to non-finite floats; `plausibility` rejects
    them reading by reading, so one bad value does not discard the whole reply.
    """
    try:
        value = json.loads(body)
    except RecursionError as err:
        raise MalformedReplyError(f"{what}: not JSON (nested too deeply)") from err
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError both are ValueErrors
        raise MalformedReplyError(f"{what}: not JSON") from err
    if not isinstance(value, dict):
        raise MalformedReplyError(f"{what}: not a JSON object")
    return value
