"""The capacity tariff and the quarter's budget in a loaded entry, over HTTP to the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import (
    CONF_CAPACITY_TARIFF,
    CONF_MAX_GRID_PEAK_W,
    CONF_PRICE_ENTITY,
)
from custom_components.ems.optimiser.capacity import LimitReason
from custom_components.ems.optimiser.command_pacing import Reason
from ems_simulator import Simulator, model

from .conftest import SIM_START, FakeClock
from .optimiser_helpers import (
    PLAN_SENSOR,
    PRICE_ENTITY,
    SWITCH,
    entsoe_attributes,
    poll,
    recorder_saying,
    setup_entry,
    switch,
)

HOUSE_W = 2000.0
KETTLE_HOUSE_W = 4450.0  # car and hob
RATE = 45.0  # EUR/kW/year: 3.75 EUR per kW of this month's peak


def negative_night(moment: datetime) -> float:
    """-2 EUR/kWh for the first two hours, 0.30 afterwards."""
    return -2.0 if moment < SIM_START + timedelta(hours=2) else 0.30


@pytest.fixture
def simulator(sim_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """No PV; the house draws a steady 2 kW."""
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: HOUSE_W)
    simulator = Simulator(clock=sim_clock, start=SIM_START - timedelta(minutes=5))
    simulator.model.pv_peak_w = 0.0
    sim_clock.advance(300)
    return simulator


@pytest.fixture
def recorder_statistics(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Iterator[None]:
    """The recorder of the 2 kW house."""
    freezer.move_to(SIM_START + timedelta(seconds=1))
    with recorder_saying(hass, HOUSE_W):
        yield


async def test_the_shaver_protects_the_peak_the_plan_chose(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    recorder_statistics: None,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim: Simulator = running_simulator.simulator
    hass.states.async_set(PRICE_ENTITY, "-2", entsoe_attributes(price=negative_night))
    entry = mock_config_entry
    await setup_entry(
        hass,
        entry,
        **{CONF_PRICE_ENTITY: PRICE_ENTITY, CONF_MAX_GRID_PEAK_W: 2000, CONF_CAPACITY_TARIFF: RATE},
    )
    await switch(hass, SWITCH, True)
    optimiser = entry.runtime_data.optimiser
    planned = optimiser.planned_peak
    assert planned is not None
    # From the 2.5 kW floor up to 2 kW of house + 2.4 kW of charge, in four steps.
    assert [round(c.limit_w) for c in planned.candidates] == [2500, 2975, 3450, 3925, 4400]
    # Two hours at -2 EUR/kWh pay for 1.9 kW more of this month's peak (7.13 EUR).
    assert planned.limit.reason is LimitReason.ARBITRAGE
    chosen_w = planned.limit.limit_w
    assert chosen_w == 4400
    # Chosen for this month only: the meter's month peak resets with the next.
    assert optimiser.planned_peak_limit_w(SIM_START + timedelta(days=9)) == 4400
    assert optimiser.planned_peak_limit_w(SIM_START + timedelta(days=10)) is None
    attributes = hass.states.get(PLAN_SENSOR).attributes  # type: ignore[union-attr]
    assert attributes["peak_limit_reason"] == "arbitrage"
    assert attributes["peak_limit_w"] == 4400
    assert attributes["peak_limit_candidates"][-1]["capacity_cost_eur"] == pytest.approx(
        7.12, abs=0.02
    )

    # The battery charges at full power on top of the house: 4.4 kW from the grid.
    await poll(hass, entry, sim_clock, freezer, times=12)
    decision = optimiser.last_decision
    assert decision is not None
    assert (decision.limit_w, decision.limit_reason) == (4400, LimitReason.ARBITRAGE)
    assert sim.model.battery_w == pytest.approx(2400, abs=50)
    assert hass.states.get(PLAN_SENSOR).attributes["peak_limit_w"] == 4400  # type: ignore[union-attr]

    # A 3 kW house would import 5.4 kW: the shaver keeps the quarter under the chosen 4.4 kW.
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 3000.0)
    await poll(hass, entry, sim_clock, freezer, times=2)
    decision = optimiser.last_decision
    assert decision is not None
    assert decision.command.reason is Reason.SHAVE_PEAK
    assert 0 < decision.command.charge_w < 1500
    for _ in range(200):
        await poll(hass, entry, sim_clock, freezer)
        if sim.model.now().minute == 14 and sim.model.now().second >= 55:
            break
    assert sim.model.now().minute == 14
    assert 4000 < sim.model.quarter_peak_w <= 4400


async def test_shaving_stops_at_the_floor(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
) -> None:
    sim: Simulator = running_simulator.simulator
    freezer.move_to(SIM_START + timedelta(seconds=1))
    hass.states.async_set(PRICE_ENTITY, "-2", entsoe_attributes(price=negative_night))
    # A month peak above the floor, as the P1 reports it, is paid for: up to it is free.
    sim.model.month_peak_w = 3200.0
    entry = mock_config_entry
    await setup_entry(
        hass,
        entry,
        **{CONF_PRICE_ENTITY: PRICE_ENTITY, CONF_MAX_GRID_PEAK_W: 2000, CONF_CAPACITY_TARIFF: RATE},
    )
    # Off: the sensor already says which limit would be protected, and why.
    attributes = hass.states.get(PLAN_SENSOR).attributes  # type: ignore[union-attr]
    assert (attributes["peak_limit_w"], attributes["peak_limit_reason"]) == (3200, "month_peak")
    assert attributes["peak_limit_candidates"] == []
    # The meter's peak back to 0, as in a new month: from here the 2.5 kW floor applies.
    sim.model.month_peak_w = 0.0
    await poll(hass, entry, sim_clock, freezer)

    # No load forecast (no recorder): charging at 2.4 kW looks like 2.4 kW of import, under the
    # floor, so there is nothing to weigh. The real 2 kW house leaves room for about 0.5 kW of
    # charge up to the 2.5 kW floor: charging there at -2 EUR/kWh costs no capacity charge.
    await switch(hass, SWITCH, True)
    optimiser = entry.runtime_data.optimiser
    assert optimiser.planned_peak is not None
    assert [candidate.limit_w for candidate in optimiser.planned_peak.candidates] == [2500]
    await poll(hass, entry, sim_clock, freezer, times=12)
    decision = optimiser.last_decision
    assert decision is not None
    assert (decision.limit_w, decision.limit_reason) == (2500, LimitReason.CAPACITY_FLOOR)
    assert 200 < sim.model.battery_w < 500
    assert hass.states.get(PLAN_SENSOR).attributes["peak_limit_reason"] == "capacity_floor"  # type: ignore[union-attr]

    # Without the tariff the 2 kW option is obeyed, as before: no charging at all.
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_CAPACITY_TARIFF: 0.0}
    )
    await poll(hass, entry, sim_clock, freezer, times=12)
    decision = optimiser.last_decision
    assert decision is not None
    assert (decision.limit_w, decision.limit_reason) == (2000, LimitReason.OPTION)
    assert sim.model.battery_w <= 0
    assert "peak_limit_reason" not in hass.states.get(PLAN_SENSOR).attributes  # type: ignore[union-attr]


@pytest.fixture
def car_and_hob_statistics(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Iterator[None]:
    """A recorder whose statistics say the house used 4.45 kW in every quarter: car and hob."""
    freezer.move_to(SIM_START + timedelta(seconds=1))
    with recorder_saying(hass, KETTLE_HOUSE_W):
        yield


async def test_a_kettle_late_in_a_shaved_quarter_still_fits_the_budget(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    car_and_hob_statistics: None,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Car and hob take 4.45 kW, a kettle brings the house to 6.3 kW for the quarter's last 3
    # minutes: 3.9 kW from the grid even at full discharge. Shaving only down to the budget
    # until then leaves the kettle too little of it (2.7 kW for the quarter at a 2.5 kW limit).
    sim: Simulator = running_simulator.simulator
    house = {"w": KETTLE_HOUSE_W}
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: house["w"])
    hass.states.async_set(PRICE_ENTITY, "0.3", entsoe_attributes(price=lambda moment: 0.30))
    entry = mock_config_entry
    await setup_entry(hass, entry, **{CONF_PRICE_ENTITY: PRICE_ENTITY, CONF_MAX_GRID_PEAK_W: 2500})
    await switch(hass, SWITCH, True)
    optimiser = entry.runtime_data.optimiser
    # Into the next quarter, so that it is shaved from its start.
    while sim.model.now().minute % 15 or sim.model.now().second:
        await poll(hass, entry, sim_clock, freezer)
    quarter_start_minute = sim.model.now().minute
    while sim.model.now().minute < quarter_start_minute + 12:
        await poll(hass, entry, sim_clock, freezer)
    decision = optimiser.last_decision
    assert decision is not None
    assert decision.command.reason is Reason.SHAVE_PEAK
    house["w"] = 6300.0
    while sim.model.now().minute < quarter_start_minute + 14 or sim.model.now().second < 55:
        await poll(hass, entry, sim_clock, freezer)
    assert 2300 < sim.model.quarter_peak_w <= 2500


async def test_a_house_hovering_at_the_limit_during_a_grid_charge_spends_no_reversals(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A negative price: the plan charges from the grid at full power. A heat pump steps the
    # house between 3880 and 4020 W every 20 s at a 4 kW limit; stopping the charge is all the
    # budget needs. Seen in closed loop: 50 W charge <-> 50 W discharge until the day's 8
    # reversals were gone, and the evening's export could not start.
    sim: Simulator = running_simulator.simulator
    freezer.move_to(SIM_START + timedelta(seconds=1))
    monkeypatch.setattr(
        model, "house_load_w", lambda tick, hour: 4020.0 if (tick // 20) % 2 else 3880.0
    )
    hass.states.async_set(PRICE_ENTITY, "-2", entsoe_attributes(price=negative_night))
    entry = mock_config_entry
    await setup_entry(hass, entry, **{CONF_PRICE_ENTITY: PRICE_ENTITY, CONF_MAX_GRID_PEAK_W: 4000})
    await switch(hass, SWITCH, True)
    optimiser = entry.runtime_data.optimiser
    await poll(hass, entry, sim_clock, freezer, times=360)  # half an hour
    assert optimiser.enabled
    decision = optimiser.last_decision
    assert decision is not None
    assert decision.state.direction_changes <= 1
    assert 0 < sim.model.month_peak_w <= 4000  # every completed quarter
