"""Serve the plan chart card (frontend/) and load it in every Home Assistant frontend.

The card is registered once per Home Assistant run from `async_setup`: a static path cannot be
removed from the HTTP server again, so entry reloads leave it alone. The module URL carries a
hash of the card's files, so browsers fetch a new release instead of their cached copy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http.server import StaticPathConfig
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

FRONTEND_DIR: Final = Path(__file__).parent / "frontend"
CARD_FILE: Final = "ems-plan-card.js"
STATIC_URL: Final = f"/{DOMAIN}_frontend"
DATA_CARD_URL: HassKey[str] = HassKey(f"{DOMAIN}_plan_card_url")


def card_version() -> str:
    """A short hash of the card's files: changes whenever one of them does."""
    digest = hashlib.sha256()
    for path in sorted(FRONTEND_DIR.glob("*.js")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


async def async_register_plan_card(hass: HomeAssistant) -> None:
    """Serve frontend/ and add the card to the frontend's extra modules, once per run.

    Without the HTTP server (a headless set-up) there is nothing to serve; without the
    frontend there is nobody to load the card.
    """
    if DATA_CARD_URL in hass.data or "http" not in hass.config.components:
        return
    version = await hass.async_add_executor_job(card_version)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(STATIC_URL, str(FRONTEND_DIR), cache_headers=True)]
    )
    url = f"{STATIC_URL}/{CARD_FILE}?v={version}"
    hass.data[DATA_CARD_URL] = url
    if "frontend" in hass.config.components:
        add_extra_js_url(hass, url)
