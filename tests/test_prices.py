"""Tests of the price parser, the effective price and the horizon helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.ems.optimiser.price_slots import (
    SLOT,
    PriceHorizon,
    PriceSlot,
    align_prices,
    covers_until,
    effective_import_prices,
    is_stale,
    quarter_start,
)
from custom_components.ems.optimiser.prices import (
    PriceSource,
    PriceUnit,
    parse_prices,
    parse_unit,
)

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
AMS = ZoneInfo("Europe/Amsterdam")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def assert_contiguous(slots: tuple[PriceSlot, ...]) -> None:
    assert all(b.start - a.start == SLOT for a, b in pairwise(slots))
    assert all(slot.start.tzinfo is UTC for slot in slots)


# --- every source shape, detected from its keys ---------------------------------------------


def test_nordpool_core_action_mwh_to_kwh() -> None:
    data = load("nordpool_core_nl.json")
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.NORDPOOL
    assert parsed.skipped == ()
    assert len(parsed.slots) == 96
    assert parsed.slots[0] == PriceSlot(utc(2025, 10, 1, 22), data["NL"][0]["price"] / 1000)
    assert parsed.slots[-1].end == utc(2025, 10, 2, 22)
    assert_contiguous(parsed.slots)
    assert min(slot.price_eur_per_kwh for slot in parsed.slots) < 0  # negative prices kept


def test_nordpool_core_several_areas_uses_first() -> None:
    data = load("nordpool_core_nl.json")
    data["BE"] = [{**entry, "price": 1.0} for entry in data["NL"]]
    parsed = parse_prices(data)
    assert len(parsed.slots) == 96
    assert parsed.slots[0].price_eur_per_kwh == data["NL"][0]["price"] / 1000
    assert parsed.skipped == ("several areas ('NL', 'BE'); only NL is used",)


def test_nordpool_hacs_autumn_dst_day_has_100_slots() -> None:
    data = load("nordpool_hacs_dst_autumn.json")
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.NORDPOOL_HACS
    assert parsed.skipped == ()
    assert len(parsed.slots) == 100  # 25 hours x 4
    assert parsed.slots[0].start == utc(2025, 10, 25, 22)
    assert parsed.slots[-1].end == utc(2025, 10, 26, 23)
    assert_contiguous(parsed.slots)
    # Each hourly value fills its four quarters.
    assert {slot.price_eur_per_kwh for slot in parsed.slots[:4]} == {data["raw_today"][0]["value"]}


def test_nordpool_hacs_cents_today_and_tomorrow() -> None:
    data = load("nordpool_hacs_cents.json")
    parsed = parse_prices(data)
    assert len(parsed.slots) == 2 * 96
    assert parsed.slots[0].price_eur_per_kwh == pytest.approx(data["raw_today"][0]["value"] / 100)
    assert parsed.slots[-1].price_eur_per_kwh == pytest.approx(
        data["raw_tomorrow"][-1]["value"] / 100
    )


def test_nordpool_hacs_tomorrow_not_valid_is_ignored() -> None:
    data = load("nordpool_hacs_cents.json")
    data["tomorrow_valid"] = False
    assert len(parse_prices(data).slots) == 96


@pytest.mark.parametrize(
    ("attributes", "factor"),
    [
        ({"price_in_cents": True, "unit": "kWh"}, 0.01),
        ({"price_in_cents": False, "unit": "MWh"}, 0.001),
        ({"price_in_cents": False, "unit": "Wh"}, 1000.0),
        ({"unit": "kWh"}, 1.0),
        ({"unit_of_measurement": "Cent/kWh", "price_in_cents": False}, 0.01),
        ({"unit_of_measurement": "strange"}, 0.001),  # falls back to default_unit
        ({}, 0.001),
    ],
)
def test_nordpool_hacs_unit_from_attributes(attributes: dict[str, Any], factor: float) -> None:
    data = {
        "raw_today": [{"start": utc(2025, 10, 1, 22), "end": utc(2025, 10, 1, 23), "value": 50}]
    }
    parsed = parse_prices({**data, **attributes}, default_unit=PriceUnit.EUR_PER_MWH)
    assert parsed.slots[0].price_eur_per_kwh == pytest.approx(50 * factor)


def test_nordpool_hacs_naive_local_times_with_default_tz() -> None:
    data = {
        "raw_today": [
            {"start": "2025-10-02T00:00:00", "end": "2025-10-02T01:00:00", "value": 0.1},
            {"start": datetime(2025, 10, 2, 1), "end": datetime(2025, 10, 2, 2), "value": 0.2},  # noqa: DTZ001
        ]
    }
    without_tz = parse_prices(data)
    assert without_tz.slots == ()
    assert without_tz.skipped == (
        "entry 0: time 2025-10-02T00:00:00 has no time zone",
        "entry 1: time 2025-10-02T01:00:00 has no time zone",
    )
    with_tz = parse_prices(data, default_tz=AMS)
    assert [slot.start for slot in with_tz.slots[::4]] == [
        utc(2025, 10, 1, 22),
        utc(2025, 10, 1, 23),
    ]
    assert with_tz.skipped == ()


def test_entsoe_spring_dst_day_has_92_slots() -> None:
    data = load("entsoe_dst_spring.json")
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.ENTSOE
    assert parsed.skipped == ()
    assert len(parsed.slots) == 92  # 23 hours x 4; prices repeats prices_today
    assert parsed.slots[0].start == utc(2026, 3, 28, 23)
    assert parsed.slots[-1].end == utc(2026, 3, 29, 22)
    assert_contiguous(parsed.slots)


def test_entsoe_detected_from_prices_list_alone() -> None:
    data = {"prices": load("entsoe_dst_spring.json")["prices"]}
    assert parse_prices(data).source is PriceSource.ENTSOE


def test_energyzero_hourly() -> None:
    data = load("energyzero_hourly.json")
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.ENERGYZERO
    assert len(parsed.slots) == 96
    assert parsed.slots[4] == PriceSlot(utc(2025, 10, 1, 23), data["prices"][1]["price"])
    assert_contiguous(parsed.slots)


def test_tibber_15_minutes_first_home() -> None:
    data = load("tibber_15min.json")
    data["prices"]["Zomerhuis"] = [{"start_time": "2025-10-03T00:00:00+02:00", "price": 9.0}]
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.TIBBER
    assert len(parsed.slots) == 96
    assert parsed.slots[0] == PriceSlot(utc(2025, 10, 1, 22), data["prices"]["Thuis"][0]["price"])


@pytest.mark.parametrize("homes", [{}, []])
def test_tibber_without_homes(homes: Any) -> None:
    parsed = parse_prices({"prices": homes}, source_hint=PriceSource.TIBBER)
    assert parsed.slots == ()


def test_frank_energie_skips_sentinels() -> None:
    data = load("frank_energie.json")
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.FRANK_ENERGIE
    assert len(parsed.slots) == 96
    assert parsed.slots[-1].end == utc(2025, 10, 2, 22)
    assert parsed.skipped == (
        "entry 24: implausible date 1970-01-01T01:00:00+01:00",
        (
            "entry 25: end 2025-10-02T22:00:00+00:00 not within an hour after start "
            "2025-10-02T22:00:00+00:00"
        ),
        "entry 26: price None is not a number",
        "entry 27: implausible date 9999-12-31T23:00:00+00:00",
    )


def test_zonneplan_forecast_scaled() -> None:
    data = load("zonneplan_forecast.json")
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.ZONNEPLAN
    assert len(parsed.slots) == 96
    assert parsed.slots[0].start == utc(2025, 10, 1, 22)
    assert parsed.slots[0].price_eur_per_kwh == pytest.approx(
        data["forecast"][0]["electricityPrice"] / 1e7
    )


# --- generic shapes and hints ---------------------------------------------------------------


def test_generic_list_in_default_unit() -> None:
    data = [
        {"start": "2025-10-01T22:00:00+00:00", "value": 10.5},
        {"start": "2025-10-01T22:15:00+00:00", "value": "11.5"},
    ]
    parsed = parse_prices(data, default_unit=PriceUnit.CENT_PER_KWH)
    assert parsed.source is PriceSource.GENERIC
    assert [slot.price_eur_per_kwh for slot in parsed.slots] == [0.105, 0.115]


def test_generic_list_with_a_source_hint() -> None:
    data = load("nordpool_core_nl.json")["NL"]
    parsed = parse_prices(data, source_hint=PriceSource.NORDPOOL)
    assert parsed.slots[0].price_eur_per_kwh == data[0]["price"] / 1000


def test_generic_mapping_reads_every_list_and_its_unit() -> None:
    data = {
        "unit_of_measurement": "EUR/MWh",
        "today": [{"datetime": "2025-10-01T22:00:00Z", "price": 100}],
        "tomorrow": [{"datetime": "2025-10-02T22:00:00Z", "price": 200}],
        "note": "x",
    }
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.GENERIC
    assert [slot.price_eur_per_kwh for slot in parsed.slots] == [0.1, 0.2]


def test_generic_mapping_with_prices_list() -> None:
    data = {"prices": [{"start": "2025-10-01T22:00:00Z", "price": 0.3}]}
    parsed = parse_prices(data)
    assert parsed.source is PriceSource.GENERIC
    assert parsed.slots == (PriceSlot(utc(2025, 10, 1, 22), 0.3),)


def test_mapping_of_lists_without_nordpool_keys_is_generic() -> None:
    data = {"NL": [{"start": "2025-10-01T22:00:00Z", "price": 0.3}]}
    assert parse_prices(data).source is PriceSource.GENERIC


@pytest.mark.parametrize("data", [None, "prices", b"x", 42])
def test_payload_that_is_no_list(data: Any) -> None:
    parsed = parse_prices(data)
    assert parsed == parse_prices(None)
    assert parsed.slots == ()
    assert parsed.skipped == ("payload is not a list",)


def test_empty_mapping() -> None:
    assert parse_prices({}).slots == ()


def test_known_key_that_is_not_a_list() -> None:
    parsed = parse_prices({"raw_today": "unavailable", "raw_tomorrow": None})
    assert parsed.slots == ()
    assert parsed.skipped == ("raw_today: not a list",)


# --- bad entries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("text", "not a mapping"),
        ({"price": 0.1}, "time is NoneType, not a datetime"),
        ({"start": "tomorrow", "price": 0.1}, "unreadable time 'tomorrow'"),
        ({"start": 1759356000, "price": 0.1}, "time is int, not a datetime"),
        ({"start": "2025-10-01T22:00:00Z", "end": "x", "price": 0.1}, "end: unreadable time 'x'"),
        (
            {"start": "2025-10-01T22:00:00Z", "end": "2025-10-01T21:00:00Z", "price": 0.1},
            "end 2025-10-01T21:00:00+00:00 not within an hour after start 2025-10-01T22:00:00+00:00",
        ),
        (
            {"start": "2025-10-01T22:00:00Z", "end": "2025-10-02T22:00:00Z", "price": 0.1},
            "end 2025-10-02T22:00:00+00:00 not within an hour after start 2025-10-01T22:00:00+00:00",
        ),
        ({"start": "2025-10-01T22:00:00Z", "price": None}, "price None is not a number"),
        ({"start": "2025-10-01T22:00:00Z", "price": True}, "price True is not a number"),
        ({"start": "2025-10-01T22:00:00Z", "price": [1]}, "price [1] is not a number"),
        ({"start": "2025-10-01T22:00:00Z", "price": "n/a"}, "price 'n/a' is not a number"),
        ({"start": "2025-10-01T22:00:00Z", "price": float("nan")}, "price nan is not finite"),
        ({"start": "2025-10-01T22:00:00Z", "price": "inf"}, "price 'inf' is not finite"),
        (
            {"start": "2025-10-01T22:07:00Z", "price": 0.1},
            "start 2025-10-01T22:07:00+00:00 is not on a quarter hour",
        ),
        (
            {"start": "2025-10-01T22:00:00Z", "end": "2025-10-01T22:10:00Z", "price": 0.1},
            None,
        ),
    ],
)
def test_bad_entry_is_skipped_with_a_reason(entry: Any, reason: str | None) -> None:
    good = {"start": "2025-10-01T23:00:00Z", "end": "2025-10-01T23:15:00Z", "price": 0.2}
    parsed = parse_prices([good, entry])
    assert parsed.slots == (PriceSlot(utc(2025, 10, 1, 23), 0.2),)
    if reason is None:  # readable but shorter than a quarter
        reason = "entry at 2025-10-01T22:00:00+00:00 lasts less than a quarter hour"
        assert parsed.skipped == (reason,)
    else:
        assert parsed.skipped == (f"entry 1: {reason}",)


# --- normalisation to slots -----------------------------------------------------------------


def test_duration_from_next_start_previous_spacing_and_gaps() -> None:
    data = [
        {"start": "2025-10-01T22:00:00Z", "price": 1},  # hourly: next start 1 h later
        {"start": "2025-10-01T23:00:00Z", "price": 2},  # then quarters
        {"start": "2025-10-01T23:15:00Z", "price": 3},  # before a gap: previous spacing
        {"start": "2025-10-02T03:00:00Z", "price": 4},  # after a gap, last: one quarter
    ]
    parsed = parse_prices(data)
    starts_prices = [(slot.start, slot.price_eur_per_kwh) for slot in parsed.slots]
    assert starts_prices == [
        (utc(2025, 10, 1, 22, 0), 1),
        (utc(2025, 10, 1, 22, 15), 1),
        (utc(2025, 10, 1, 22, 30), 1),
        (utc(2025, 10, 1, 22, 45), 1),
        (utc(2025, 10, 1, 23, 0), 2),
        (utc(2025, 10, 1, 23, 15), 3),
        (utc(2025, 10, 2, 3, 0), 4),
    ]


def test_single_entry_without_end_is_one_quarter() -> None:
    parsed = parse_prices([{"time": "2025-10-01 22:00:00+00:00", "price": 0.1}])
    assert len(parsed.slots) == 1


def test_later_entry_wins_per_quarter() -> None:
    data = [
        {"start": "2025-10-01T22:00:00Z", "end": "2025-10-01T23:00:00Z", "price": 1},
        {"start": "2025-10-01T22:30:00Z", "end": "2025-10-01T22:45:00Z", "price": 2},
        {"start": "2025-10-01T22:00:00Z", "end": "2025-10-01T22:15:00Z", "price": 3},
    ]
    prices = [slot.price_eur_per_kwh for slot in parse_prices(data).slots]
    assert prices == [3, 1, 2, 1]


def test_end_not_a_quarter_multiple_is_floored() -> None:
    data = [{"start": "2025-10-01T22:00:00Z", "end": "2025-10-01T22:40:00Z", "price": 1}]
    assert len(parse_prices(data).slots) == 2


# --- units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("EUR/kWh", PriceUnit.EUR_PER_KWH),
        ("€/kWh", PriceUnit.EUR_PER_KWH),
        ("SEK/kWh", PriceUnit.EUR_PER_KWH),
        ("EUR/MWh", PriceUnit.EUR_PER_MWH),
        ("c/kWh", PriceUnit.CENT_PER_KWH),
        ("Cent/kWh", PriceUnit.CENT_PER_KWH),
        ("öre/kWh", PriceUnit.CENT_PER_KWH),
        ("ct/MWh", None),
        ("EUR/Wh", None),
        ("EURO/kWh", None),
        ("kWh", None),
        (None, None),
    ],
)
def test_parse_unit(text: object, unit: PriceUnit | None) -> None:
    assert parse_unit(text) is unit


def test_unit_factors() -> None:
    assert [unit.factor for unit in PriceUnit] == [1.0, 0.01, 0.001]


# --- effective prices and horizon -----------------------------------------------------------


def test_effective_import_prices() -> None:
    slots = (PriceSlot(utc(2025, 10, 1, 22), 0.10), PriceSlot(utc(2025, 10, 1, 22, 15), -0.05))
    effective = effective_import_prices(
        slots,
        markup_eur_per_kwh=0.02,
        energy_tax_eur_per_kwh=0.10,
        vat_percent=21,
        includes_taxes=False,
    )
    assert [slot.start for slot in effective] == [slot.start for slot in slots]
    assert [slot.price_eur_per_kwh for slot in effective] == pytest.approx([0.2662, 0.0847])
    all_in = effective_import_prices(
        iter(slots),
        markup_eur_per_kwh=0.02,
        energy_tax_eur_per_kwh=0.10,
        vat_percent=21,
        includes_taxes=True,
    )
    assert all_in == slots


def series(start: datetime, prices: list[float]) -> tuple[PriceSlot, ...]:
    return tuple(PriceSlot(start + i * SLOT, price) for i, price in enumerate(prices))


def test_quarter_start_converts_to_utc() -> None:
    moment = datetime(2025, 10, 2, 0, 29, 59, 999, tzinfo=AMS)
    assert quarter_start(moment) == utc(2025, 10, 1, 22, 15)


def test_align_prices_from_current_quarter_until_first_gap() -> None:
    start = utc(2025, 10, 1, 22)
    imports = series(start, [1, 2, 3, 4, 5, 6])
    exports = series(start + SLOT, [20, 30, 40, 50, 60])
    now = start + SLOT + timedelta(minutes=7)
    horizon = align_prices(imports, exports[:3], now=now)
    assert horizon == PriceHorizon(start + SLOT, (2, 3, 4), (20, 30, 40))
    assert horizon.end == start + 4 * SLOT
    limited = align_prices(imports, exports, now=now, max_slots=2)
    assert limited.import_eur_per_kwh == (2, 3)


def test_align_prices_empty_when_now_is_not_covered() -> None:
    start = utc(2025, 10, 1, 22)
    horizon = align_prices(series(start, [1]), series(start, [1]), now=start + SLOT)
    assert horizon.import_eur_per_kwh == horizon.export_eur_per_kwh == ()
    assert horizon.end == horizon.start == start + SLOT


def test_covers_until_and_is_stale() -> None:
    data = load("nordpool_hacs_cents.json")
    slots = parse_prices(data).slots
    now = utc(2025, 10, 1, 12, 3)
    assert covers_until(slots, now=now) == utc(2025, 10, 2, 22)
    assert not is_stale(slots, now=now)
    data["tomorrow_valid"] = False
    today_only = parse_prices(data).slots
    assert covers_until(today_only, now=now) == utc(2025, 10, 1, 22)
    late = utc(2025, 10, 1, 22)
    assert covers_until(today_only, now=late) is None
    assert is_stale(today_only, now=late)
    assert is_stale((), now=now)
