"""The persistent records of what ems changed on the battery (one of each per entry).

A forced command: the record outlives Home Assistant. After a crash or a power cut, or when the
Indevolt could not be reached at shutdown, the next set-up finds it and restores
self-consumption. It is written before the first request of a forcing command, so no failure can
leave the battery forced without a record.

A lowered feed-in limit (negative export prices, `optimiser/feed_in.py`): the user's own limit,
written back the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER

STORAGE_VERSION: Final = 1


class ForcedKind(StrEnum):
    """What holds the battery in real-time mode."""

    CHARGE = "charge"
    DISCHARGE = "discharge"
    STOP = "stop"
    # Real-time mode chosen with the select or `ems.set_working_mode`, without a command.
    REALTIME = "realtime"


class CommandSource(StrEnum):
    """Who sent a command: a person (actions, select, button) or the optimiser."""

    USER = "user"
    OPTIMISER = "optimiser"


@dataclass(frozen=True, slots=True)
class ForcedCommand:
    """A command that put (or keeps) the battery in real-time mode.

    `power_w` and `target_soc_percent` are those sent in 47015 (None for `REALTIME`);
    `deadline` (UTC) is when self-consumption comes back by itself, None for no deadline.
    """

    kind: ForcedKind
    source: CommandSource
    started: datetime
    power_w: int | None = None
    target_soc_percent: int | None = None
    deadline: datetime | None = None

    def describe(self) -> str:
        """A short text for the log, e.g. `charge at 1000 W to 90 % (user)`."""
        text = str(self.kind)
        if self.power_w is not None:
            text += f" at {self.power_w} W"
        if self.target_soc_percent is not None:
            text += f" to {self.target_soc_percent} %"
        if self.deadline is not None:
            text += f" until {self.deadline.isoformat()}"
        return f"{text} ({self.source})"

    def same_as(self, other: ForcedCommand) -> bool:
        """True when `other` is this command, sent at another time (e.g. re-sent each poll)."""
        return replace(self, started=other.started) == other

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the store."""
        return {
            "kind": str(self.kind),
            "source": str(self.source),
            "started": self.started.isoformat(),
            "power_w": self.power_w,
            "target_soc_percent": self.target_soc_percent,
            "deadline": None if self.deadline is None else self.deadline.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForcedCommand:
        """Read a stored record; raise ValueError (or KeyError/TypeError) when it is damaged."""
        deadline = data.get("deadline")
        started = dt_util.parse_datetime(str(data["started"]))
        if started is None:
            raise ValueError(f"bad start time {data['started']!r}")
        return cls(
            kind=ForcedKind(data["kind"]),
            source=CommandSource(data["source"]),
            started=started,
            power_w=_optional_int(data.get("power_w")),
            target_soc_percent=_optional_int(data.get("target_soc_percent")),
            deadline=None if deadline is None else dt_util.parse_datetime(str(deadline)),
        )


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not an integer: {value!r}")
    return value


class ControlStore:
    """Reads and writes one entry's forced-command record (`.storage/ems.control.<entry>`).

    A record equal to the one last loaded or written is not written again: the optimiser may
    re-send the same command every poll, and each write is a file replaced on disk.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Open the store of `entry_id` (nothing is read until `async_load`)."""
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, storage_key(entry_id))
        self._recorded: ForcedCommand | None = None
        # Unknown until loaded or written: the first save or clear always writes.
        self._known = False

    async def async_load(self) -> ForcedCommand | None:
        """The record left behind, None when there is none.

        A damaged record still means "ems forced the battery": it comes back as a REALTIME
        record so the caller restores self-consumption rather than ignoring it.
        """
        self._recorded = await self._async_read()
        self._known = True
        return self._recorded

    async def _async_read(self) -> ForcedCommand | None:
        data = await self._store.async_load()
        if not data or data.get("command") is None:
            return None
        try:
            return ForcedCommand.from_dict(data["command"])
        except (KeyError, TypeError, ValueError) as err:
            LOGGER.warning("The stored battery command is damaged (%s); treating it as forced", err)
            return ForcedCommand(ForcedKind.REALTIME, CommandSource.USER, dt_util.utcnow())

    async def async_save(self, command: ForcedCommand) -> None:
        """Record `command` (replacing any earlier record)."""
        await self._async_write(command)

    async def async_clear(self) -> None:
        """Forget the record: the battery is no longer forced by ems."""
        await self._async_write(None)

    async def _async_write(self, command: ForcedCommand | None) -> None:
        if self._known and command == self._recorded:
            return
        await self._store.async_save({"command": None if command is None else command.as_dict()})
        # Noted only once written: after a write cancelled part-way the next one is not
        # skipped, so a forced battery never goes without its record.
        self._recorded = command
        self._known = True

    async def async_remove(self) -> None:
        """Delete the file (the entry is being removed)."""
        await self._store.async_remove()


def storage_key(entry_id: str) -> str:
    """The storage key of an entry's record."""
    return f"{DOMAIN}.control.{entry_id}"


@dataclass(frozen=True, slots=True)
class FeedInLimitRecord:
    """The feed-in limit the user had set before ems lowered it, to be written back afterwards.

    `user_limit_w` is what 11010 read before the first lowering write, `limited_w` what ems wrote
    instead. Written before that write, so no failure can leave the export curtailed without it.
    """

    user_limit_w: int
    limited_w: int
    started: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the store."""
        return {
            "user_limit_w": self.user_limit_w,
            "limited_w": self.limited_w,
            "started": self.started.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedInLimitRecord:
        """Read a stored record; raise ValueError, KeyError or TypeError when it is damaged."""
        started = dt_util.parse_datetime(str(data["started"]))
        if started is None:
            raise ValueError(f"bad start time {data['started']!r}")
        user_limit_w = _optional_int(data["user_limit_w"])
        limited_w = _optional_int(data["limited_w"])
        if user_limit_w is None or limited_w is None:
            raise TypeError("a limit is missing")
        return cls(user_limit_w, limited_w, started)


class FeedInLimitStore:
    """One entry's feed-in limit record (`.storage/ems.feed_in_limit.<entry>`).

    A file of its own beside the command record: the controller owns that one, and one file
    written by two owners would lose whichever record was written first.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Open the store of `entry_id` (nothing is read until `async_load`)."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, feed_in_limit_storage_key(entry_id)
        )

    async def async_load(self) -> FeedInLimitRecord | None:
        """The record left behind, None when there is none or it cannot be read.

        A damaged record cannot say which limit to write back: it is reported and dropped (the
        user's limit is then whatever the device holds, which the user can see and set).
        """
        data = await self._store.async_load()
        if not data or data.get("limit") is None:
            return None
        try:
            return FeedInLimitRecord.from_dict(data["limit"])
        except (KeyError, TypeError, ValueError) as err:
            LOGGER.warning("The stored feed-in limit record is damaged (%s); ignoring it", err)
            return None

    async def async_save(self, record: FeedInLimitRecord | None) -> None:
        """Record the user's limit (None: nothing to write back)."""
        await self._store.async_save({"limit": None if record is None else record.as_dict()})

    async def async_remove(self) -> None:
        """Delete the file (the entry is being removed)."""
        await self._store.async_remove()


def feed_in_limit_storage_key(entry_id: str) -> str:
    """The storage key of an entry's feed-in limit record."""
    return f"{DOMAIN}.feed_in_limit.{entry_id}"
