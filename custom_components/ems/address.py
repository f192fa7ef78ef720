"""Parse the addresses a user types: a host name or IP address, optionally with `:port`.

An address copied from a browser (`http://192.168.1.20/`) is accepted: both devices speak
plain HTTP, so the scheme and a trailing slash say nothing; any other scheme or a path is
invalid.
"""

from __future__ import annotations

from ipaddress import IPv6Address, ip_address
import re

_HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_HTTP_SCHEME = "http://"


def format_address(value: str) -> str:
    """The address as stored: trimmed, without an `http://` prefix or a trailing `/`."""
    text = value.strip()
    if text[: len(_HTTP_SCHEME)].lower() == _HTTP_SCHEME:
        text = text[len(_HTTP_SCHEME) :].removesuffix("/")
    return text


def _is_host(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        pass
    else:
        return True
    if len(host) > 253:
        return False
    labels = host.removesuffix(".").split(".")
    return all(_HOSTNAME_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def parse_address(value: str, default_port: int) -> tuple[str, int]:
    """Split `host`, `host:port`, `ipv6` or `[ipv6]:port`; raise ValueError when invalid."""
    text = format_address(value)
    host, port = text, default_port
    if text.startswith("["):
        closing = text.find("]")
        if closing < 0:
            raise ValueError(f"invalid address: {value!r}")
        host, rest = text[1:closing], text[closing + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"invalid address: {value!r}")
            port = _parse_port(rest[1:], value)
        try:
            IPv6Address(host)
        except ValueError as err:
            raise ValueError(f"invalid address: {value!r}") from err
        return host, port
    if text.count(":") == 1:
        host, port_text = text.split(":")
        port = _parse_port(port_text, value)
    if not host or not _is_host(host):
        raise ValueError(f"invalid address: {value!r}")
    return host, port


def _parse_port(text: str, value: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"invalid port in {value!r}")
    return int(text)
