"""The optimiser switches: off by default, restored after a restart, off gives the battery back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import SensorExtraStoredData
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import CONF_PRICE_ENTITY
from custom_components.ems.optimiser.plan_inputs import OptimiserStatus
from ems_simulator import Simulator

from .conftest import INDEVOLT_SERIAL, SIM_START, FakeClock
from .optimiser_helpers import (
    DRY_RUN_SWITCH,
    PRICE_ENTITY,
    SAVINGS_SENSOR,
    STATUS_SENSOR,
    SWITCH,
    entsoe_attributes,
    in_realtime,
    poll,
    setup_entry,
    switch,
    writes,
)
from .restore_cache import async_restore_cache


@pytest.fixture(autouse=True)
def noon(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(SIM_START + timedelta(seconds=1))
    hass.states.async_set(PRICE_ENTITY, "0.05", entsoe_attributes())


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await setup_entry(hass, entry, **{CONF_PRICE_ENTITY: PRICE_ENTITY})


async def test_switches_are_off_by_default_with_unique_ids(
    hass: HomeAssistant, enable_custom_integrations: None, mock_config_entry: MockConfigEntry
) -> None:
    await setup(hass, mock_config_entry)
    registry = er.async_get(hass)
    for entity_id, suffix in (
        (SWITCH, "optimiser"),
        (DRY_RUN_SWITCH, "optimiser_dry_run"),
        (STATUS_SENSOR, "optimiser_status"),
        (SAVINGS_SENSOR, "estimated_savings"),
    ):
        entry = registry.async_get(entity_id)
        assert entry is not None
        assert entry.unique_id == f"{INDEVOLT_SERIAL}_{suffix}"
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    assert hass.states.get(DRY_RUN_SWITCH).state == "off"  # type: ignore[union-attr]


async def test_switch_off_restores_self_consumption(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
) -> None:
    sim: Simulator = running_simulator.simulator
    await setup(hass, mock_config_entry)
    await switch(hass, SWITCH, True)
    await poll(hass, mock_config_entry, sim_clock, freezer)
    assert in_realtime(sim)
    sim.requests.clear()
    await switch(hass, SWITCH, False)
    assert writes(sim) == [(47005, [1])]
    assert not in_realtime(sim)
    # Off again changes nothing.
    sim.requests.clear()
    await switch(hass, SWITCH, False)
    assert writes(sim) == []


async def test_switch_off_when_the_battery_does_not_answer(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim: Simulator = running_simulator.simulator
    await setup(hass, mock_config_entry)
    await switch(hass, SWITCH, True)
    await poll(hass, mock_config_entry, sim_clock, freezer)
    sim.indevolt_faults.reject_commands = True
    await switch(hass, SWITCH, False)
    assert "Could not restore self-consumption mode" in caplog.text
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]


async def test_states_are_restored_after_a_restart(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    hass_storage: dict[str, Any],
) -> None:
    sim: Simulator = running_simulator.simulator
    await async_restore_cache(
        hass,
        hass_storage,
        [
            State(SWITCH, "on"),
            State(DRY_RUN_SWITCH, "on"),
            (State(SAVINGS_SENSOR, "1.23"), SensorExtraStoredData(1.23, "EUR").as_dict()),
        ],
    )
    await setup(hass, mock_config_entry)
    optimiser = mock_config_entry.runtime_data.optimiser
    assert optimiser.enabled
    assert optimiser.dry_run
    assert optimiser.savings_eur == pytest.approx(1.23)
    assert hass.states.get(SWITCH).state == "on"  # type: ignore[union-attr]
    assert hass.states.get(STATUS_SENSOR).state == OptimiserStatus.DRY_RUN  # type: ignore[union-attr]
    await poll(hass, mock_config_entry, sim_clock, freezer, times=2)
    assert writes(sim) == []
    # Dry run off: the optimiser commands the battery.
    await switch(hass, DRY_RUN_SWITCH, False)
    await poll(hass, mock_config_entry, sim_clock, freezer)
    assert in_realtime(sim)
    await poll(hass, mock_config_entry, sim_clock, freezer, times=3)
    # The sensor shows cents; the total goes on from the restored value.
    assert 1.22 < optimiser.savings_eur < 1.23


async def test_restored_off_stays_off(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    await async_restore_cache(
        hass, hass_storage, [State(SWITCH, "off"), State(DRY_RUN_SWITCH, "off")]
    )
    await setup(hass, mock_config_entry)
    assert not mock_config_entry.runtime_data.optimiser.enabled
    assert not mock_config_entry.runtime_data.optimiser.dry_run
