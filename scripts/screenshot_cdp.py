"""Screenshot of a Home Assistant dashboard through headless Chromium's DevTools protocol.

Used by `scripts/screenshot`; runs with Home Assistant's Python (aiohttp). Logs in with the
development credentials (login flow, no person), puts the tokens into `localStorage.hassTokens`
before the page loads (`Page.addScriptToEvaluateOnNewDocument`), opens the dashboard, waits for
it to render with live values, and saves a PNG.

    python scripts/screenshot_cdp.py --devtools 9222 --url http://127.0.0.1:8123 \
        --path /ems-dashboard/home --out docs/screenshot.png
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
from pathlib import Path
import sys
import time
from typing import Any

import aiohttp

USER = "dev"
PASSWORD = "dev"  # noqa: S105 - the local development login of scripts/develop


async def hass_tokens(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Tokens for the frontend, from the login flow with the development credentials."""
    client_id = f"{url}/"
    redirect = f"{url}/?auth_callback=1"
    async with session.post(
        f"{url}/auth/login_flow",
        json={
            "client_id": client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": redirect,
        },
    ) as response:
        response.raise_for_status()
        flow = await response.json()
    async with session.post(
        f"{url}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": client_id, "username": USER, "password": PASSWORD},
    ) as response:
        response.raise_for_status()
        result = await response.json()
    if result.get("type") != "create_entry":
        raise RuntimeError(f"login failed: {result}")
    form = {"grant_type": "authorization_code", "code": result["result"], "client_id": client_id}
    async with session.post(f"{url}/auth/token", data=form) as response:
        response.raise_for_status()
        tokens: dict[str, Any] = await response.json()
    tokens["hassUrl"] = url
    tokens["clientId"] = client_id
    tokens["expires"] = int(time.time() * 1000) + tokens["expires_in"] * 1000
    return tokens


class DevTools:
    """A minimal DevTools protocol client for one page target."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Use an open WebSocket to a page target."""
        self.ws = ws
        self.ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call `method` and return its result (events in between are skipped)."""
        message_id = next(self.ids)
        await self.ws.send_json({"id": message_id, "method": method, "params": params})
        while True:
            reply = await self.ws.receive_json()
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result


async def main(args: argparse.Namespace) -> int:
    """Log in, open the dashboard in Chromium, save the screenshot."""
    async with aiohttp.ClientSession() as session:
        tokens = await hass_tokens(session, args.url)
        async with session.get(f"http://127.0.0.1:{args.devtools}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = DevTools(ws)
            await tools.send("Page.enable")
            await tools.send(
                "Emulation.setDeviceMetricsOverride",
                width=args.width,
                height=args.height,
                deviceScaleFactor=1,
                mobile=False,
            )
            script = (
                f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))});"
                "localStorage.setItem('selectedTheme', JSON.stringify({theme: 'default', dark: false}));"
            )
            await tools.send("Page.addScriptToEvaluateOnNewDocument", source=script)
            await tools.send("Page.navigate", url=args.url + args.path)
            await asyncio.sleep(args.wait)
            shot = await tools.send("Page.captureScreenshot", format="png")
    out = Path(args.out)
    out.write_bytes(base64.b64decode(shot["data"]))  # noqa: ASYNC240 - once, at the end
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devtools", type=int, default=9222, help="Chromium's debugging port")
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--path", default="/ems-dashboard/home")
    parser.add_argument("--out", default="docs/screenshot.png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to let it render")
    sys.exit(asyncio.run(main(parser.parse_args())))
