"""Commands to the battery through the controller: send, back off, or give the battery back."""

from __future__ import annotations

from datetime import date, datetime, timedelta
import math
from typing import Final

from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from ..const import CONF_MAX_SOC, LOGGER, POLL_INTERVAL_MIN_S
from ..control_store import CommandSource, ForcedKind
from ..devices.indevolt import WorkingMode
from .command_pacing import Command, ShaverState, record_sent
from .state import OptimiserState

# Without usable readings the last command holds this long, then self-consumption takes over.
MAX_HOLD_WITHOUT_READINGS: Final = timedelta(minutes=1)
# The back-off's unit when the coordinator has no interval (it always has one): the shortest.
SHORTEST_POLL_INTERVAL: Final = timedelta(seconds=POLL_INTERVAL_MIN_S)


class CommandSender(OptimiserState):
    """Sends the real-time step's commands, one at a time, and backs off when they fail."""

    @callback
    def _hold_without_readings(self, reason: str) -> None:
        """Hold the last command for a while, then give the battery back to self-consumption.

        A charge or discharge that nothing measures any more could push the grid anywhere.
        """
        now = dt_util.utcnow()
        if not self._unusable or self._unusable_since is None:
            self._unusable_since = now
        self._set_unusable(reason)
        sent = self._shaver_state.sent
        if (
            self.dry_run
            or sent is None
            or sent.power_w == 0
            or now - self._unusable_since < MAX_HOLD_WITHOUT_READINGS
            or (self._send_task is not None and not self._send_task.done())
        ):
            return
        LOGGER.info(
            "No usable readings for %d s: self-consumption mode until they are back",
            (now - self._unusable_since).total_seconds(),
        )
        self._shaver_state = ShaverState()  # the first usable poll sends afresh
        self._send_task = self._entry.async_create_task(
            self._hass, self._async_give_back(), "ems optimiser give back"
        )

    async def _async_give_back(self) -> None:
        try:
            await self._controller.async_restore_auto_mode(source=CommandSource.OPTIMISER)
        except HomeAssistantError as err:
            LOGGER.warning("Could not restore self-consumption mode: %s", err)

    def _send(self, command: Command, now: datetime, local_date: date, soc: float) -> None:
        if self.dry_run:
            LOGGER.info("Optimiser dry run: would send %s", _describe(command))
            self._shaver_state = record_sent(self._shaver_state, command, now, local_date)
            return
        if command.follow_house and self._follows_house_anyway(soc):
            # Already there, or the controller gives the battery back itself (a command reached
            # its target in this poll): the next decision costs no write.
            self._shaver_state = record_sent(self._shaver_state, command, now, local_date)
            return
        if self._send_task is not None and not self._send_task.done():
            return  # the previous command is still on its way; decide again next poll
        if not self._backoff.may_send(now):
            return  # the battery refused the last command: decide again after the back-off
        self._send_task = self._entry.async_create_task(
            self._hass, self._async_send(command, now, local_date), "ems optimiser command"
        )

    def _follows_house_anyway(self, soc: float) -> bool:
        """Whether the battery runs self-consumption, or the controller restores it right now."""
        controller = self._controller
        forced = controller.forced_command
        if forced is None:
            return (
                not controller.restore_pending
                and self._coordinator.known_working_mode is WorkingMode.SELF_CONSUMED
            )
        target = forced.target_soc_percent
        # The controller ends a charge or discharge at its target at the next poll, unless a
        # command of the optimiser replaces it first.
        return target is not None and (
            (forced.kind is ForcedKind.CHARGE and soc >= target)
            or (forced.kind is ForcedKind.DISCHARGE and soc <= target)
        )

    async def _async_send(self, command: Command, now: datetime, local_date: date) -> None:
        controller = self._controller
        source = CommandSource.OPTIMISER
        try:
            if command.charge_w > 0:
                target = math.floor(float(self._options()[CONF_MAX_SOC]))
                await controller.async_charge(command.charge_w, target, source=source)
            elif command.discharge_w > 0:
                await controller.async_discharge(command.discharge_w, source=source)
            elif command.follow_house or self.active_plan is None:
                # Shaving only: between peaks the battery does its own self-consumption.
                await controller.async_restore_auto_mode(source=source)
            else:
                await controller.async_stop(source=source)
        except HomeAssistantError as err:
            interval = self._coordinator.update_interval or SHORTEST_POLL_INTERVAL
            wait = self._backoff.failed(now, interval)
            # One warning per episode; the retries log at debug level.
            log = LOGGER.warning if self._backoff.failures == 1 else LOGGER.debug
            log(
                "Optimiser command %s failed: %s; trying again in %s s",
                _describe(command),
                err,
                int(wait.total_seconds()),
            )
            return
        failures = self._backoff.succeeded()
        if failures:
            LOGGER.info("Optimiser commands work again, after %d failed attempts", failures)
        if not self.enabled or self.dry_run:
            return  # switched off meanwhile: the restore already went out or will
        self._sent_any = True
        self._shaver_state = record_sent(self._shaver_state, command, now, local_date)
        LOGGER.debug("Optimiser sent %s", _describe(command))


def _describe(command: Command) -> str:
    if command.follow_house:
        return f"self-consumption ({command.reason})"
    if command.charge_w:
        return f"charge {command.charge_w} W ({command.reason})"
    if command.discharge_w:
        return f"discharge {command.discharge_w} W ({command.reason})"
    return f"idle ({command.reason})"
