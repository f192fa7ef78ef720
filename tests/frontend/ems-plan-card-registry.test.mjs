// Where the card defines its elements. Home Assistant's index imports the card beside the
// frontend's app entry, and the app entry replaces window.customElements with a scoped registry
// polyfill that knows only what is defined through it. A card that defines itself before that
// is never found by the dashboard (its "configuration error" card stays), so it must wait for
// the app. Each test loads its own copy of the module (a query of its own) in a fake browser.
import assert from "node:assert/strict";
import { test } from "node:test";

const CARD_URL = new URL("../../custom_components/ems/frontend/ems-plan-card.js", import.meta.url);

/** A custom element registry: define, get, whenDefined (what the card and the frontend use). */
class Registry {
  constructor(browser) {
    this.definitions = new Map();
    this.waiting = new Map();
    // The polyfill also defines a stand-in for each element in the browser's own registry.
    this.browser = browser;
  }

  define(name, element) {
    if (this.definitions.has(name)) throw new Error(`${name} is already defined`);
    this.definitions.set(name, element);
    if (this.browser && !this.browser.get(name)) this.browser.define(name, class StandIn {});
    this.waiting.get(name)?.resolve(element);
  }

  get(name) {
    return this.definitions.get(name);
  }

  whenDefined(name) {
    if (this.definitions.has(name)) return Promise.resolve(this.definitions.get(name));
    if (!this.waiting.has(name)) {
      let resolve;
      const promise = new Promise((done) => (resolve = done));
      this.waiting.set(name, { promise, resolve });
    }
    return this.waiting.get(name).promise;
  }
}

function freshBrowser() {
  globalThis.window = globalThis;
  globalThis.HTMLElement = class HTMLElement {};
  globalThis.customElements = new Registry();
  delete globalThis.customCards;
  return globalThis.customElements;
}

/** The frontend's app entry: it installs the polyfill, then defines <home-assistant>. */
function startApp(browserRegistry) {
  const polyfill = new Registry(browserRegistry);
  globalThis.customElements = polyfill;
  globalThis.HTMLElement = class PolyfilledHTMLElement {};
  polyfill.define("home-assistant", class HomeAssistant extends globalThis.HTMLElement {});
  return polyfill;
}

const turns = () => new Promise((resolve) => setTimeout(resolve, 50));

test("loaded before the app entry, the card waits and defines itself where the frontend looks", async () => {
  const browser = freshBrowser();
  const loading = import(`${CARD_URL}?before-app`);
  await turns(); // the card and its chart module are loaded; the app entry is still on its way
  assert.equal(browser.get("ems-plan-card"), undefined, "defined before the frontend's registry exists");
  const frontend = startApp(browser);
  await loading;
  assert.ok(frontend.get("ems-plan-card"), "the frontend's registry knows the card");
  assert.ok(frontend.get("ems-plan-card-editor"), "and its editor");
  assert.ok(frontend.get("ems-plan-card").prototype instanceof globalThis.HTMLElement);
  assert.deepEqual(
    window.customCards.map((card) => card.type),
    ["ems-plan-card"],
  );
});

test("loaded once the frontend runs (a later import), the card defines itself at once", async () => {
  const frontend = startApp(freshBrowser());
  await import(`${CARD_URL}?after-app`);
  assert.ok(frontend.get("ems-plan-card"));
  assert.equal(window.customCards.length, 1);
});
