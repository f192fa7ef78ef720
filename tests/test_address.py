"""Parsing the addresses users type."""

from __future__ import annotations

import pytest

from custom_components.ems.address import format_address, parse_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.20", ("192.168.1.20", 80)),
        (" 192.168.1.20:8081 ", ("192.168.1.20", 8081)),
        ("p1meter.local", ("p1meter.local", 80)),
        ("p1meter-aabbcc", ("p1meter-aabbcc", 80)),
        ("p1meter.local.:81", ("p1meter.local.", 81)),
        ("fe80::1", ("fe80::1", 80)),
        ("[fe80::1]", ("fe80::1", 80)),
        ("[fe80::1]:8080", ("fe80::1", 8080)),
        ("http://192.168.1.20", ("192.168.1.20", 80)),
        (" HTTP://192.168.1.20:8081/ ", ("192.168.1.20", 8081)),
        ("http://[fe80::1]:8080/", ("fe80::1", 8080)),
    ],
)
def test_valid_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text, 80) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "bad host",
        "host:0",
        "host:65536",
        "host:http",
        "-host",
        "[fe80::1",
        "[fe80::1]x",
        "[nothost]:80",
        "1.2.3",
        "a" * 254,
        "host_name",
        ":80",
        "https://192.168.1.20",
        "ftp://192.168.1.20:21",
        "http://192.168.1.20/api",
        "http://",
        "http:192.168.1.20",
    ],
)
def test_invalid_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        parse_address(text, 80)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        (" 192.168.1.20:8081 ", "192.168.1.20:8081"),
        ("http://192.168.1.20/", "192.168.1.20"),
        ("Http://p1meter.local:81", "p1meter.local:81"),
    ],
)
def test_address_stored_without_scheme(text: str, stored: str) -> None:
    assert format_address(text) == stored
