// custom:ems-plan-card: the ems optimiser's plan (prices, battery power, SOC, peak limit) next to
// what Home Assistant measured in the past hours. Served and registered by the integration
// (plan_card.py); no build step and nothing fetched at run time. The drawing logic lives in
// ems-plan-chart.js, imported with this file's own version query so a new release is not
// served from the browser's cache.
//
// Home Assistant's index imports this module (an extra module) beside the frontend's app entry,
// and the app entry replaces window.customElements with a scoped custom element registry (a
// polyfill) that knows only what is defined through it. Defined before that, the card would be
// invisible to the dashboard, which would show its "configuration error" card for good
// (home-assistant/frontend#53890; on a slow machine or phone the card can win that race). So the
// elements are defined once the app has defined its root element, <home-assistant>: by then the
// registry in window.customElements is the one the frontend looks cards up in.
const chartUrl = new URL(`./ems-plan-chart.js${new URL(import.meta.url).search}`, import.meta.url).href;
const [chart] = await Promise.all([import(chartUrl), globalThis.customElements?.whenDefined("home-assistant")]);
const { DEFAULT_HOURS_AHEAD, DEFAULT_HOURS_BACK, labelsFor } = chart;

const CARD = "ems-plan-card";
const EDITOR = "ems-plan-card-editor";
const HISTORY_REFRESH_MS = 5 * 60 * 1000;
const HEIGHT = 260;
// The entity in front of the HTMLElement fallback keeps this file importable by node's tests.
const BaseElement = globalThis.HTMLElement ?? class {};

/** The ems entities this card reads, found through the entity and device registries. */
export function emsEntities(hass, planEntityId) {
  const entities = Object.values(hass.entities ?? {});
  const plans = entities.filter((e) => e.platform === "ems" && e.translation_key === "plan");
  const plan = planEntityId ? entities.find((e) => e.entity_id === planEntityId) : plans.length === 1 ? plans[0] : undefined;
  if (!plan) return { plans: plans.map((e) => e.entity_id) };
  const entryOf = (entity) => hass.devices?.[entity.device_id]?.config_entries ?? [];
  const entries = new Set(entryOf(plan));
  const sibling = (key) =>
    entities.find(
      (e) => e.platform === "ems" && e.translation_key === key && entryOf(e).some((id) => entries.has(id)),
    )?.entity_id;
  return {
    plans: plans.map((e) => e.entity_id),
    plan: plan.entity_id,
    status: sibling("optimiser_status"),
    savings: sibling("estimated_savings"),
    soc: sibling("state_of_charge"),
    battery: sibling("battery_power"),
    grid: sibling("grid_power"),
  };
}

/** The display time zone's offset from UTC at `t`, in ms (the user's or the server's zone). */
function zoneOffsetMs(timeZone, t) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(t));
  const get = (type) => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return local - Math.floor(t / 1000) * 1000;
}

const STYLE = `
  ha-card { padding: 12px 12px 8px; overflow: hidden; }
  .header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 16px; margin-bottom: 6px; }
  .title { font-size: var(--ha-card-header-font-size, 1.25rem); color: var(--ha-card-header-color, var(--primary-text-color)); flex: 1 1 100%; }
  .fact { display: flex; flex-direction: column; min-width: 0; }
  .fact .label { font-size: 0.75rem; color: var(--secondary-text-color); }
  .fact .value { font-size: 1rem; font-weight: 500; color: var(--primary-text-color); white-space: nowrap; }
  .legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 0.75rem; color: var(--secondary-text-color); margin: 4px 0 2px; }
  .legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; background: var(--swatch); }
  .legend span.line::before { height: 3px; vertical-align: 3px; }
  .legend span.dashed::before { height: 0; border-top: 2px dashed var(--swatch); background: none; vertical-align: 3px; }
  .chart-box { position: relative; width: 100%; }
  .message { color: var(--secondary-text-color); font-size: 0.875rem; padding: 8px 0; }
  svg { display: block; font-family: var(--ha-font-family-body, Roboto, sans-serif); touch-action: pan-y; }
  svg .axis { font-size: 10px; fill: var(--secondary-text-color); }
  svg .grid { stroke: var(--divider-color, rgba(127, 127, 127, 0.2)); stroke-width: 1; }
  svg .zero { stroke: var(--secondary-text-color); stroke-width: 1; opacity: 0.6; }
  svg .past { fill: var(--secondary-background-color, rgba(127, 127, 127, 0.08)); opacity: 0.6; }
  svg .bar.charge { fill: var(--ems-charge-color); }
  svg .bar.discharge { fill: var(--ems-discharge-color); }
  svg .price { fill: none; stroke: var(--ems-price-color); stroke-width: 2; }
  svg .export-price { fill: none; stroke: var(--ems-price-color); stroke-width: 1.5; stroke-dasharray: 4 3; opacity: 0.8; }
  svg .soc-plan { fill: none; stroke: var(--ems-soc-color); stroke-width: 2; stroke-dasharray: 6 3; }
  svg .soc-measured { fill: none; stroke: var(--ems-soc-color); stroke-width: 2; }
  svg .measured-power { fill: none; stroke: var(--ems-measured-color); stroke-width: 1.5; }
  svg .grid-power { fill: none; stroke: var(--ems-grid-color); stroke-width: 1; opacity: 0.8; }
  svg .peak { stroke: var(--error-color, #db4437); stroke-width: 1.5; stroke-dasharray: 2 3; }
  svg .peak-label { font-size: 10px; fill: var(--error-color, #db4437); }
  svg .now { stroke: var(--primary-text-color); stroke-width: 1.5; }
  svg .now-label { font-size: 10px; fill: var(--primary-text-color); }
  svg .cursor { stroke: var(--secondary-text-color); stroke-width: 1; stroke-dasharray: 2 2; }
  .tooltip { position: absolute; top: 4px; pointer-events: none; background: var(--card-background-color, #fff);
    color: var(--primary-text-color); border: 1px solid var(--divider-color); border-radius: 6px; padding: 4px 8px;
    font-size: 0.75rem; line-height: 1.4; box-shadow: 0 2px 6px rgba(0, 0, 0, 0.2); white-space: nowrap; display: none; z-index: 1; }
  :host {
    --ems-charge-color: var(--energy-battery-in-color, #f06292);
    --ems-discharge-color: var(--energy-battery-out-color, #4db6ac);
    --ems-price-color: var(--warning-color, #ffa600);
    --ems-soc-color: var(--primary-color, #03a9f4);
    --ems-measured-color: var(--secondary-text-color, #727272);
    --ems-grid-color: var(--energy-grid-consumption-color, #488fc2);
  }
`;

class EmsPlanCard extends BaseElement {
  static getConfigElement() {
    return document.createElement(EDITOR);
  }

  static getStubConfig(hass) {
    const found = emsEntities(hass);
    return {
      ...(found.plans.length ? { entity: found.plans[0] } : {}),
      hours_back: DEFAULT_HOURS_BACK,
      hours_ahead: DEFAULT_HOURS_AHEAD,
    };
  }

  setConfig(config) {
    if (!config || typeof config !== "object") throw new Error("Invalid configuration");
    for (const key of ["hours_back", "hours_ahead"]) {
      if (config[key] !== undefined && !(Number(config[key]) > 0)) throw new Error(`${key} must be a positive number of hours`);
    }
    this._config = config;
    this._historyKey = undefined;
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  getCardSize() {
    return 6;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6, min_rows: 5 };
  }

  connectedCallback() {
    this._resize ??= new ResizeObserver(() => this._render(true));
    this._resize.observe(this);
    this._timer = setInterval(() => this._render(true), 60 * 1000);
    this._render(true);
  }

  disconnectedCallback() {
    this._resize?.disconnect();
    clearInterval(this._timer);
  }

  _setUp() {
    if (this.shadowRoot) return;
    this.attachShadow({ mode: "open" });
    this.shadowRoot.innerHTML = `<style>${STYLE}</style><ha-card><div class="header"></div><div class="legend"></div>
      <div class="chart-box"><div class="chart"></div><div class="tooltip"></div></div><div class="message"></div></ha-card>`;
    const box = this.shadowRoot.querySelector(".chart-box");
    box.addEventListener("pointermove", (event) => this._showTooltip(event));
    box.addEventListener("pointerdown", (event) => this._showTooltip(event));
    box.addEventListener("pointerleave", () => this._hideTooltip());
  }

  _timeZone() {
    const hass = this._hass;
    return hass.locale?.time_zone === "server" ? hass.config?.time_zone : undefined;
  }

  _formatTime = (t) =>
    new Intl.DateTimeFormat(this._hass?.locale?.language || "en", {
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZone: this._timeZone(),
    }).format(new Date(t));

  _render(force = false) {
    if (!this._config || !this._hass) return;
    this._setUp();
    const hass = this._hass;
    const labels = labelsFor(hass.locale?.language ?? hass.language);
    // The registries change rarely; states change all the time: look entities up only then.
    if (hass.entities !== this._registry || hass.devices !== this._devices || this._config !== this._foundFor) {
      this._found = emsEntities(hass, this._config.entity);
      [this._registry, this._devices, this._foundFor] = [hass.entities, hass.devices, this._config];
    }
    const found = this._found;
    const states = [found.plan, found.status, found.savings].map((id) => hass.states[id]);
    if (!force && states.every((s, i) => s === this._lastStates?.[i]) && labels === this._labels) return;
    this._lastStates = states;
    this._labels = labels;
    const [plan, status, savings] = states;
    this._renderHeader(labels, plan, status, savings);
    const message = this.shadowRoot.querySelector(".message");
    if (!plan) {
      message.textContent = labels.no_entity;
      this.shadowRoot.querySelector(".chart").innerHTML = "";
      return;
    }
    const slots = chart.planSlots(plan.attributes.schedule);
    message.textContent = slots.length ? "" : labels.no_plan;
    this._maybeFetchHistory(found);
    this._renderChart(labels, slots, plan);
  }

  _renderHeader(labels, plan, status, savings) {
    const hass = this._hass;
    const format = (state) => (state ? (hass.formatEntityState?.(state) ?? state.state) : "–");
    let saved = "–";
    // Until the history is back the savings at midnight are unknown, and so are today's.
    const today = this._history?.savings ? chart.savingsSince(this._history.savings, savings?.state) : null;
    if (today !== null) {
      saved = new Intl.NumberFormat(hass.locale?.language || "en", {
        style: "currency",
        currency: savings.attributes.unit_of_measurement || hass.config?.currency || "EUR",
      }).format(today);
    }
    const facts = [
      [labels.status, format(status)],
      [labels.now_action, format(plan)],
      [labels.saved_today, saved],
    ];
    const header = this.shadowRoot.querySelector(".header");
    header.innerHTML = `<div class="title"></div>${facts.map(() => `<div class="fact"><span class="label"></span><span class="value"></span></div>`).join("")}`;
    header.querySelector(".title").textContent = this._config.title ?? labels.title;
    header.querySelectorAll(".fact").forEach((node, i) => {
      node.querySelector(".label").textContent = facts[i][0];
      node.querySelector(".value").textContent = facts[i][1];
    });
  }

  _renderChart(labels, slots, plan) {
    const width = Math.max(260, Math.round(this.shadowRoot.querySelector(".chart-box").clientWidth || 600));
    const now = Date.now();
    const history = this._history ?? {};
    this._model = chart.chartModel({
      slots,
      soc: history.soc ?? [],
      battery: history.battery ?? [],
      grid: history.grid ?? [],
      now,
      hoursBack: Number(this._config.hours_back ?? DEFAULT_HOURS_BACK),
      hoursAhead: Number(this._config.hours_ahead ?? DEFAULT_HOURS_AHEAD),
      peakLimitW: Number(plan.attributes.peak_limit_w),
      width,
      height: HEIGHT,
      offsetMs: zoneOffsetMs(this._timeZone(), now),
    });
    this.shadowRoot.querySelector(".chart").innerHTML = chart.chartSvg(this._model, labels, this._formatTime);
    const legend = [
      ["line", "--ems-price-color", labels.price],
      ...(this._model.exportDiffers ? [["dashed", "--ems-price-color", labels.export_price]] : []),
      ["", "--ems-charge-color", labels.charge],
      ["", "--ems-discharge-color", labels.discharge],
      ["dashed", "--ems-soc-color", labels.planned_soc],
      ["line", "--ems-soc-color", labels.measured_soc],
      ["line", "--ems-measured-color", labels.measured_power],
      ...(this._model.history.grid.length ? [["line", "--ems-grid-color", labels.grid]] : []),
    ];
    this.shadowRoot.querySelector(".legend").innerHTML = legend
      .map(([kind, color, text]) => `<span class="${kind}" style="--swatch: var(${color})">${text}</span>`)
      .join("");
  }

  async _maybeFetchHistory(found) {
    const hoursBack = Number(this._config.hours_back ?? DEFAULT_HOURS_BACK);
    const key = [found.soc, found.battery, found.grid, found.savings, hoursBack].join("|");
    const due = !this._historyAt || Date.now() - this._historyAt > HISTORY_REFRESH_MS;
    if (this._fetching || (key === this._historyKey && !due)) return;
    this._fetching = true;
    this._historyKey = key;
    this._historyAt = Date.now();
    try {
      const now = Date.now();
      const midnight = now - (((now + zoneOffsetMs(this._timeZone(), now)) % 86400000) + 86400000) % 86400000;
      const measured = [found.soc, found.battery, found.grid].filter(Boolean);
      const request = (entityIds, start) =>
        this._hass.callWS({
          type: "history/history_during_period",
          start_time: new Date(start).toISOString(),
          end_time: new Date(now).toISOString(),
          entity_ids: entityIds,
          minimal_response: true,
          no_attributes: true,
          significant_changes_only: false,
        });
      const [rows, savingsRows] = await Promise.all([
        measured.length ? request(measured, now - hoursBack * 3600 * 1000) : {},
        found.savings ? request([found.savings], midnight) : {},
      ]);
      this._history = {
        soc: chart.historyPoints(rows[found.soc]),
        // Battery power is positive while discharging (Energy dashboard); the chart draws charging up.
        battery: chart.historyPoints(rows[found.battery], -1),
        grid: chart.historyPoints(rows[found.grid]),
        savings: chart.historyPoints(savingsRows[found.savings]),
      };
    } catch (err) {
      // No history (recorder off, no permission): the plan is still worth drawing.
      console.warn("ems-plan-card: history not available", err);
      this._history = {};
    } finally {
      this._fetching = false;
    }
    this._render(true);
  }

  _showTooltip(event) {
    if (!this._model) return;
    const box = this.shadowRoot.querySelector(".chart-box");
    const svg = box.querySelector("svg");
    if (!svg) return;
    const rect = svg.getBoundingClientRect();
    const px = ((event.clientX - rect.left) / rect.width) * this._model.width;
    const t = chart.timeAtX(this._model, px);
    const lines = chart.describeTime(this._model, t, this._labels, this._formatTime);
    const tooltip = box.querySelector(".tooltip");
    const cursor = svg.querySelector(".cursor");
    if (!lines.length) return this._hideTooltip();
    tooltip.replaceChildren(...lines.map((line) => Object.assign(document.createElement("div"), { textContent: line })));
    tooltip.style.display = "block";
    const x = this._model.x(t);
    const left = x > this._model.width / 2 ? x - tooltip.offsetWidth - 8 : x + 8;
    tooltip.style.left = `${Math.max(0, left)}px`;
    cursor.setAttribute("x1", x.toFixed(1));
    cursor.setAttribute("x2", x.toFixed(1));
    cursor.setAttribute("visibility", "visible");
  }

  _hideTooltip() {
    const tooltip = this.shadowRoot?.querySelector(".tooltip");
    if (tooltip) tooltip.style.display = "none";
    this.shadowRoot?.querySelector(".cursor")?.setAttribute("visibility", "hidden");
  }
}

class EmsPlanCardEditor extends BaseElement {
  setConfig(config) {
    this._config = config;
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  _render() {
    if (!this._hass || !this._config) return;
    const labels = labelsFor(this._hass.locale?.language ?? this._hass.language);
    if (!this._form) {
      this._form = document.createElement("ha-form");
      this._form.computeLabel = (schema) => labels[schema.name] ?? schema.name;
      this._form.addEventListener("value-changed", (event) => {
        this._config = { ...this._config, ...event.detail.value };
        this.dispatchEvent(new CustomEvent("config-changed", { detail: { config: this._config }, bubbles: true, composed: true }));
      });
      this.appendChild(this._form);
    }
    const plans = emsEntities(this._hass).plans;
    this._form.hass = this._hass;
    this._form.schema = [
      { name: "entity", selector: { entity: plans.length ? { include_entities: plans } : { filter: { integration: "ems", domain: "sensor" } } } },
      {
        type: "grid",
        name: "",
        schema: [
          { name: "hours_back", selector: { number: { min: 1, max: 48, mode: "box", unit_of_measurement: "h" } } },
          { name: "hours_ahead", selector: { number: { min: 1, max: 48, mode: "box", unit_of_measurement: "h" } } },
        ],
      },
    ];
    this._form.data = {
      hours_back: DEFAULT_HOURS_BACK,
      hours_ahead: DEFAULT_HOURS_AHEAD,
      ...this._config,
    };
  }
}

if (globalThis.customElements && !customElements.get(CARD)) {
  customElements.define(CARD, EmsPlanCard);
  customElements.define(EDITOR, EmsPlanCardEditor);
  window.customCards = window.customCards || [];
  window.customCards.push({
    type: CARD,
    name: "EMS plan",
    description: "The ems optimiser's plan: prices, battery power, SOC and the peak limit, next to what happened.",
    preview: true,
    documentationURL: "https://github.com/ems-developers/ems#the-plan-card",
  });
}
