"""What a faulty device answers instead of its data: the `Faults` knobs applied to a request.

`fault_reply` goes through one device's knobs in a fixed order (off, latency, hang, digest
authentication, method, API disabled, HTTP status, malformed and cut-off replies, hostile
replies) and returns the reply of the first that applies, or None when the device answers
normally.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets

from aiohttp import web

from .faults import HANG_S, Faults
from .hostile import endless_reply, huge_reply, nested_json_reply

P1 = "p1"
INDEVOLT = "indevolt"
DIGEST_REALM = "indevolt"
DIGEST_USER = "opend"

_AUTH_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


class DigestAuth:
    """HTTP Digest authentication as the Indevolt does it (RFC 7616, MD5, qop=auth)."""

    def __init__(self) -> None:
        """No nonce handed out yet."""
        self._nonces: set[str] = set()

    def challenge(self) -> web.Response:
        """The 401 reply with a fresh nonce."""
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        header = f'Digest realm="{DIGEST_REALM}", nonce="{nonce}", qop="auth", algorithm=MD5'
        return web.Response(status=401, headers={"WWW-Authenticate": header})

    def authorised(self, request: web.Request, password: str) -> bool:
        """Whether `request` carries a valid answer to one of our challenges."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        params = {m[0]: m[1] or m[2] for m in _AUTH_PARAM.findall(header[len("Digest ") :])}
        if params.get("username") != DIGEST_USER or params.get("nonce") not in self._nonces:
            return False
        if params.get("uri") != request.raw_path:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        ha1 = md5(f"{DIGEST_USER}:{DIGEST_REALM}:{password}")
        ha2 = md5(f"{request.method}:{params['uri']}")
        expected = md5(
            f"{ha1}:{params['nonce']}:{params.get('nc', '')}:{params.get('cnonce', '')}:"
            f"{params.get('qop', '')}:{ha2}"
        )
        return secrets.compare_digest(expected, params.get("response", ""))


async def fault_reply(
    device: str, faults: Faults, request: web.Request, auth: DigestAuth
) -> web.StreamResponse | None:
    """The reply `device` gives with `faults` set, None when it answers normally."""
    if faults.off:
        return _close_connection(request)
    if faults.latency_s:
        await asyncio.sleep(faults.latency_s)
    if faults.timeout:
        await asyncio.sleep(HANG_S)
    if device == INDEVOLT:
        if faults.password and not auth.authorised(request, faults.password):
            return auth.challenge()
        if faults.get_only and request.method == "POST":
            return web.json_response({"error": "method not allowed"}, status=405)
    if device == P1 and faults.api_disabled:
        error = {"error": {"id": 202, "description": "API not enabled"}}
        return web.json_response(error, status=403)
    if faults.http_status is not None:
        return web.json_response({"error": faults.http_status}, status=faults.http_status)
    if faults.malformed_json:
        return web.Response(text='{"7101": 1, "6002": ', content_type="application/json")
    if faults.drop_connection:
        return await _drop_mid_reply(request)
    if faults.nested_json:
        return nested_json_reply()
    if faults.endless_body:
        return await endless_reply(request)
    if faults.huge_body_bytes:
        return huge_reply(faults.huge_body_bytes)
    return None


def _close_connection(request: web.Request) -> web.Response:
    """Device off: cut the connection without a byte of reply."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)


async def _drop_mid_reply(request: web.Request) -> web.StreamResponse:
    """Start a 200 reply, send part of the promised body, then cut the connection."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = 100
    await response.prepare(request)
    await response.write(b'{"7101": 1, ')
    if request.transport is not None:
        request.transport.abort()
    return response
