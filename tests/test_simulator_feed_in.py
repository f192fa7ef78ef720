"""The simulator honours the Indevolt's feed-in limit, for the PV on its own DC inputs only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ems_simulator import model
from ems_simulator.model import HomeModel

from .conftest import FakeClock

NOON = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)


def full_battery_at_noon(limit_w: float | None) -> HomeModel:
    clock = FakeClock()
    home = HomeModel(clock, start=NOON, initial_soc_percent=100.0, pv_peak_w=2000.0)
    home.feed_in_limit_w = limit_w
    clock.advance(60)
    home.advance()
    return home


def test_the_limit_curtails_the_dc_pv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: 300.0)
    assert full_battery_at_noon(None).grid_w < -1000  # no limit: the surplus is exported
    home = full_battery_at_noon(50)
    assert home.grid_w == pytest.approx(-50)
    assert sum(home.pv_w) == pytest.approx(350)  # the house's 300 W and the 50 W allowed
    registers = home.registers("SN")
    assert registers[1664] + registers[1665] == pytest.approx(350, abs=1)


def test_pv_on_another_inverter_is_exported_whatever_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1000 W more AC-coupled PV than the house uses: a negative load for the Indevolt.
    monkeypatch.setattr(model, "house_load_w", lambda tick, hour: -1000.0)
    home = full_battery_at_noon(50)
    assert sum(home.pv_w) == 0.0
    assert home.grid_w == pytest.approx(-1000)
