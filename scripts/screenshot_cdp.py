"""Screenshots and the plan card check, through headless Chromium's DevTools protocol.

Used by `scripts/screenshot` and `scripts/check_card`; runs with Home Assistant's Python
(aiohttp). Logs in with the development credentials (login flow, no person), puts the tokens and
the theme into `localStorage` before the page loads (`Page.addScriptToEvaluateOnNewDocument`),
opens a dashboard view in the server's time zone, waits until the ems plan card (when the view
has one) has drawn its plan, and saves a PNG. Every console error, uncaught exception and failed
request of the page is collected; with `--check` any of them fails, and so does a card without
its plan, its card-picker entry, its stub config, its editor or its title in the language.

    python scripts/screenshot_cdp.py --devtools 9222 --url http://127.0.0.1:8123 \
        --path /ems-dashboard/plan --theme dark --width 360 --out docs/plan-card-360.png \
        [--language nl] [--delay-app-entry 3] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
from pathlib import Path
import sys
import time
from typing import Any

import aiohttp

USER = "dev"
PASSWORD = "dev"  # noqa: S105 - the local development login of scripts/develop

TITLES = {"en": "Battery plan", "nl": "Batterijplan"}
CARD_PATH = "/ems_frontend/"
# On a failure: did the page's index ask for the card module, and what does importing it do now.
LOAD_PROBE = r"""
(async () => {
  const script = [...document.scripts].find((s) => s.textContent.includes("/ems_frontend/"));
  const url = script?.textContent.match(/import\("([^"]*\/ems_frontend\/[^"]*)"/)?.[1];
  const controller = navigator.serviceWorker?.controller;
  const result = {
    index_imports_card: url ?? false,
    service_worker_controls_page: controller ? controller.state : false,
    // The frontend's scoped registry polyfill replaces window.customElements; a definition made
    // in the browser's own registry before that is invisible to it, yet still creates the class.
    scoped_registry_polyfill: !!window.CustomElementRegistryPolyfill,
    created_as: Object.getPrototypeOf(document.createElement("ems-plan-card")).constructor.name,
  };
  if (!url) return result;
  const timeout = new Promise((resolve) => setTimeout(() => resolve("no answer in 10 s"), 10000));
  result.manual_import = await Promise.race([
    import(url).then((module) => `loaded (exports: ${Object.keys(module).join(",")})`,
                     (error) => `failed: ${error}`),
    timeout,
  ]);
  result.defined_after_import = !!customElements.get("ems-plan-card");
  return result;
})()
"""
# Finds the ems plan card through the shadow roots and reports what it drew.
CARD_PROBE = r"""
(() => {
  const find = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.localName === "ems-plan-card") return el;
      if (el.shadowRoot) { const inner = find(el.shadowRoot); if (inner) return inner; }
    }
    return null;
  };
  const card = find(document);
  if (!card || !card.shadowRoot) {
    // What the view shows instead: Home Assistant's error card names what went wrong.
    const errorCard = (function findError(root) {
      for (const el of root.querySelectorAll("*")) {
        if (el.localName === "hui-error-card") return el;
        if (el.shadowRoot) { const inner = findError(el.shadowRoot); if (inner) return inner; }
      }
      return null;
    })(document);
    const text = errorCard ? (errorCard.shadowRoot ?? errorCard).textContent.trim() : "";
    return {
      found: false,
      error: text.replace(/\s+/g, " ").slice(0, 300),
      defined: !!customElements.get("ems-plan-card"),
    };
  }
  const root = card.shadowRoot;
  const svg = root.querySelector("svg");
  return {
    found: true,
    bars: root.querySelectorAll("rect.bar").length,
    price: !!root.querySelector("path.price"),
    soc_plan: !!root.querySelector("path.soc-plan"),
    soc_measured: !!root.querySelector("path.soc-measured"),
    now: !!root.querySelector("line.now"),
    width: svg ? svg.getBoundingClientRect().width : 0,
    header: root.querySelector(".header")?.innerText ?? "",
    message: root.querySelector(".message")?.textContent ?? "",
    in_picker: (window.customCards ?? []).some((c) => c.type === "ems-plan-card"),
    stub: customElements.get("ems-plan-card").getStubConfig(card._hass),
    editor: (() => {
      const editor = customElements.get("ems-plan-card").getConfigElement();
      editor.setConfig({ type: "custom:ems-plan-card" });
      editor.hass = card._hass;
      const form = editor.querySelector("ha-form");
      return form ? form.schema.map((field) => field.name || field.schema.map((f) => f.name).join(",")) : [];
    })(),
  };
})()
"""


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
    """A minimal DevTools protocol client for one page target; it keeps the page's errors."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Use an open WebSocket to a page target."""
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.errors: list[str] = []
        # What became of each request for the card's files, by request id: told on a failure.
        self.card_requests: dict[str, dict[str, Any]] = {}
        self.service_worker: list[str] = []
        self.app_entry_delay_s = 0.0
        self._releases: set[asyncio.Task[None]] = set()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            reply = json.loads(message.data)
            if "id" in reply:
                future = self.pending.pop(reply["id"])
                if "error" in reply:
                    future.set_exception(RuntimeError(str(reply["error"])))
                else:
                    future.set_result(reply.get("result", {}))
            else:
                self._collect(reply.get("method", ""), reply.get("params", {}))

    def _collect(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            texts = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
            self.errors.append("console: " + " ".join(texts))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            exception = details.get("exception", {}).get("description", details.get("text"))
            self.errors.append(f"exception: {exception}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Fetch.requestPaused":
            # Only the app entry is paused (see delay_app_entry); let it go after the delay.
            release = asyncio.create_task(self._release(params["requestId"]))
            self._releases.add(release)
            release.add_done_callback(self._releases.discard)
        elif method.startswith("Network."):
            self._track_card_request(method, params)
        elif method == "ServiceWorker.workerVersionUpdated":
            for version in params["versions"]:
                state = f"{version['status']}/{version['runningStatus']}"
                if not self.service_worker or self.service_worker[-1] != state:
                    self.service_worker.append(state)

    def _track_card_request(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.requestWillBeSent":
            if CARD_PATH not in params["request"]["url"]:
                return
            url = params["request"]["url"]
            self.card_requests[params["requestId"]] = {
                "url": url[url.index(CARD_PATH) :],
                "t": round(params["timestamp"], 2),
                "by": params.get("initiator", {}).get("type"),
            }
            return
        request = self.card_requests.get(params.get("requestId", ""))
        if request is None:
            return
        if method == "Network.responseReceived":
            response = params["response"]
            request["status"] = response["status"]
            sources = ("fromServiceWorker", "fromDiskCache", "fromPrefetchCache")
            request["from"] = [key[4:] for key in sources if response.get(key)]
        elif method == "Network.requestServedFromCache":
            request["memory_cache"] = True
        elif method == "Network.loadingFinished":
            request["finished"] = round(params["timestamp"] - request["t"], 2)
        elif method == "Network.loadingFailed":
            request["failed"] = params["errorText"] + (
                " (canceled)" if params.get("canceled") else ""
            )

    async def delay_app_entry(self, delay_s: float) -> None:
        """Hold back the frontend's app entry (frontend_latest/app.*.js) for `delay_s` seconds.

        The index imports the extra modules (the card) beside the app entry, and the app entry
        installs the frontend's scoped custom element registry, replacing window.customElements.
        On a slow device the card can finish first; this makes that order certain.
        """
        self.app_entry_delay_s = delay_s
        await self.send("Fetch.enable", patterns=[{"urlPattern": "*/frontend_latest/app.*"}])

    async def _release(self, request_id: str) -> None:
        await asyncio.sleep(self.app_entry_delay_s)
        await self.send("Fetch.continueRequest", requestId=request_id)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call `method` and return its result."""
        message_id = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        await self.ws.send_json({"id": message_id, "method": method, "params": params})
        return await asyncio.wait_for(future, 30)

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression` in the page (a promise's, once it settled)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result["result"].get("value")

    async def explain_missing_card(self) -> None:
        """Print what became of the card's module and where it is defined now.

        Its requests, whether the index imports it, in which registry it is defined, and what
        importing it from the page does now.
        """
        print(f"  service worker: {' -> '.join(self.service_worker) or 'none seen'}")
        for request in self.card_requests.values():
            print(f"  request: {json.dumps(request)}")
        if not self.card_requests:
            print(f"  request: none for {CARD_PATH}")
        print(f"  load probe: {json.dumps(await self.evaluate(LOAD_PROBE))}")


async def wait_for_card(tools: DevTools, timeout_s: float) -> dict[str, Any] | None:
    """The card's probe once it drew bars, the price and the planned SOC (None: no card)."""
    deadline = time.monotonic() + timeout_s
    probe: dict[str, Any] = {"found": False}
    while time.monotonic() < deadline:
        probe = await tools.evaluate(CARD_PROBE) or {"found": False}
        if probe["found"] and probe["bars"] and probe["price"] and probe["soc_plan"]:
            # One more second for the history request to come back and be drawn.
            await asyncio.sleep(1)
            return dict(await tools.evaluate(CARD_PROBE))
        await asyncio.sleep(0.5)
    return probe if probe["found"] else None


async def main(args: argparse.Namespace) -> int:
    """Log in, open the view in Chromium, wait for the card, save the screenshot, check."""
    async with aiohttp.ClientSession() as session:
        tokens = await hass_tokens(session, args.url)
        async with session.get(f"{args.url}/api/config", headers=auth(tokens)) as response:
            time_zone = (await response.json())["time_zone"]
        async with session.get(f"http://127.0.0.1:{args.devtools}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = DevTools(ws)
            for domain in ("Page", "Runtime", "Log", "Network", "ServiceWorker"):
                await tools.send(f"{domain}.enable")
            await tools.send(
                "Emulation.setDeviceMetricsOverride",
                width=args.width,
                height=args.height,
                deviceScaleFactor=args.scale,
                mobile=args.width < 600,
            )
            await tools.send("Emulation.setTimezoneOverride", timezoneId=time_zone)
            if args.delay_app_entry:
                await tools.delay_app_entry(args.delay_app_entry)
            theme = json.dumps({"theme": "default", "dark": args.theme == "dark"})
            script = (
                f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))});"
                f"localStorage.setItem('selectedTheme', {json.dumps(theme)});"
                f"localStorage.setItem('selectedLanguage', {json.dumps(json.dumps(args.language))});"
            )
            await tools.send("Page.addScriptToEvaluateOnNewDocument", source=script)
            await tools.send("Page.navigate", url=args.url + args.path)
            probe = await wait_for_card(tools, args.wait)
            if probe is None:
                # Say why: what the page shows instead, and what became of the card's module.
                last = await tools.evaluate(CARD_PROBE) or {}
                print(f"no card on the page; it showed: {json.dumps(last)}")
                await tools.explain_missing_card()
            await asyncio.sleep(1)
            shot = await tools.send("Page.captureScreenshot", format="png")
            tools.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tools.reader
    out = Path(args.out)
    out.write_bytes(base64.b64decode(shot["data"]))  # noqa: ASYNC240 - once, at the end
    print(f"saved {out}; card: {json.dumps(probe)}")
    for error in tools.errors:
        print(f"page error: {error}")
    if not args.check:
        return 0
    problems = card_problems(probe, args.language)
    problems += [f"page error: {error}" for error in tools.errors]
    if not problems:
        print("check: the plan card drew its plan; in the card picker; editor; no console errors")
        return 0
    print("check FAILED:\n  " + "\n  ".join(problems))
    return 1


def card_problems(probe: dict[str, Any] | None, language: str) -> list[str]:
    """What is wrong with the card the page shows (nothing: an empty list)."""
    if probe is None:
        return ["no ems-plan-card on the page"]
    wanted = {
        "charge or discharge bars": probe["bars"] > 0,
        "the import price line": probe["price"],
        "the planned SOC line": probe["soc_plan"],
        "the now line": probe["now"],
        "an entry in the card picker (window.customCards)": probe["in_picker"],
        "a stub config naming the plan sensor": str(probe["stub"].get("entity", "")).endswith(
            "_optimiser_plan"
        ),
        "an editor with the entity and the hours": probe["editor"]
        == ["entity", "hours_back,hours_ahead"],
        f"a {language} title": probe["header"].startswith(TITLES[language]),
    }
    return [f"missing {what}" for what, ok in wanted.items() if not ok]


def auth(tokens: dict[str, Any]) -> dict[str, str]:
    """The Authorization header for the REST API."""
    return {"Authorization": f"Bearer {tokens['access_token']}"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devtools", type=int, default=9222, help="Chromium's debugging port")
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--path", default="/ems-dashboard/home")
    parser.add_argument("--out", default="docs/screenshot.png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=1, help="device pixels per CSS pixel")
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--language", choices=sorted(TITLES), default="en")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the card")
    parser.add_argument(
        "--delay-app-entry",
        type=float,
        default=0.0,
        help="seconds to hold back the frontend's app entry (the card module loads first)",
    )
    parser.add_argument("--check", action="store_true", help="fail on errors or no plan drawn")
    sys.exit(asyncio.run(main(parser.parse_args())))
