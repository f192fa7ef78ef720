"""Tariffs of 2026-2027: the end of Dutch net metering and the Belgian capacity charge."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.const import (
    CONF_ENERGY_TAX,
    CONF_EXPORT_SHARE_PERCENT,
    CONF_EXPORT_USES_EFFECTIVE_PRICE,
    CONF_FEED_IN_COST,
    CONF_NET_METERING_UNTIL,
    CONF_PRICE_ENTITY,
    CONF_VAT_PERCENT,
    DEFAULT_OPTIONS,
)
from custom_components.ems.optimiser.plan_inputs import export_price_formula
from custom_components.ems.optimiser.price_slots import PriceSlot
from custom_components.ems.optimiser.tariffs import (
    billed_peak_kw,
    effective_export_prices,
    monthly_capacity_charge_eur,
    peak_increase_cost_eur,
)

from .optimiser_helpers import (
    PLAN_SENSOR,
    PRICE_ENTITY,
    SWITCH,
    entsoe_attributes,
    setup_entry,
    switch,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# 23:00 and 23:15 UTC on 31 December are already 1 January in Amsterdam.
NEW_YEAR_EVE = [
    datetime(2026, 12, 31, 22, 45, tzinfo=UTC) + timedelta(minutes=15 * index) for index in range(3)
]


def test_export_is_netted_until_the_end_of_net_metering_then_paid_a_share() -> None:
    bare = [PriceSlot(start, 0.10) for start in NEW_YEAR_EVE]
    netted = [PriceSlot(start, 0.30) for start in NEW_YEAR_EVE]
    prices = effective_export_prices(
        bare,
        netted,
        net_metering=True,
        net_metering_until=date(2027, 1, 1),
        share_percent=50,
        feed_in_cost_eur_per_kwh=0.02,
        tz=AMSTERDAM,
    )
    assert [slot.start for slot in prices] == NEW_YEAR_EVE
    assert [slot.price_eur_per_kwh for slot in prices] == pytest.approx([0.28, 0.03, 0.03])


@pytest.mark.parametrize(
    ("net_metering", "until", "share", "cost", "expected"),
    [
        # The defaults: export paid the bare price, as before these options.
        (False, None, 100, 0.0, [0.10, 0.10, 0.10]),
        # Net metering without an end.
        (True, None, 100, 0.0, [0.30, 0.30, 0.30]),
        # An end date without net metering changes nothing.
        (False, date(2027, 1, 1), 100, 0.0, [0.10, 0.10, 0.10]),
        # The feed-in cost applies with and without net metering, a price can go negative.
        (True, date(2027, 1, 1), 0, 0.15, [0.15, -0.15, -0.15]),
    ],
)
def test_export_price_options(
    *, net_metering: bool, until: date | None, share: float, cost: float, expected: list[float]
) -> None:
    bare = [PriceSlot(start, 0.10) for start in NEW_YEAR_EVE]
    netted = [PriceSlot(start, 0.30) for start in NEW_YEAR_EVE]
    prices = effective_export_prices(
        bare,
        netted,
        net_metering=net_metering,
        net_metering_until=until,
        share_percent=share,
        feed_in_cost_eur_per_kwh=cost,
        tz=AMSTERDAM,
    )
    assert [slot.price_eur_per_kwh for slot in prices] == pytest.approx(expected)


def test_a_slot_without_a_netted_price_is_paid_its_share() -> None:
    prices = effective_export_prices(
        [PriceSlot(NEW_YEAR_EVE[0], 0.10)],
        [],
        net_metering=True,
        net_metering_until=None,
        share_percent=80,
        feed_in_cost_eur_per_kwh=0.0,
        tz=AMSTERDAM,
    )
    assert prices[0].price_eur_per_kwh == pytest.approx(0.08)


def test_billed_peak_is_the_mean_of_twelve_floored_monthly_peaks() -> None:
    assert billed_peak_kw([]) == 2.5
    assert billed_peak_kw([1.0]) == 2.5
    assert billed_peak_kw([2.0, 5.5]) == pytest.approx(4.0)
    # Only the last 12 months count: the 20 kW of 13 months ago does not.
    assert billed_peak_kw([20.0] + [3.0] * 11 + [6.0]) == pytest.approx(3.25)
    # 53.26 EUR/kW/year (Fluvius 2026 order of magnitude) on a 4 kW average: 17.75 EUR a month.
    assert monthly_capacity_charge_eur([4.0] * 12, 53.26) == pytest.approx(4 * 53.26 / 12)


def test_a_higher_peak_costs_a_twelfth_of_the_yearly_rate_per_kw_in_total() -> None:
    rate = 60.0
    assert peak_increase_cost_eur(4000, 5000, rate) == pytest.approx(5.0)
    # It is the sum of what the 12 monthly bills that average this month's peak go up by.
    history = [4.0] * 11
    before = sum(
        monthly_capacity_charge_eur(([*history, 4.0] + [4.0] * 11)[: 12 + month], rate)
        for month in range(12)
    )
    after = sum(
        monthly_capacity_charge_eur(([*history, 5.0] + [4.0] * 11)[: 12 + month], rate)
        for month in range(12)
    )
    assert after - before == pytest.approx(peak_increase_cost_eur(4000, 5000, rate))
    # Below the month's peak or the 2.5 kW floor a peak costs nothing.
    assert peak_increase_cost_eur(4000, 3500, rate) == 0.0
    assert peak_increase_cost_eur(1000, 2500, rate) == 0.0
    assert peak_increase_cost_eur(1000, 3000, rate) == pytest.approx(0.5 * rate / 12)


async def test_the_optimiser_plans_with_the_export_price_options(
    hass: HomeAssistant, enable_custom_integrations: None, mock_config_entry: MockConfigEntry
) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    hass.states.async_set(PRICE_ENTITY, "0.05", entsoe_attributes(price=lambda moment: 0.10))
    await setup_entry(
        hass,
        mock_config_entry,
        **{
            CONF_PRICE_ENTITY: PRICE_ENTITY,
            CONF_ENERGY_TAX: 0.10,
            CONF_VAT_PERCENT: 21.0,
            CONF_EXPORT_USES_EFFECTIVE_PRICE: True,
            # Net metering ends tomorrow (local time): today netted, tomorrow a share.
            CONF_NET_METERING_UNTIL: "2026-06-22",
            CONF_EXPORT_SHARE_PERCENT: 40.0,
            CONF_FEED_IN_COST: 0.01,
        },
    )
    await switch(hass, SWITCH, True)
    prices = mock_config_entry.runtime_data.optimiser.prices
    by_start = {slot.start: slot.price_eur_per_kwh for slot in prices.export_slots}
    today = datetime(2026, 6, 21, 21, 45, tzinfo=UTC)  # 23:45 in Amsterdam
    tomorrow = datetime(2026, 6, 21, 22, tzinfo=UTC)  # 00:00 on 22 June in Amsterdam
    assert by_start[today] == pytest.approx((0.10 + 0.10) * 1.21 - 0.01)
    assert by_start[tomorrow] == pytest.approx(0.10 * 0.40 - 0.01)
    plan = hass.states.get(PLAN_SENSOR)
    assert plan is not None
    assert plan.attributes["export_price"] == (
        "effective until 2026-06-22, then 40 % of the price, minus 0.01 EUR/kWh feed-in cost"
    )


@pytest.mark.parametrize(
    ("options", "formula"),
    [
        ({}, "as published"),
        ({CONF_EXPORT_SHARE_PERCENT: 80.0}, "80 % of the price"),
        ({CONF_EXPORT_USES_EFFECTIVE_PRICE: True}, "effective"),
        ({CONF_FEED_IN_COST: 0.0215}, "as published, minus 0.0215 EUR/kWh feed-in cost"),
    ],
)
def test_export_price_formula(options: dict[str, object], formula: str) -> None:
    assert export_price_formula({**DEFAULT_OPTIONS, **options}) == formula
