"""Reading prices from Home Assistant price entities: attribute shapes and action responses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.optimiser.price_source import (
    PriceEntityReader,
    PriceStatus,
    _action_calls,
)
from custom_components.ems.optimiser.prices import PriceSource

from .optimiser_helpers import DAY, entsoe_attributes, hours

# 12:00 UTC is 14:00 in Amsterdam: tomorrow's prices are due.
NOW = DAY + timedelta(hours=12)
ENTITY = "sensor.prices"


@pytest.fixture(autouse=True)
async def amsterdam(hass: HomeAssistant) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")


def nordpool_hacs(hass: HomeAssistant) -> dict[str, Any]:
    """HACS Nord Pool: datetime objects, in cents/kWh via `price_in_cents`."""
    raw = [
        {"start": start, "end": start + timedelta(hours=1), "value": 25.0}
        for start in hours(DAY, 24)
    ]
    return {"raw_today": raw, "raw_tomorrow": [], "price_in_cents": True, "unit": "kWh"}


def frank(hass: HomeAssistant) -> dict[str, Any]:
    """Frank Energie: `from`/`till` strings, with epoch and far-future sentinels."""
    prices = [
        {"from": "1970-01-01T00:00:00+00:00", "till": "1970-01-01T00:00:00+00:00", "price": 0}
    ]
    prices += [
        {
            "from": start.isoformat(),
            "till": (start + timedelta(hours=1)).isoformat(),
            "price": 0.25,
        }
        for start in hours(DAY, 24)
    ]
    prices.append({"from": "9999-12-31T00:00:00Z", "till": "9999-12-31T01:00:00Z", "price": 9})
    return {"prices": prices}


def zonneplan(hass: HomeAssistant) -> dict[str, Any]:
    """Zonneplan: `forecast` with integer prices in 1e-7 EUR/kWh."""
    return {
        "forecast": [
            {"datetime": start.isoformat(), "electricityPrice": 2_500_000}
            for start in hours(DAY, 24)
        ]
    }


def entsoe(hass: HomeAssistant) -> dict[str, Any]:
    """ENTSO-E: local-time strings with their offset."""
    return {
        "prices_today": [
            {"time": start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00"), "price": 0.25}
            for start in hours(DAY, 24)
        ]
    }


@pytest.mark.parametrize(
    ("shape", "source"),
    [
        (nordpool_hacs, PriceSource.NORDPOOL_HACS),
        (frank, PriceSource.FRANK_ENERGIE),
        (zonneplan, PriceSource.ZONNEPLAN),
        (entsoe, PriceSource.ENTSOE),
    ],
)
async def test_attribute_sources(hass: HomeAssistant, shape: Any, source: PriceSource) -> None:
    hass.states.async_set(ENTITY, "0.25", shape(hass))
    reading = await PriceEntityReader(hass, ENTITY).async_read(NOW)
    assert reading.status is PriceStatus.OK
    assert reading.source is source
    assert len(reading.slots) == 96
    assert all(slot.price_eur_per_kwh == pytest.approx(0.25) for slot in reading.slots)
    assert reading.slots[0].start == DAY


@pytest.mark.parametrize(
    ("attributes", "detail"),
    [
        ({"unit_of_measurement": "EUR/kWh"}, "no price list attributes"),
        ({"prices_today": [{"time": "yesterday", "price": 1}]}, "unreadable time"),
        ({}, "no prices found"),
    ],
)
async def test_entity_without_prices(
    hass: HomeAssistant, attributes: dict[str, Any], detail: str
) -> None:
    hass.states.async_set(ENTITY, "0.25", attributes)
    reading = await PriceEntityReader(hass, ENTITY).async_read(NOW)
    assert reading.status is PriceStatus.NO_PRICES
    assert detail in reading.detail


async def test_missing_entity(hass: HomeAssistant) -> None:
    reading = await PriceEntityReader(hass, "sensor.nothing").async_read(NOW)
    assert reading.status is PriceStatus.UNAVAILABLE
    assert reading.detail == "entity does not exist"


class FakeAction:
    """A price action that knows today and, once `published`, tomorrow."""

    def __init__(self, respond: Any) -> None:
        self.respond = respond
        self.calls: list[dict[str, Any]] = []
        self.published = False
        self.fail = False

    async def handle(self, call: ServiceCall) -> dict[str, Any]:
        self.calls.append(dict(call.data))
        if self.fail:
            raise ServiceValidationError("service down")
        return self.respond(self, call.data)


def register(
    hass: HomeAssistant, domain: str, service: str, action: FakeAction, unique_id: str
) -> None:
    entry = MockConfigEntry(domain=domain, entry_id=f"{domain}_entry")
    entry.add_to_hass(hass)
    er.async_get(hass).async_get_or_create(
        "sensor", domain, unique_id, config_entry=entry, suggested_object_id="prices"
    )
    hass.states.async_set(ENTITY, "0.25")
    hass.services.async_register(
        domain, service, action.handle, supports_response=SupportsResponse.ONLY
    )


def nordpool_response(action: FakeAction, data: dict[str, Any]) -> dict[str, Any]:
    day = datetime.fromisoformat(str(data["date"])).replace(tzinfo=UTC) - timedelta(hours=2)
    if day > DAY and not action.published:
        raise ServiceValidationError("no prices yet")
    return {
        "NL": [
            {
                "start": (day + index * timedelta(minutes=15)).isoformat(),
                "end": (day + (index + 1) * timedelta(minutes=15)).isoformat(),
                "price": 250.0,
            }
            for index in range(96)
        ]
    }


def energyzero_response(action: FakeAction, data: dict[str, Any]) -> dict[str, Any]:
    day = datetime.fromisoformat(str(data["start"])).replace(tzinfo=UTC) - timedelta(hours=2)
    if day > DAY and not action.published:
        raise ServiceValidationError("no data")
    return {"prices": [{"timestamp": start.isoformat(), "price": 0.25} for start in hours(day, 24)]}


def tibber_response(action: FakeAction, data: dict[str, Any]) -> dict[str, Any]:
    start = datetime.fromisoformat(str(data["start"]))
    count = 48 if action.published else 24
    return {
        "prices": {
            "Thuis": [
                {"start_time": moment.isoformat(), "price": 0.25} for moment in hours(start, count)
            ]
        }
    }


@pytest.mark.parametrize(
    ("domain", "service", "respond", "unique_id", "per_day"),
    [
        ("nordpool", "get_prices_for_date", nordpool_response, "NL-current_price", True),
        ("energyzero", "get_energy_prices", energyzero_response, "today_energy-current", True),
        ("tibber", "get_prices", tibber_response, "home-price", False),
    ],
)
async def test_action_sources_refetch_until_tomorrow_is_there(
    hass: HomeAssistant,
    *,
    domain: str,
    service: str,
    respond: Any,
    unique_id: str,
    per_day: bool,
) -> None:
    action = FakeAction(respond)
    register(hass, domain, service, action, unique_id)
    reader = PriceEntityReader(hass, ENTITY)
    assert reader.uses_action()

    reading = await reader.async_read(NOW)
    assert reading.status is PriceStatus.OK
    assert reading.slots[0].start == DAY - timedelta(hours=2)  # local midnight
    assert len(reading.slots) == 96
    assert reading.slots[0].price_eur_per_kwh == pytest.approx(0.25)
    calls = len(action.calls)
    assert calls == (2 if per_day else 1)

    # Within 15 minutes nothing is asked again; after that, tomorrow is asked again.
    await reader.async_read(NOW + timedelta(minutes=10))
    assert len(action.calls) == calls
    action.published = True
    reading = await reader.async_read(NOW + timedelta(minutes=20))
    assert len(reading.slots) == 192
    calls = len(action.calls)
    # With tomorrow there, the kept prices serve until they no longer cover now.
    await reader.async_read(NOW + timedelta(hours=3))
    assert len(action.calls) == calls

    # A failing action keeps what was fetched.
    action.fail = True
    reading = await reader.async_read(NOW + timedelta(days=1, hours=11, minutes=50))
    assert reading.status is PriceStatus.OK
    assert len(reading.slots) == 192


async def test_action_failing_from_the_start(hass: HomeAssistant) -> None:
    action = FakeAction(tibber_response)
    action.fail = True
    register(hass, "tibber", "get_prices", action, "home-price")
    reading = await PriceEntityReader(hass, ENTITY).async_read(NOW)
    assert reading.status is PriceStatus.NO_PRICES
    assert "service down" in reading.detail


async def test_stale_kept_prices_are_fetched_before_noon(hass: HomeAssistant) -> None:
    action = FakeAction(tibber_response)
    register(hass, "tibber", "get_prices", action, "home-price")
    reader = PriceEntityReader(hass, ENTITY)
    await reader.async_read(NOW)
    # The next morning (before tomorrow's prices are due) today's are needed again.
    await reader.async_read(DAY + timedelta(days=1, hours=6))
    assert len(action.calls) == 2
    # ...but not again while they cover now.
    await reader.async_read(DAY + timedelta(days=1, hours=7))
    assert len(action.calls) == 2


async def test_nordpool_block_sensor_asks_every_area(hass: HomeAssistant) -> None:
    config_entry = MockConfigEntry(domain="nordpool", entry_id="abc")
    config_entry.add_to_hass(hass)
    entry = er.async_get(hass).async_get_or_create(
        "sensor", "nordpool", "off_peak_1-NL-average", config_entry=config_entry
    )
    calls = _action_calls("nordpool", entry, DAY.date())
    assert [call.data for call in calls] == [
        {"config_entry": "abc", "date": "2026-06-21"},
        {"config_entry": "abc", "date": "2026-06-22"},
    ]


async def test_entsoe_helper_shape(hass: HomeAssistant) -> None:
    hass.states.async_set(ENTITY, "0.25", entsoe_attributes(days=3))
    reading = await PriceEntityReader(hass, ENTITY).async_read(NOW)
    assert len(reading.slots) == 3 * 96
