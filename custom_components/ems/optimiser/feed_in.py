"""The Indevolt's feed-in limit at negative export prices: lower it, and always give it back.

`export_limit.py` decides; this writes, through the controller (its lock, its validation), one
write per change, backing off when the device refuses. The lifecycle (docs/optimiser.md):
- before the first lowering write, the user's limit (11010 as polled) is recorded in a store,
  so a crash, a restart or a power cut gives it back at the next start;
- it is given back when the export price is no longer negative, when the optimiser switches
  off, when dry run turns on, at unload, at Home Assistant's stop (and so at entry removal);
- a limit changed by anyone else meanwhile (the number entity, an action, the Indevolt app) is
  the user's: ems forgets its record, writes nothing over it, says so once, and does not lower
  it again until the export price has been non-negative.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from ..const import LOGGER, POLL_INTERVAL_MIN_S
from ..control_store import CommandSource, FeedInLimitRecord, FeedInLimitStore
from ..controller import BatteryController
from ..coordinator import EmsCoordinator
from ..device_settings import check_setting
from ..devices.indevolt_registers import FEED_IN_LIMIT
from .export_limit import (
    ExportReading,
    WrittenLimitWatch,
    export_limit_wanted,
    lowered_limit_w,
)
from .guards import SendBackoff

# Unload and stop give the write-back one attempt of at most this long; then the record stays
# for the next start (as the controller does with a forced command).
GIVE_BACK_TIMEOUT_S: Final = 5.0
# The back-off's unit when the coordinator has no interval (it always has one): the shortest.
SHORTEST_POLL_INTERVAL: Final = timedelta(seconds=POLL_INTERVAL_MIN_S)


class FeedInLimitState(StrEnum):
    """Whose feed-in limit holds (the optimiser status sensor's `feed_in_limit` attribute)."""

    USER = "user"
    LOWERED = "lowered"
    # Dry run: ems would lower it now.
    WOULD_LOWER = "would_lower"


class FeedInLimiter:
    """One entry's feed-in limit as the optimiser runs it."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        coordinator: EmsCoordinator,
        controller: BatteryController,
    ) -> None:
        """Hold nothing until `async_setup` reads what a previous run left behind."""
        self._hass = hass
        self._entry = entry
        self._coordinator = coordinator
        self._controller = controller
        self._store = FeedInLimitStore(hass, entry.entry_id)
        # The user's limit while ems has lowered it (or tried to): what is written back.
        self._record: FeedInLimitRecord | None = None
        # True once the lowering write went through (a failed one may still have reached it).
        self._lowered = False
        self._would_lower = False
        # The user changed the limit while it was lowered: not again until the price is >= 0.
        self._overridden = False
        self._watch = WrittenLimitWatch()
        self._backoff = SendBackoff()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def state(self) -> FeedInLimitState:
        """Whose limit holds now."""
        if self._record is not None:
            return FeedInLimitState.LOWERED
        return FeedInLimitState.WOULD_LOWER if self._would_lower else FeedInLimitState.USER

    async def async_setup(self) -> None:
        """Give back a limit a previous run left lowered; write back before the controller stops.

        Call before the controller's own set-up: Home Assistant runs the stop jobs in the order
        they were added, and the controller refuses writes once its stop has begun.
        """
        self._entry.async_on_unload(
            self._hass.async_add_shutdown_job(
                HassJob(self._async_home_assistant_stop, "ems feed-in limit at stop")
            )
        )
        record = await self._store.async_load()
        if record is None:
            return
        self._record = record
        self._lowered = True
        self._watch.wrote(record.limited_w)
        battery = self._coordinator.data.battery if self._coordinator.data else None
        polled = None if battery is None else battery.number(FEED_IN_LIMIT.read_register)
        if polled is not None and round(polled) != record.limited_w:
            self._user_took_over(polled)
            await self._store.async_save(None)
            return
        LOGGER.warning(
            "The feed-in limit was left lowered to %s W by a previous run; writing back the "
            "user's %s W",
            record.limited_w,
            record.user_limit_w,
        )
        await self._async_give_back(record, "a lowered limit was left behind", dt_util.utcnow())

    async def async_give_back(self, reason: str, *, final: bool = False) -> None:
        """Write the user's limit back now (switch off, dry run, unload, stop).

        A write in flight is waited for first. `final`: nothing is lowered any more (unload,
        stop), and the attempt is bounded; when it fails, the record stays for the next start.
        """
        if final:
            self._closed = True
        self._would_lower = False
        try:
            async with asyncio.timeout(GIVE_BACK_TIMEOUT_S if final else None):
                if self._task is not None and not self._task.done():
                    await asyncio.shield(self._task)
                if (record := self._record) is not None:
                    # A task, so the polls it triggers wait for its end (see `step`).
                    await asyncio.shield(
                        self._start(self._async_give_back(record, reason, dt_util.utcnow()))
                    )
        except TimeoutError:
            LOGGER.warning(
                "Could not write back the feed-in limit within %s s (%s); it will be written "
                "back when the entry sets up again",
                GIVE_BACK_TIMEOUT_S,
                reason,
            )

    @callback
    def step(
        self,
        now: datetime,
        reading: ExportReading | None,
        polled_limit_w: float | None,
        *,
        active: bool,
        dry_run: bool,
    ) -> None:
        """Each poll: notice the user's changes, then lower, keep or give back the limit.

        `reading` is None without usable readings (nothing new is lowered then); `active`: the
        optimiser is on (in dry run or not).
        """
        if self._closed or (self._task is not None and not self._task.done()):
            return
        if self._record is not None and self._watch.changed_outside(polled_limit_w):
            self._user_took_over(polled_limit_w)
            self._start(self._store.async_save(None))
            return
        if active and reading is None:
            return  # nothing usable this poll: keep the limit as it is
        if reading is not None and (reading.export_price is None or reading.export_price >= 0):
            self._overridden = False
        wanted = (
            reading is not None
            and active
            and not self._overridden
            and export_limit_wanted(reading, limiting=self._record is not None or self._would_lower)
        )
        self._would_lower = wanted and dry_run
        lower = wanted and not dry_run
        if not self._backoff.may_send(now):
            return
        if lower and not self._lowered:
            self._lower(now, polled_limit_w)
        elif not lower and self._record is not None:
            reason = (
                "optimiser off"
                if not active
                else "dry run"
                if dry_run
                else "the export price is no longer negative"
            )
            self._start(self._async_give_back(self._record, reason, now))

    def _lower(self, now: datetime, polled_limit_w: float | None) -> None:
        record = self._record
        if record is None:
            user_limit_w = self._writable_user_limit_w(polled_limit_w)
            if user_limit_w is None:
                return
            limited_w = lowered_limit_w(user_limit_w)
            if limited_w is None:
                return  # the user's own limit is as low as ems would set it
            record = FeedInLimitRecord(user_limit_w, limited_w, now)
        self._start(self._async_lower(record, now))

    def _writable_user_limit_w(self, polled_limit_w: float | None) -> int | None:
        """The user's limit, if it can be written back; None lowers nothing."""
        if polled_limit_w is None:
            return None  # 11010 not read yet: no limit to give back, so none is taken
        user_limit_w = round(polled_limit_w)
        battery = self._coordinator.data.battery if self._coordinator.data else None
        try:
            check_setting(
                FEED_IN_LIMIT, user_limit_w, battery, self._coordinator.indevolt.generation
            )
        except HomeAssistantError:
            return None  # a value the device reports but would not take back
        return user_limit_w

    async def _async_lower(self, record: FeedInLimitRecord, now: datetime) -> None:
        # Recorded before the write: no failure can leave the export curtailed without it.
        if self._record != record:
            await self._store.async_save(record)
            self._record = record
        if not await self._async_write(record.limited_w, "lower the feed-in limit", now):
            return
        self._lowered = True
        self._watch.wrote(record.limited_w)
        LOGGER.info(
            "Negative export price: feed-in limit lowered from %s W to %s W",
            record.user_limit_w,
            record.limited_w,
        )

    async def _async_give_back(self, record: FeedInLimitRecord, reason: str, now: datetime) -> None:
        if not await self._async_write(record.user_limit_w, "write back the feed-in limit", now):
            return
        self._forget()
        await self._store.async_save(None)
        LOGGER.info("Feed-in limit back at the user's %s W (%s)", record.user_limit_w, reason)

    async def _async_write(self, value: int, what: str, now: datetime) -> bool:
        try:
            await self._controller.async_write_setting(
                FEED_IN_LIMIT, value, source=CommandSource.OPTIMISER
            )
        except HomeAssistantError as err:
            interval = self._coordinator.update_interval
            wait = self._backoff.failed(now, interval or SHORTEST_POLL_INTERVAL)
            # One warning per episode; the retries log at debug level.
            log = LOGGER.warning if self._backoff.failures == 1 else LOGGER.debug
            log("Could not %s: %s; trying again in %s s", what, err, int(wait.total_seconds()))
            return False
        failures = self._backoff.succeeded()
        if failures:
            LOGGER.info("Feed-in limit written, after %d failed attempts", failures)
        return True

    def _user_took_over(self, polled_limit_w: float | None) -> None:
        LOGGER.warning(
            "The feed-in limit was changed outside the optimiser (now %s W) while it was "
            "lowered for a negative export price: it stays as set, and the optimiser forgets "
            "the %s W it would have written back",
            "unknown" if polled_limit_w is None else round(polled_limit_w),
            None if self._record is None else self._record.user_limit_w,
        )
        self._forget()
        self._overridden = True

    def _forget(self) -> None:
        self._record = None
        self._lowered = False
        self._watch.forget()

    def _start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        self._task = self._entry.async_create_task(self._hass, work, "ems feed-in limit")
        return self._task

    async def _async_home_assistant_stop(self) -> None:
        await self.async_give_back("Home Assistant is stopping", final=True)
