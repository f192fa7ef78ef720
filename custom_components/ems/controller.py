"""The battery controller: every write to the Indevolt passes through here.

One controller per entry. It validates a command against the options before any request is
sent, serialises the device traffic with the coordinator's battery lock, switches to real-time
mode only when the battery is not known to be in it, records in a persistent store that ems
forced the battery, and gives self-consumption back when the command's duration ends, its
target SOC is reached, the entry unloads, Home Assistant stops, or (for a record left behind)
as soon as the Indevolt answers again.

Users (actions, select, button) and the optimiser call the same methods; `source` tells them
apart, so the optimiser can be told when a person overrides it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback

from .command_validation import (
    ControlAction,
    check_duration,
    checked_charge_target,
    checked_discharge_target,
    device_error,
    forced_command,
    raise_validation,
    standby_soc_percent,
)
from .const import (
    DEVICE_MIN_POWER_W,
    LOGGER,
)
from .control_store import CommandSource, ForcedCommand, ForcedKind
from .coordinator import EmsCoordinator
from .devices.errors import CommandRejectedError, DeviceError
from .devices.indevolt import RealtimeAction, WorkingMode
from .devices.indevolt_registers import PowerLimit
from .forced_record import ForcedRecord
from .options import entry_options
from .settings_writer import DeviceSettingsWriter

# Unload and stop give the restore one attempt of at most this long (lock wait included).
RESTORE_TIMEOUT_S: Final = 5.0
WRITABLE_MODES: Final = (WorkingMode.SELF_CONSUMED, WorkingMode.REALTIME, WorkingMode.SCHEDULE)


@dataclass(frozen=True, slots=True)
class ManualOverride:
    """A person changed what the battery does (told to the optimiser's listeners).

    `forced` is the command now holding the battery in real-time mode, None when the battery
    was given back to self-consumption or schedule mode; `mode` is the mode written, if any.
    """

    action: ControlAction
    forced: ForcedCommand | None
    mode: WorkingMode | None = None


type ManualOverrideListener = Callable[[ManualOverride], None]


class BatteryController(DeviceSettingsWriter):
    """Validated, serialised, recorded and undoable control of one entry's Indevolt."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, coordinator: EmsCoordinator
    ) -> None:
        """Create the controller; `async_setup` loads the record and starts watching."""
        super().__init__(coordinator)
        self._hass = hass
        self._entry = entry
        self._record = ForcedRecord(hass, entry.entry_id, self._deadline_reached)
        self._restore_task: asyncio.Task[None] | None = None
        self._override_listeners: list[ManualOverrideListener] = []
        # An optimiser command that reached its target, left to the optimiser for one poll.
        self._handed_over: ForcedCommand | None = None

    # -- public API ------------------------------------------------------------------------

    @property
    def forced_command(self) -> ForcedCommand | None:
        """The command ems is holding the battery in real-time mode with, None when none."""
        return self._record.command

    @property
    def restore_pending(self) -> bool:
        """True while a restore of self-consumption waits for the device to answer."""
        return self._record.restore_pending

    async def async_charge(
        self,
        power_w: int,
        target_soc_percent: int | None = None,
        *,
        duration: timedelta | None = None,
        source: CommandSource = CommandSource.USER,
    ) -> None:
        """Charge at `power_w` up to `target_soc_percent` (default: the configured max SOC).

        Self-consumption comes back when `duration` ends or the target is reached. Raises
        ServiceValidationError (nothing sent) or HomeAssistantError (device failure).
        """
        target = checked_charge_target(
            self._options(),
            self.device_power_limit_w(PowerLimit.CHARGE),
            power_w=power_w,
            target_soc_percent=target_soc_percent,
            duration=duration,
        )
        command = forced_command(ForcedKind.CHARGE, source, power_w, target, duration)
        await self._async_force(
            ControlAction.CHARGE,
            command,
            lambda: self._coordinator.indevolt.charge(power_w, target),
        )

    async def async_discharge(
        self,
        power_w: int,
        target_soc_percent: int | None = None,
        *,
        duration: timedelta | None = None,
        source: CommandSource = CommandSource.USER,
    ) -> None:
        """Discharge at `power_w` down to `target_soc_percent`.

        The default target is the configured min SOC, or the battery's backup SOC (6105) when
        that is higher; an explicit target below the backup SOC is refused.
        """
        target = checked_discharge_target(
            self._options(),
            self.device_power_limit_w(PowerLimit.DISCHARGE),
            self._battery(),
            power_w=power_w,
            target_soc_percent=target_soc_percent,
            duration=duration,
        )
        command = forced_command(ForcedKind.DISCHARGE, source, power_w, target, duration)
        await self._async_force(
            ControlAction.DISCHARGE,
            command,
            lambda: self._coordinator.indevolt.discharge(power_w, target),
        )

    async def async_stop(
        self, *, duration: timedelta | None = None, source: CommandSource = CommandSource.USER
    ) -> None:
        """Hold the battery idle (real-time standby) until `duration` ends or a restore."""
        check_duration(duration)
        min_soc = standby_soc_percent(self._options())
        command = forced_command(ForcedKind.STOP, source, None, None, duration)
        await self._async_force(ControlAction.STOP, command, lambda: self._async_standby(min_soc))

    async def async_set_working_mode(
        self, mode: WorkingMode, *, source: CommandSource = CommandSource.USER
    ) -> None:
        """Write 47005 = `mode` (self-consumption, real-time or schedule).

        Real-time mode without a command counts as forced (it is undone like a charge);
        the other two end any forced state.
        """
        if mode not in WRITABLE_MODES:
            raise_validation("working_mode_not_writable", mode=mode.name.lower())
        if mode is WorkingMode.REALTIME:
            command = forced_command(ForcedKind.REALTIME, source, None, None, None)
            await self._async_force(ControlAction.SET_WORKING_MODE, command, None, always=True)
            return
        await self._async_release(ControlAction.SET_WORKING_MODE, mode, source)

    async def async_restore_auto_mode(self, *, source: CommandSource = CommandSource.USER) -> None:
        """Back to self-consumption: exactly one write, 47005 = [1]."""
        await self._async_release(
            ControlAction.RESTORE_AUTO_MODE, WorkingMode.SELF_CONSUMED, source
        )

    @callback
    def async_add_manual_override_listener(self, listener: ManualOverrideListener) -> CALLBACK_TYPE:
        """Call `listener` after each successful command whose source is not the optimiser.

        Returns a function that removes the listener.
        """
        self._override_listeners.append(listener)

        @callback
        def remove() -> None:
            self._override_listeners.remove(listener)

        return remove

    # -- life cycle ------------------------------------------------------------------------

    async def async_restore_left_behind(self) -> None:
        """Load the record; if one was left behind, restore self-consumption now.

        A record left behind (crash, power cut, device unreachable at the last stop) means the
        battery may still be forced. Only the Indevolt is needed for that, so this runs before
        the first poll: a P1 meter that is still down after a power cut must not keep the
        battery forced. When this attempt fails, the restore is retried after the first poll
        the Indevolt answers.
        """
        left_behind = await self._record.async_load_left_behind()
        if left_behind is None:
            return
        try:
            if await self._coordinator.async_is_different_battery():
                # The record stays for the entry's own battery; set-up refuses this one.
                return
        except DeviceError:
            pass  # the restore below fails too, and is retried after a poll it answers
        LOGGER.warning(
            "A forced battery command was left behind (%s); restoring self-consumption mode",
            left_behind.describe(),
        )
        self._record.hold_for_restore(left_behind)
        await self._async_restore("a forced command was left behind", left_behind)

    async def async_setup(self) -> None:
        """Start watching the polls and the stop of Home Assistant."""
        self._entry.async_on_unload(
            self._coordinator.async_add_listener(self._handle_coordinator_update)
        )
        self._entry.async_on_unload(
            self._hass.async_add_shutdown_job(
                HassJob(self._async_home_assistant_stop, "ems battery restore at stop")
            )
        )

    async def async_shutdown(self, reason: str) -> None:
        """Stop controlling; give self-consumption back with one attempt of at most ~5 s.

        Called when the entry unloads and when Home Assistant stops; a second call does
        nothing. The forced state is read with the battery lock held, so a command in flight
        is waited for (and undone), and a command still waiting for the lock is refused
        (`_async_force` checks `_closed` once it holds the lock). When the attempt fails, the
        record stays for the next set-up.
        """
        if self._closed:
            return
        self._closed = True
        self._record.cancel_deadline()
        try:
            async with asyncio.timeout(RESTORE_TIMEOUT_S), self._coordinator.battery_lock:
                forced = self._record.command
                if forced is not None:
                    await self._async_restore_locked(reason, forced)
        except TimeoutError:
            LOGGER.warning(
                "Could not restore self-consumption mode within %s s (%s); it will be restored "
                "when the entry sets up again",
                RESTORE_TIMEOUT_S,
                reason,
            )

    async def _async_home_assistant_stop(self) -> None:
        # A shutdown job runs before EVENT_HOMEASSISTANT_STOP, long before the shared HTTP
        # session closes (EVENT_HOMEASSISTANT_CLOSE), and while the coordinator still runs.
        await self.async_shutdown("Home Assistant is stopping")

    # -- command execution -----------------------------------------------------------------

    async def _async_force(
        self,
        action: ControlAction,
        command: ForcedCommand,
        send: Callable[[], Awaitable[None]] | None,
        *,
        always: bool = False,
    ) -> None:
        """Record `command`, switch to real-time mode if needed (or `always`), then `send`."""
        self._ensure_open()
        coordinator = self._coordinator
        async with coordinator.battery_lock:
            # Shutdown may have begun while this command waited for the lock.
            self._ensure_open()
            previous = self._record.command
            if previous is not None and command.same_as(previous):
                command = previous  # the same command re-sent: the record stays as it is
            await self._record.async_save(command)
            may_have_switched = False
            try:
                if always or coordinator.known_working_mode is not WorkingMode.REALTIME:
                    may_have_switched = True
                    try:
                        await coordinator.indevolt.set_working_mode(WorkingMode.REALTIME)
                    except CommandRejectedError:
                        may_have_switched = False  # a rejection changes nothing
                        raise
                    coordinator.mode_tracker.note_written(WorkingMode.REALTIME)
                if send is None:
                    coordinator.readback.note_released()  # a mode switch drops the command
                else:
                    await send()
                    if (sent := coordinator.indevolt.last_realtime) is not None:
                        coordinator.readback.note_command(sent, coordinator.battery_reads)
            except DeviceError as err:
                if may_have_switched:
                    _warn_may_have_switched()
                await self._record.async_command_failed(command, previous, may_have_switched)
                raise device_error(err, action) from err
            except asyncio.CancelledError:
                # Cancelled mid-write (optimiser switched off, dry run, unload): the request may
                # have reached the device, so undo it like a failure that may have switched.
                _warn_may_have_switched()
                self._record.hold_for_restore(command)
                raise
            self._record.set(command)
        LOGGER.info("Battery: %s", command.describe())
        self._after_command(action, command.source, WorkingMode.REALTIME if always else None)

    async def _async_release(
        self, action: ControlAction, mode: WorkingMode, source: CommandSource
    ) -> None:
        """Write 47005 = `mode` (self-consumption or schedule) and forget any forced state."""
        self._ensure_open()
        coordinator = self._coordinator
        async with coordinator.battery_lock:
            self._ensure_open()  # shutdown may have begun while this waited for the lock
            try:
                await coordinator.indevolt.set_working_mode(mode)
            except DeviceError as err:
                if self._record.command is not None:
                    self._record.restore_pending = True
                raise device_error(err, action) from err
            coordinator.mode_tracker.note_written(mode)
            await self._async_forget()
        LOGGER.info("Battery: working mode %s (%s)", mode.name.lower(), source)
        self._after_command(action, source, mode)

    async def _async_standby(self, min_soc_percent: int) -> None:
        """47015 = [0, 0, 0]; firmware that rejects it gets [0, 50, min SOC] once."""
        indevolt = self._coordinator.indevolt
        try:
            await indevolt.stop()
        except CommandRejectedError:
            LOGGER.debug("Standby [0, 0, 0] rejected; sending [0, 50, %s]", min_soc_percent)
            await indevolt.realtime(RealtimeAction.STOP, DEVICE_MIN_POWER_W, min_soc_percent)

    async def _async_forget(self) -> None:
        """The battery is no longer forced by ems (battery lock held)."""
        self._coordinator.readback.note_released()
        await self._record.async_clear()

    def _after_command(
        self, action: ControlAction, source: CommandSource, mode: WorkingMode | None
    ) -> None:
        if source is not CommandSource.OPTIMISER:
            override = ManualOverride(action, self._record.command, mode)
            for listener in list(self._override_listeners):
                listener(override)
        self._coordinator.async_update_listeners()

    # -- automatic restore -----------------------------------------------------------------

    async def _async_restore(self, reason: str, expected: ForcedCommand) -> None:
        """Write 47005 = [1] if `expected` is still the forced state; log what happened."""
        async with self._coordinator.battery_lock:
            if self._record.command is expected:  # else a newer command (or restore) took over
                await self._async_restore_locked(reason, expected)

    async def _async_restore_locked(self, reason: str, expected: ForcedCommand) -> None:
        """`_async_restore` with the battery lock held and `expected` the forced state."""
        coordinator = self._coordinator
        try:
            await coordinator.indevolt.set_working_mode(WorkingMode.SELF_CONSUMED)
        except DeviceError as err:
            # Warn once per episode; the retries after each answered poll log at debug.
            log = LOGGER.debug if self._record.restore_pending else LOGGER.warning
            log(
                "Could not restore self-consumption mode (%s): %s; retrying after the "
                "next poll the Indevolt answers",
                reason,
                err,
            )
            self._record.restore_pending = True
            return
        coordinator.mode_tracker.note_written(WorkingMode.SELF_CONSUMED)
        await self._async_forget()
        LOGGER.info("Restored self-consumption mode on the Indevolt: %s", reason)
        coordinator.async_update_listeners()

    @callback
    def _schedule_restore(self, reason: str, expected: ForcedCommand) -> None:
        self._restore_task = self._entry.async_create_task(
            self._hass, self._async_restore(reason, expected), "ems battery restore"
        )

    @callback
    def _deadline_reached(self, command: ForcedCommand) -> None:
        self._schedule_restore(f"the {command.kind} command's duration ended", command)

    @callback
    def _handle_coordinator_update(self) -> None:
        """After each poll: retry a pending restore, end a command at its target SOC."""
        forced = self._record.command
        coordinator = self._coordinator
        if forced is None or self._closed or not coordinator.last_update_success:
            return
        battery = coordinator.data.battery
        if battery is None:
            return  # the Indevolt did not answer this poll
        if self._restore_task is not None and not self._restore_task.done():
            return
        if self._record.restore_pending:
            self._schedule_restore("the Indevolt answers again", forced)
            return
        mode = coordinator.known_working_mode
        if mode is not None and mode is not WorkingMode.REALTIME:
            self._restore_task = self._entry.async_create_task(
                self._hass, self._async_forget_changed(mode, forced), "ems battery forget"
            )
            return
        soc = battery.soc_percent
        target = forced.target_soc_percent
        if soc is None or target is None:
            return
        if (forced.kind is ForcedKind.CHARGE and soc >= target) or (
            forced.kind is ForcedKind.DISCHARGE and soc <= target
        ):
            if forced.source is CommandSource.OPTIMISER and self._handed_over is not forced:
                # The optimiser decides after this same poll: its next command replaces this
                # one in real-time mode (one write, not a restore and a re-force). What it does
                # not replace, or follows with self-consumption, is restored at the next poll.
                self._handed_over = forced
                return
            self._schedule_restore(f"the {forced.kind} target of {target} % is reached", forced)

    async def _async_forget_changed(self, mode: WorkingMode, expected: ForcedCommand) -> None:
        """The mode was changed outside ems (the app, a reboot): nothing is left to undo."""
        async with self._coordinator.battery_lock:
            if self._record.command is not expected:
                return
            await self._async_forget()
        LOGGER.info(
            "The Indevolt left real-time mode outside ems (now %s); forgetting %s",
            mode.name.lower(),
            expected.describe(),
        )

    def _options(self) -> dict[str, Any]:
        return entry_options(self._entry)


def _warn_may_have_switched() -> None:
    LOGGER.warning(
        "The battery may be in real-time mode without its command; self-consumption "
        "mode will be restored when the Indevolt answers"
    )
