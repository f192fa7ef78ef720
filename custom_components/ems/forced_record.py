"""What ems holds the battery forced with: in memory, in the store, and until when.

The controller changes the record with the coordinator's battery lock held. The store keeps
it across a restart (a record found at set-up was left behind and is undone); the deadline
timer calls back when a command's duration ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time

from .control_store import ControlStore, ForcedCommand


class ForcedRecord:
    """The forced command (None when none), whether its undo is pending, and its deadline."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        deadline_reached: Callable[[ForcedCommand], None],
    ) -> None:
        """Record for one entry; `deadline_reached` is called when a command's duration ends."""
        self._hass = hass
        self._store = ControlStore(hass, entry_id)
        self._deadline_reached = deadline_reached
        self._cancel_deadline: CALLBACK_TYPE | None = None
        self.command: ForcedCommand | None = None
        # A forced state whose end could not be written yet: retried when the device answers.
        self.restore_pending = False

    async def async_load_left_behind(self) -> ForcedCommand | None:
        """The record stored by an earlier run, if one was left behind."""
        return await self._store.async_load()

    async def async_save(self, command: ForcedCommand) -> None:
        """Store `command` before it is sent (a restart in between undoes it)."""
        await self._store.async_save(command)

    def set(self, command: ForcedCommand) -> None:
        """`command` holds the battery now; its deadline (if any) starts counting."""
        self.cancel_deadline()
        self.command = command
        self.restore_pending = False
        if command.deadline is not None:
            self._cancel_deadline = async_track_point_in_utc_time(
                self._hass, partial(self._deadline_timer_fired, command), command.deadline
            )

    def hold_for_restore(self, command: ForcedCommand) -> None:
        """Real-time mode may be on with or without `command`: undo it when the device answers.

        The stored record of `command` stays, for a restart in between.
        """
        self.cancel_deadline()
        self.command = command
        self.restore_pending = True

    async def async_command_failed(
        self, command: ForcedCommand, previous: ForcedCommand | None, may_have_switched: bool
    ) -> None:
        """Keep the record true after `command` failed (`previous` held the battery before)."""
        if may_have_switched:
            self.hold_for_restore(command)
        elif previous is not None:
            await self._store.async_save(previous)  # the earlier command still runs
        else:
            await self._store.async_clear()

    async def async_clear(self) -> None:
        """The battery is no longer forced by ems."""
        self.cancel_deadline()
        self.command = None
        self.restore_pending = False
        await self._store.async_clear()

    def cancel_deadline(self) -> None:
        """Stop the deadline timer, if one runs."""
        if self._cancel_deadline is not None:
            self._cancel_deadline()
            self._cancel_deadline = None

    @callback
    def _deadline_timer_fired(self, command: ForcedCommand, now: datetime) -> None:
        # The timer is cancelled whenever `command` stops being the forced state.
        self._cancel_deadline = None
        self._deadline_reached(command)
