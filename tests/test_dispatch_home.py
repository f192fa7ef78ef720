"""Dispatch rules in a loaded entry, over HTTP to the simulator: what the plan's export keeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
import math
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import CONF_ENERGY_TAX, CONF_PRICE_ENTITY
from ems_simulator import Simulator, model

from .conftest import SIM_START, FakeClock
from .optimiser_helpers import (
    DAY,
    PRICE_ENTITY,
    SWITCH,
    entsoe_attributes,
    poll,
    recorder_saying,
    setup_entry,
    switch,
)

HOUSE_W = 500.0
ENERGY_TAX = 0.25


def evening_price(moment: datetime) -> float:
    """Bare prices: 0.40 at 17:00 UTC, 0.38 at 18:00, nothing otherwise."""
    return {17: 0.40, 18: 0.38}.get(moment.hour, 0.0) if moment.date() == DAY.date() else 0.0


@pytest.fixture
def simulator(sim_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """No PV; the house draws a steady 500 W; the battery at 30 % of 12 kWh."""
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: HOUSE_W)
    simulator = Simulator(clock=sim_clock, start=SIM_START - timedelta(minutes=5))
    simulator.model.pv_peak_w = 0.0
    simulator.model.soc_percent = 30.0
    sim_clock.advance(300)
    return simulator


@pytest.fixture
def recorder_statistics(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Iterator[None]:
    """The recorder of the 500 W house, at 17:00 (one second in: no quarter timer fires)."""
    freezer.move_to(DAY + timedelta(hours=17, seconds=1))
    with recorder_saying(hass, HOUSE_W):
        yield


async def test_an_export_keeps_back_only_the_point_the_plan_counts_on(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    running_simulator: Any,
    recorder_statistics: None,
) -> None:
    """Net metering ended: export at the bare 0.40, import at 0.65, 0.63 and then 0.25.

    The plan exports what the battery holds beyond the house's needs until 19:00, then covers
    the house down to the floor at 0.63 and never charges again: it counts on its last point,
    worth 0.63 kept, more than the 0.40 the export earns. The export keeps that point back
    (one point of 12 kWh over a quarter, delivered) and goes ahead with the rest, quarter after
    quarter; it used to be withheld whole, every quarter, so nothing was ever exported.
    """
    sim: Simulator = running_simulator.simulator
    hass.states.async_set(PRICE_ENTITY, "0.4", entsoe_attributes(price=evening_price))
    await setup_entry(
        hass,
        mock_config_entry,
        **{CONF_PRICE_ENTITY: PRICE_ENTITY, CONF_ENERGY_TAX: ENERGY_TAX},
    )
    await switch(hass, SWITCH, True)
    optimiser = mock_config_entry.runtime_data.optimiser
    active = optimiser.active_plan
    assert active is not None
    planned_export_wh = sum(-min(slot.grid_w, 0.0) for slot in active.plan.slots[:8]) / 4
    exported_wh = sum(sim.model.export_wh)
    imported_wh = sum(sim.model.import_wh)
    for _ in range(2 * 60 * 2):  # two hours, a poll every 30 s
        await poll(hass, mock_config_entry, sim_clock, freezer, seconds=30)
    exported_wh = sum(sim.model.export_wh) - exported_wh
    imported_wh = sum(sim.model.import_wh) - imported_wh
    # One point of 12 kWh, delivered through the discharge efficiency (sqrt of 0.8): 107 Wh.
    point_wh = 120.0 * math.sqrt(0.8)
    # Exported all the plan did but that point (withheld whole each quarter: 995 Wh of 1147).
    assert exported_wh > planned_export_wh - point_wh - 10.0
    assert exported_wh < planned_export_wh
    # The house was covered to 19:00 without a purchase at 0.63 or 0.65, with that point to
    # spare: 11.1 % (12.1 % withheld whole).
    assert imported_wh == pytest.approx(0.0, abs=1.0)
    assert 10.5 < sim.model.soc_percent < 11.5
