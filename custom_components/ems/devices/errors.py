"""Errors of the device client layer.

Every error the clients raise derives from `DeviceError`, so a caller that only needs "the device
did not give us data" catches that one class. The subclasses let a caller tell apart what
happened, which battery control needs (a rejected command is not a dropped connection):

```
DeviceError
├── DeviceConnectionError      transport failed: refused, reset, dropped mid-reply
├── DeviceTimeoutError         no complete reply within the client's timeout (NOT a connection
│                              error: a slow device and an unreachable one are handled apart)
├── DeviceHttpStatusError      a reply with a non-2xx status; `.status` holds it
│   ├── AuthenticationError    Indevolt 401: digest password missing or wrong
│   └── P1ApiDisabledError     P1 403 with error id 202: "Local API" is off in the app
├── MalformedReplyError        2xx, but not JSON or not the documented shape
│   └── ReplyTooLargeError     the body exceeds the clients' cap (a few hundred KiB)
└── CommandRejectedError       Indevolt SetData answered {"result": false}
```

`AuthenticationError` and `P1ApiDisabledError` are HTTP status errors with a meaning of their
own; catch them before `DeviceHttpStatusError`.

Error texts are short and human ("GET /api/v1/data: connection refused"): they name the request
but never the host, the port or a wrapped exception's repr. A reading that is not plausible is
no error: the clients drop it and report it (`P1Data.invalid_keys`,
`BatterySnapshot.invalid_registers`).
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every error raised by the device clients."""


class DeviceConnectionError(DeviceError):
    """The connection failed or was dropped before a complete reply arrived."""


class DeviceTimeoutError(DeviceError):
    """The device did not answer completely within the client's timeout."""


class DeviceHttpStatusError(DeviceError):
    """The device answered with a non-success HTTP status."""

    def __init__(self, status: int, message: str | None = None) -> None:
        """Keep the status so callers can branch on it."""
        super().__init__(message or f"HTTP status {status}")
        self.status = status


class AuthenticationError(DeviceHttpStatusError):
    """The Indevolt answered 401: HTTP Digest authentication is required or failed."""


class P1ApiDisabledError(DeviceHttpStatusError):
    """The P1 meter answered 403 with error id 202: its local API is not enabled."""


class MalformedReplyError(DeviceError):
    """The reply was not JSON, or not shaped as the device documents."""


class ReplyTooLargeError(MalformedReplyError):
    """The reply's body is larger than the clients accept; it was not read to its end."""


class CommandRejectedError(DeviceError):
    """The Indevolt accepted the request but refused the command (`{"result": false}`)."""
