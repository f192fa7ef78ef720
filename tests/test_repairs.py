"""Repair issues: raised when only the owner can fix something, cleared when it is fixed."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import DOMAIN
from custom_components.ems.devices.indevolt import BatterySnapshot
from custom_components.ems.reconciliation import Reconciliation, ReconciliationStatus
from custom_components.ems.repair_issues import (
    ISSUE_CT_SIGN_REVERSED,
    ISSUE_P1_API_DISABLED,
    ISSUE_RECONCILIATION_MISMATCH,
    ISSUE_UNSUPPORTED_WORKING_MODE,
    PERSISTENT_FAULT_S,
    RepairIssues,
    async_delete_all,
)
from ems_simulator import RunningSimulator


def _issue(hass: HomeAssistant, entry: MockConfigEntry, key: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{key}_{entry.entry_id}")


async def test_p1_api_disabled_raises_and_clears(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    running_simulator.simulator.p1_faults.api_disabled = True
    await coordinator.async_refresh()
    issue = _issue(hass, init_integration, ISSUE_P1_API_DISABLED)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {"title": init_integration.title}
    running_simulator.simulator.p1_faults.api_disabled = False
    await coordinator.async_refresh()
    assert _issue(hass, init_integration, ISSUE_P1_API_DISABLED) is None


async def test_p1_api_disabled_at_setup(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    running_simulator: RunningSimulator,
) -> None:
    running_simulator.simulator.p1_faults.api_disabled = True
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    # The battery answers: the entry loads, the meter's entities wait for the owner's fix.
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert _issue(hass, mock_config_entry, ISSUE_P1_API_DISABLED) is not None


async def test_unsupported_working_mode(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    model = running_simulator.simulator.model
    original = model.registers
    coordinator = init_integration.runtime_data.coordinator
    with patch.object(model, "registers", lambda serial: {**original(serial), 7101: 0}):
        await coordinator.async_refresh()
    issue = _issue(hass, init_integration, ISSUE_UNSUPPORTED_WORKING_MODE)
    assert issue is not None
    assert issue.translation_placeholders["mode"] == "0"
    await coordinator.async_refresh()
    assert _issue(hass, init_integration, ISSUE_UNSUPPORTED_WORKING_MODE) is None


def _reconciliation(status: ReconciliationStatus, difference_w: float = 900.0) -> Reconciliation:
    return Reconciliation(status, difference_w, 1.0, fresh=True)


@pytest.mark.parametrize(
    ("status", "key", "other"),
    [
        (ReconciliationStatus.MISMATCH, ISSUE_RECONCILIATION_MISMATCH, ISSUE_CT_SIGN_REVERSED),
        (ReconciliationStatus.SIGN_REVERSED, ISSUE_CT_SIGN_REVERSED, ISSUE_RECONCILIATION_MISMATCH),
    ],
)
async def test_persistent_reconciliation_fault(
    hass: HomeAssistant, status: ReconciliationStatus, key: str, other: str
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="Home")
    entry.add_to_hass(hass)
    issues = RepairIssues(hass, entry)
    battery = BatterySnapshot(registers={7101: 1})
    issues.update(now_s=0.0, battery=battery, reconciliation=_reconciliation(status))
    # A short fault, or one interrupted by missing data, is not raised.
    issues.update(
        now_s=PERSISTENT_FAULT_S / 2,
        battery=None,
        reconciliation=_reconciliation(ReconciliationStatus.NO_DATA),
    )
    assert _issue(hass, entry, key) is None
    issues.update(
        now_s=PERSISTENT_FAULT_S + 1, battery=battery, reconciliation=_reconciliation(status)
    )
    issue = _issue(hass, entry, key)
    assert issue is not None
    assert issue.translation_placeholders == {"title": "Home", "difference": "900"}
    assert _issue(hass, entry, other) is None
    # Stale readings neither raise nor clear.
    issues.update(
        now_s=PERSISTENT_FAULT_S + 2,
        battery=battery,
        reconciliation=_reconciliation(ReconciliationStatus.STALE),
    )
    assert _issue(hass, entry, key) is not None
    issues.update(
        now_s=PERSISTENT_FAULT_S + 3,
        battery=battery,
        reconciliation=_reconciliation(ReconciliationStatus.OK, 0.0),
    )
    assert _issue(hass, entry, key) is None


async def test_changing_fault_restarts_the_clock(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="Home")
    entry.add_to_hass(hass)
    issues = RepairIssues(hass, entry)
    issues.update(
        now_s=0.0, battery=None, reconciliation=_reconciliation(ReconciliationStatus.MISMATCH)
    )
    issues.update(
        now_s=PERSISTENT_FAULT_S - 1,
        battery=None,
        reconciliation=_reconciliation(ReconciliationStatus.SIGN_REVERSED),
    )
    issues.update(
        now_s=PERSISTENT_FAULT_S + 1,
        battery=None,
        reconciliation=_reconciliation(ReconciliationStatus.SIGN_REVERSED),
    )
    assert _issue(hass, entry, ISSUE_CT_SIGN_REVERSED) is None
    assert _issue(hass, entry, ISSUE_RECONCILIATION_MISMATCH) is None
    issues.update(
        now_s=2 * PERSISTENT_FAULT_S,
        battery=None,
        reconciliation=_reconciliation(ReconciliationStatus.SIGN_REVERSED),
    )
    assert _issue(hass, entry, ISSUE_CT_SIGN_REVERSED) is not None
    async_delete_all(hass, entry)
    assert _issue(hass, entry, ISSUE_CT_SIGN_REVERSED) is None


async def test_issues_removed_with_the_entry(
    hass: HomeAssistant, init_integration: MockConfigEntry, running_simulator: RunningSimulator
) -> None:
    running_simulator.simulator.p1_faults.api_disabled = True
    await init_integration.runtime_data.coordinator.async_refresh()
    assert _issue(hass, init_integration, ISSUE_P1_API_DISABLED) is not None
    assert await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, init_integration, ISSUE_P1_API_DISABLED) is None
    assert not [i for i in ir.async_get(hass).issues.values() if i.domain == DOMAIN]


async def test_no_meter_at_the_battery_is_no_clamp_fault(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="Home")
    entry.add_to_hass(hass)
    issues = RepairIssues(hass, entry)
    mismatch = _reconciliation(ReconciliationStatus.MISMATCH)
    issues.update(now_s=0.0, battery=None, reconciliation=mismatch)
    issues.update(now_s=PERSISTENT_FAULT_S + 1, battery=None, reconciliation=mismatch)
    assert _issue(hass, entry, ISSUE_RECONCILIATION_MISMATCH) is not None
    # The meter was unplugged: there is no clamp to check, so the issue goes and none comes.
    no_ct = Reconciliation(ReconciliationStatus.NO_CT, None, 1.0, fresh=False)
    issues.update(now_s=PERSISTENT_FAULT_S + 2, battery=None, reconciliation=no_ct)
    assert _issue(hass, entry, ISSUE_RECONCILIATION_MISMATCH) is None
    issues.update(now_s=3 * PERSISTENT_FAULT_S, battery=None, reconciliation=no_ct)
    assert _issue(hass, entry, ISSUE_RECONCILIATION_MISMATCH) is None
    assert _issue(hass, entry, ISSUE_CT_SIGN_REVERSED) is None
