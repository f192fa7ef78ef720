"""Prepare a running development Home Assistant: onboarding, a login, the ems entry.

Used by `scripts/develop` (and `.ci/smoke-develop`); runs with Home Assistant's Python (aiohttp).
Without a person: creates the owner `dev`/`dev` through the onboarding API (or logs in as it
when it exists), creates the ems entry through the
config flow API with the simulator's addresses when there is none (its optimiser fed by the
demo price sensor of config/configuration.yaml), waits until the ems entities report values and
switches the optimiser on. Writes a long-lived token to `--token-file`.

    python scripts/develop_ha.py --url http://127.0.0.1:8123 --p1 127.0.0.1:18001 \
        --indevolt 127.0.0.1:18002 --token-file .develop/token [--check-states]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import sys
import time
from typing import Any

import aiohttp

USER = "dev"
PASSWORD = "dev"  # noqa: S105 - a local development login, printed by scripts/develop
DOMAIN = "ems"
READY_ENTITY = "sensor.indevolt_cms_sf2000_state_of_charge"
# The demo price sensor of config/configuration.yaml, and the optimiser it feeds.
DEMO_PRICE_ENTITY = "sensor.demo_day_ahead_price"
OPTIMISER_SWITCH = "switch.indevolt_cms_sf2000_optimiser"


class Setup:
    """One Home Assistant instance being prepared."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        """Talk to the instance at `url` through `session`."""
        self.session = session
        self.url = url.rstrip("/")
        self.client_id = f"{self.url}/"
        self.token = ""
        self.onboarded = False

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; raises on a non-2xx status."""
        async with self.session.request(
            method, self.url + path, headers=self._headers(), **kwargs
        ) as response:
            if response.status >= 300:
                text = await response.text()
                raise RuntimeError(f"{method} {path}: {response.status} {text[:300]}")
            if response.content_type == "application/json":
                return await response.json()
            return await response.text()

    async def wait_for_http(self, timeout_s: float) -> None:
        """Wait until Home Assistant's HTTP server answers the onboarding endpoint.

        Once onboarding is complete (a restart after the first start) Home Assistant no longer
        serves that endpoint: 404 then means "up, onboarded".
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                async with self.session.get(self.url + "/api/onboarding") as response:
                    if response.status in {200, 404}:
                        self.onboarded = response.status == 404
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Home Assistant did not answer at {self.url}")
            await asyncio.sleep(1)

    async def _tokens(self, code: str) -> None:
        form = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id}
        async with self.session.post(self.url + "/auth/token", data=form) as response:
            response.raise_for_status()
            self.token = (await response.json())["access_token"]

    async def onboard_or_login(self) -> None:
        """Create the owner (first start) or log in as it.

        scripts/develop marks the other onboarding steps done before the first start: their
        endpoints would set up integrations that reach out to the internet.
        """
        if self.onboarded:
            await self.login()
            return
        steps = {
            step["step"]: step["done"] for step in await self.request("GET", "/api/onboarding")
        }
        if steps.get("user"):
            await self.login()
            return
        reply = await self.request(
            "POST",
            "/api/onboarding/users",
            json={
                "client_id": self.client_id,
                "name": "Developer",
                "username": USER,
                "password": PASSWORD,
                "language": "en",
            },
        )
        await self._tokens(reply["auth_code"])

    async def login(self) -> None:
        """The login flow with the development credentials."""
        flow = await self.request(
            "POST",
            "/auth/login_flow",
            json={
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
        )
        result = await self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            json={"client_id": self.client_id, "username": USER, "password": PASSWORD},
        )
        if result.get("type") != "create_entry":
            raise RuntimeError(f"login as {USER} failed: {result}")
        await self._tokens(result["result"])

    async def long_lived_token(self) -> str:
        """A long-lived access token (WebSocket `auth/long_lived_access_token`)."""
        async with self.session.ws_connect(self.url + "/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            reply = await ws.receive_json()
            if reply.get("type") != "auth_ok":
                raise RuntimeError(f"websocket auth failed: {reply}")
            await ws.send_json(
                {
                    "id": 1,
                    "type": "auth/long_lived_access_token",
                    "client_name": f"ems develop {int(time.time())}",
                    "lifespan": 3650,
                }
            )
            reply = await ws.receive_json()
            if not reply.get("success"):
                raise RuntimeError(f"long-lived token refused: {reply}")
            return str(reply["result"])

    async def ensure_entry(self, p1: str, indevolt: str) -> None:
        """Create the ems entry through the config flow unless one exists."""
        entries = await self.request("GET", f"/api/config/config_entries/entry?domain={DOMAIN}")
        if entries:
            print(f"ems entry present: {entries[0]['title']} ({entries[0]['state']})")
            return
        flow = await self.request(
            "POST", "/api/config/config_entries/flow", json={"handler": DOMAIN}
        )
        result = await self.request(
            "POST",
            f"/api/config/config_entries/flow/{flow['flow_id']}",
            json={"p1_host": p1, "indevolt_host": indevolt},
        )
        if result.get("type") != "create_entry":
            raise RuntimeError(f"the ems config flow did not create an entry: {result}")
        print(f"ems entry created: {result['title']}")
        await self.use_demo_prices(result["result"]["entry_id"])

    async def use_demo_prices(self, entry_id: str) -> None:
        """Point the optimiser at the demo price sensor, through the options flow."""
        form = await self.request(
            "POST", "/api/config/config_entries/options/flow", json={"handler": entry_id}
        )
        # The form is in sections (collapsible groups): send each section's fields as shown,
        # with the price entity set in the section that holds it.
        options: dict[str, Any] = {}
        for field in form["data_schema"]:
            if field.get("type") != "expandable":
                continue
            shown = (field.get("description") or {}).get("suggested_value") or {}
            values = {key: value for key, value in shown.items() if value is not None}
            for inner in field["schema"]:
                suggested = (inner.get("description") or {}).get("suggested_value")
                if suggested is not None:
                    values[inner["name"]] = suggested
            if any(inner["name"] == "price_entity_id" for inner in field["schema"]):
                values["price_entity_id"] = DEMO_PRICE_ENTITY
            options[field["name"]] = values
        result = await self.request(
            "POST", f"/api/config/config_entries/options/flow/{form['flow_id']}", json=options
        )
        if result.get("type") != "create_entry":
            raise RuntimeError(f"the ems options flow did not accept the demo prices: {result}")
        print(f"optimiser prices: {DEMO_PRICE_ENTITY}")

    async def switch_optimiser_on(self) -> None:
        """Turn the optimiser on (the demo shows a plan; any manual action turns it off)."""
        await self.request(
            "POST", "/api/services/switch/turn_on", json={"entity_id": OPTIMISER_SWITCH}
        )

    async def wait_for_entities(self, timeout_s: float) -> list[dict[str, Any]]:
        """Wait until the ems sensors report values; return every ems state."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = await self.request("GET", "/api/states")
            ems = [
                s for s in states if ".p1_meter_" in s["entity_id"] or "indevolt" in s["entity_id"]
            ]
            ready = next((s for s in ems if s["entity_id"] == READY_ENTITY), None)
            if ready is not None and ready["state"] not in ("unknown", "unavailable"):
                return ems
            if time.monotonic() > deadline:
                raise RuntimeError(f"{READY_ENTITY} has no value after {timeout_s:.0f} s")
            await asyncio.sleep(1)


async def main(args: argparse.Namespace) -> int:
    """Prepare the instance; with --check-states print the ems states (the smoke test)."""
    async with aiohttp.ClientSession() as session:
        setup = Setup(session, args.url)
        await setup.wait_for_http(args.timeout)
        await setup.onboard_or_login()
        await setup.ensure_entry(args.p1, args.indevolt)
        states = await setup.wait_for_entities(args.timeout)
        await setup.switch_optimiser_on()
        token = await setup.long_lived_token()
        token_file = Path(args.token_file)
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(token + "\n", encoding="utf-8")  # noqa: ASYNC240 - once, at the end
    print(f"{len(states)} ems entities live")
    if args.check_states:
        for state in sorted(states, key=lambda s: s["entity_id"]):
            unit = state["attributes"].get("unit_of_measurement", "")
            print(f"  {state['entity_id']} = {state['state']} {unit}".rstrip())
        if len(states) < 20:
            print("fewer ems entities than expected", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--p1", default="127.0.0.1:18001")
    parser.add_argument("--indevolt", default="127.0.0.1:18002")
    parser.add_argument("--token-file", default=".develop/token")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--check-states", action="store_true")
    sys.exit(asyncio.run(main(parser.parse_args())))
