"""The optimiser's state: what it is doing, why, and who listens (status sensors, switches)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from ..controller import BatteryController
from ..coordinator import EmsCoordinator
from ..options import entry_options
from .active_plan import ActivePlan
from .command_pacing import ShaverState
from .dispatch import Intent
from .feed_in import FeedInLimiter
from .guards import AppChangeWatch, SendBackoff
from .peak_shaver import Decision
from .plan_inputs import OptimiserStatus, PriceState
from .savings import SavingsAgainstDevice, VirtualBattery


class OptimiserState:
    """The state one entry's optimiser shares between planning, the real-time step and commands."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        coordinator: EmsCoordinator,
        controller: BatteryController,
    ) -> None:
        """Create the optimiser, switched off; `async_setup` starts watching."""
        self._hass = hass
        self._entry = entry
        self._coordinator = coordinator
        self._controller = controller
        self.enabled = False
        self.dry_run = False
        self.active_plan: ActivePlan | None = None
        self.prices = PriceState(OptimiserStatus.NO_PRICES, "not read yet")
        self.savings_eur = 0.0
        # Against the battery's own self-consumption mode (savings.py): today's and in total.
        self.savings_vs_self_consumption = SavingsAgainstDevice()
        self._virtual: VirtualBattery | None = None
        self.last_decision: Decision | None = None
        # The dispatch mode of the last poll (None without a plan: the shaver alone).
        self.intent: Intent | None = None
        # Why the optimiser is off, when it switched itself off (a manual override).
        self.off_reason = ""
        # Why the last poll gave nothing to act on ("" when it did).
        self._unusable = ""
        self._unusable_since: datetime | None = None
        self._shaver_state = ShaverState()
        self._backoff = SendBackoff()
        self._app_watch = AppChangeWatch()
        # The feed-in limit at negative export prices (feed_in.py).
        self.feed_in = FeedInLimiter(hass, entry, coordinator, controller)
        self._sent_any = False
        self._savings_at: datetime | None = None
        self._plan_task: asyncio.Task[None] | None = None
        self._replan_again = False
        self._send_task: asyncio.Task[None] | None = None
        self._listeners: list[CALLBACK_TYPE] = []
        self._closed = False

    # -- public ----------------------------------------------------------------------------

    @property
    def status(self) -> OptimiserStatus:
        """The status sensor's state."""
        if not self.enabled:
            return OptimiserStatus.OFF
        if self._unusable:
            return OptimiserStatus.DEVICE_UNAVAILABLE
        if self.prices.status is not OptimiserStatus.OK:
            return self.prices.status
        return OptimiserStatus.DRY_RUN if self.dry_run else OptimiserStatus.OK

    @property
    def status_detail(self) -> str:
        """A one-line explanation of the status (empty when there is nothing to add)."""
        status = self.status
        if status is OptimiserStatus.OFF:
            return self.off_reason
        if status is OptimiserStatus.DEVICE_UNAVAILABLE:
            return self._unusable
        return self.prices.detail

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` whenever the optimiser's state changes; returns the remover."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    def restore_savings(self, savings_eur: float) -> None:
        """Continue the savings total from its value before a restart."""
        self.savings_eur = savings_eur

    @callback
    def _set_unusable(self, reason: str) -> None:
        if reason != self._unusable:
            self._unusable = reason
            self._notify()

    def _cancel_tasks(self) -> None:
        for task in (self._plan_task, self._send_task):
            if task is not None and not task.done():
                task.cancel()
        self._replan_again = False

    @callback
    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _options(self) -> dict[str, Any]:
        return entry_options(self._entry)
