"""The integration serves the plan card and has every frontend load it, once per run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ems.const import CONF_MAX_GRID_PEAK_W, CONF_PRICE_ENTITY
from custom_components.ems.plan_card import (
    CARD_FILE,
    DATA_CARD_URL,
    FRONTEND_DIR,
    STATIC_URL,
    async_register_plan_card,
    card_version,
)
from ems_simulator import RunningSimulator

from .conftest import SIM_START, FakeClock
from .optimiser_helpers import (
    PLAN_SENSOR,
    PRICE_ENTITY,
    SWITCH,
    entsoe_attributes,
    poll,
    setup_entry,
    switch,
)


@pytest.fixture
async def frontend(hass: HomeAssistant, tmp_path: Path) -> None:
    """Home Assistant's frontend integration, with an empty development build of its own files.

    The test environment has no home-assistant-frontend package; the integration under test only
    needs the frontend's list of extra modules, which this real set-up provides.
    """
    (tmp_path / "hass_frontend").mkdir()
    assert await async_setup_component(
        hass, "frontend", {"frontend": {"development_repo": str(tmp_path)}}
    )


def card_urls(hass: HomeAssistant) -> list[str]:
    return [url for url in hass.data[DATA_EXTRA_MODULE_URL].urls if url.startswith(STATIC_URL)]


async def test_card_is_served_and_registered_with_a_loaded_entry(
    hass: HomeAssistant,
    frontend: None,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    url = f"{STATIC_URL}/{CARD_FILE}?v={card_version()}"
    assert card_urls(hass) == [url]
    client = await hass_client()
    for name in (CARD_FILE, "ems-plan-chart.js"):
        response = await client.get(f"{STATIC_URL}/{name}")
        assert response.status == 200
        assert "javascript" in response.content_type
        assert await response.text() == (FRONTEND_DIR / name).read_text()
    assert "customElements.define(CARD, EmsPlanCard)" in (FRONTEND_DIR / CARD_FILE).read_text()


async def test_card_registered_once_and_kept_across_reloads(
    hass: HomeAssistant,
    frontend: None,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert len(card_urls(hass)) == 1
    response = await (await hass_client()).get(f"{STATIC_URL}/{CARD_FILE}")
    assert response.status == 200


async def test_no_http_server_no_card(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Without the HTTP server (a headless set-up) the entry loads and serves nothing."""
    assert "http" not in hass.config.components
    assert DATA_CARD_URL not in hass.data


async def test_card_served_but_not_loaded_without_the_frontend(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    """An HTTP server without the frontend: the card is served, no frontend list to join."""
    assert DATA_CARD_URL not in hass.data
    assert await async_setup_component(hass, "http", {})
    await async_register_plan_card(hass)
    assert "frontend" not in hass.config.components
    assert hass.data[DATA_CARD_URL].startswith(f"{STATIC_URL}/{CARD_FILE}?v=")
    response = await (await hass_client()).get(f"{STATIC_URL}/{CARD_FILE}")
    assert response.status == 200


def test_version_follows_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / CARD_FILE).write_text("one")
    monkeypatch.setattr("custom_components.ems.plan_card.FRONTEND_DIR", tmp_path)
    first = card_version()
    (tmp_path / CARD_FILE).write_text("two")
    assert card_version() != first


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_plan_sensor_tells_the_card_the_peak_limit_in_force(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    running_simulator: RunningSimulator,
    sim_clock: FakeClock,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The option until the optimiser decides; then max(option, the month's peak so far)."""
    freezer.move_to(SIM_START + timedelta(seconds=1))
    hass.states.async_set(PRICE_ENTITY, "0.05", entsoe_attributes())
    await setup_entry(
        hass, mock_config_entry, **{CONF_PRICE_ENTITY: PRICE_ENTITY, CONF_MAX_GRID_PEAK_W: 2500}
    )
    assert attribute(hass, PLAN_SENSOR, "peak_limit_w") == 2500
    running_simulator.simulator.model.month_peak_w = 5200.0
    await switch(hass, SWITCH, True)
    await poll(hass, mock_config_entry, sim_clock, freezer)
    assert attribute(hass, PLAN_SENSOR, "peak_limit_w") == 5200


def attribute(hass: HomeAssistant, entity_id: str, name: str) -> object:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.attributes[name]
