"""Repair issues: problems only the owner can fix, raised and cleared from the poll results."""

from __future__ import annotations

from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .devices.indevolt import BatterySnapshot, WorkingMode
from .reconciliation import Reconciliation, ReconciliationStatus

ISSUE_P1_API_DISABLED: Final = "p1_api_disabled"
ISSUE_RECONCILIATION_MISMATCH: Final = "reconciliation_mismatch"
ISSUE_CT_SIGN_REVERSED: Final = "ct_sign_reversed"
ISSUE_UNSUPPORTED_WORKING_MODE: Final = "unsupported_working_mode"
ISSUE_DIFFERENT_BATTERY: Final = "different_battery"
ALL_ISSUES: Final = (
    ISSUE_P1_API_DISABLED,
    ISSUE_RECONCILIATION_MISMATCH,
    ISSUE_CT_SIGN_REVERSED,
    ISSUE_UNSUPPORTED_WORKING_MODE,
    ISSUE_DIFFERENT_BATTERY,
)
# Issues that keep (part of) the entry from working at all.
ERROR_ISSUES: Final = frozenset({ISSUE_P1_API_DISABLED, ISSUE_DIFFERENT_BATTERY})
# A reconciliation fault must last this long before it is worth the owner's attention:
# a heat pump starting between two 11016 refreshes should not raise a repair.
PERSISTENT_FAULT_S: Final = 600.0
CONTROLLABLE_MODES: Final = frozenset(
    {WorkingMode.SELF_CONSUMED, WorkingMode.REALTIME, WorkingMode.SCHEDULE}
)


class RepairIssues:
    """Raises each repair issue once when its condition holds and removes it when it ends."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Track the issues of one entry."""
        self._hass = hass
        self._entry = entry
        self._active: set[str] = set()
        self._fault_since: tuple[ReconciliationStatus, float] | None = None

    def _issue_id(self, key: str) -> str:
        return f"{key}_{self._entry.entry_id}"

    def _set(self, key: str, active: bool, placeholders: dict[str, str] | None = None) -> None:
        if active and key not in self._active:
            self._active.add(key)
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                self._issue_id(key),
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR
                if key in ERROR_ISSUES
                else ir.IssueSeverity.WARNING,
                translation_key=key,
                translation_placeholders={"title": self._entry.title, **(placeholders or {})},
            )
        elif not active and key in self._active:
            self._active.discard(key)
            ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(key))

    def update_p1(self, *, api_disabled: bool, answered: bool) -> None:
        """Raise or clear the disabled-API issue (also during set-up, when it blocks it)."""
        if api_disabled or answered:
            self._set(ISSUE_P1_API_DISABLED, api_disabled)

    def update_different_battery(self, different: bool, *, host: str, found_serial: str) -> None:
        """Raise or clear the wrong-battery issue (it may remain from an earlier set-up)."""
        if different:
            self._set(ISSUE_DIFFERENT_BATTERY, True, {"host": host, "serial": found_serial})
            return
        self._active.discard(ISSUE_DIFFERENT_BATTERY)
        ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(ISSUE_DIFFERENT_BATTERY))

    def update(
        self, *, now_s: float, battery: BatterySnapshot | None, reconciliation: Reconciliation
    ) -> None:
        """Re-evaluate the battery and reconciliation issues after a poll (monotonic `now_s`)."""
        if battery is not None:
            code = battery.working_mode_code
            unsupported = code is not None and battery.working_mode not in CONTROLLABLE_MODES
            self._set(ISSUE_UNSUPPORTED_WORKING_MODE, unsupported, {"mode": str(code)})
        self._update_reconciliation(now_s, reconciliation)

    def _update_reconciliation(self, now_s: float, reconciliation: Reconciliation) -> None:
        status = reconciliation.status
        if status in (ReconciliationStatus.STALE, ReconciliationStatus.NO_DATA):
            return  # no evidence either way
        # Without a meter at the battery there is no clamp to be wrong: nothing to report.
        if status in (ReconciliationStatus.OK, ReconciliationStatus.NO_CT):
            self._fault_since = None
            self._set(ISSUE_RECONCILIATION_MISMATCH, False)
            self._set(ISSUE_CT_SIGN_REVERSED, False)
            return
        if self._fault_since is None or self._fault_since[0] is not status:
            self._fault_since = (status, now_s)
        if now_s - self._fault_since[1] < PERSISTENT_FAULT_S:
            return
        difference = (
            "" if reconciliation.difference_w is None else f"{reconciliation.difference_w:.0f}"
        )
        reversed_sign = status is ReconciliationStatus.SIGN_REVERSED
        self._set(ISSUE_CT_SIGN_REVERSED, reversed_sign, {"difference": difference})
        self._set(ISSUE_RECONCILIATION_MISMATCH, not reversed_sign, {"difference": difference})


def async_delete_all(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove every issue of an entry (when the entry is removed)."""
    for key in ALL_ISSUES:
        ir.async_delete_issue(hass, DOMAIN, f"{key}_{entry.entry_id}")
