"""Helpers of the optimiser tests: price payloads in each source's shape, set-up and polling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import MagicMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ems.devices.indevolt import WorkingMode
from ems_simulator import Simulator

from .conftest import SIM_START, FakeClock

DAY = datetime(2026, 6, 21, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
PRICE_ENTITY = "sensor.entsoe_average_electricity_price"
SWITCH = "switch.indevolt_cms_sf2000_optimiser"
DRY_RUN_SWITCH = "switch.indevolt_cms_sf2000_optimiser_dry_run"
PLAN_SENSOR = "sensor.indevolt_cms_sf2000_optimiser_plan"
STATUS_SENSOR = "sensor.indevolt_cms_sf2000_optimiser_status"
SAVINGS_SENSOR = "sensor.indevolt_cms_sf2000_estimated_savings"


def day_price(moment: datetime) -> float:
    """Cheapest from noon (UTC) to one, dearest from six to seven: clear charge and discharge."""
    if moment.hour == 12:
        return 0.01
    if moment.hour == 18:
        return 0.50
    if 10 <= moment.hour < 16:
        return 0.05
    if 17 <= moment.hour < 22:
        return 0.40
    return 0.20


def hours(start: datetime, count: int) -> list[datetime]:
    """`count` hourly starts from `start`."""
    return [start + timedelta(hours=index) for index in range(count)]


def entsoe_attributes(
    start: datetime = DAY, days: int = 2, price: Callable[[datetime], float] = day_price
) -> dict[str, Any]:
    """ENTSO-E (HACS): `prices_today` / `prices_tomorrow`, "YYYY-MM-DD HH:MM:SS+00:00"."""
    lists = [
        [
            {"time": moment.strftime("%Y-%m-%d %H:%M:%S+00:00"), "price": price(moment)}
            for moment in hours(start + timedelta(days=day), 24)
        ]
        for day in range(days)
    ]
    attributes: dict[str, Any] = {"unit_of_measurement": "EUR/kWh", "prices_today": lists[0]}
    if days > 1:
        attributes["prices_tomorrow"] = lists[1]
    if days > 2:
        attributes["prices"] = [entry for entries in lists for entry in entries]
    return attributes


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry, **options: Any) -> None:
    """Set up the entry with some options changed."""
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def poll(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
    *,
    times: int = 1,
    seconds: float = 5,
) -> None:
    """Move both clocks on and poll, `times` times."""
    for _ in range(times):
        sim_clock.advance(seconds)
        freezer.tick(timedelta(seconds=seconds))
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()


async def switch(hass: HomeAssistant, entity_id: str, on: bool) -> None:
    """Turn a switch on or off through its action."""
    await hass.services.async_call(
        "switch", "turn_on" if on else "turn_off", {"entity_id": entity_id}, blocking=True
    )
    await hass.async_block_till_done()


def writes(simulator: Simulator) -> list[tuple[int, list[int]]]:
    """The SetData requests the Indevolt received, as (register, values)."""
    return [
        (r.config["t"], r.config["v"])
        for r in simulator.requests
        if r.device == "indevolt" and r.path == "/rpc/Indevolt.SetData"
    ]


def in_realtime(simulator: Simulator) -> bool:
    """Whether the simulated battery is in real-time mode."""
    return bool(simulator.model.mode == WorkingMode.REALTIME)


@contextmanager
def recorder_saying(hass: HomeAssistant, house_w: float) -> Iterator[None]:
    """A recorder whose statistics say the house used `house_w` in every quarter (the load
    forecast, and yesterday's own load for the peak reserve)."""
    hass.config.components.add("recorder")
    instance = MagicMock()
    instance.async_add_executor_job = hass.async_add_executor_job

    def answer(hass: HomeAssistant, start: datetime, end: datetime, ids: set[str], *_: Any) -> Any:
        grid = next(statistic_id for statistic_id in ids if statistic_id.endswith("grid_power"))
        moments = [SIM_START - timedelta(days=1) + index * QUARTER for index in range(96)]
        return {grid: [{"start": moment.timestamp(), "mean": house_w} for moment in moments]}

    with (
        patch("custom_components.ems.optimiser.forecast.get_instance", return_value=instance),
        patch(
            "custom_components.ems.optimiser.forecast.statistics_during_period", side_effect=answer
        ),
    ):
        yield
