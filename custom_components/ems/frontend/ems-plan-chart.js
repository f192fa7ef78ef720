// The plan chart's pure logic: labels, series from the plan sensor and Home Assistant's history,
// the chart's geometry, its SVG and the tooltip text. No DOM and no Home Assistant objects here,
// so node's test runner checks all of it (tests/frontend/).

export const DEFAULT_HOURS_BACK = 6;
export const DEFAULT_HOURS_AHEAD = 24;
const HOUR_MS = 3600 * 1000;
const SLOT_MS = 15 * 60 * 1000;

export const LABELS = {
  en: {
    title: "Battery plan",
    status: "Status",
    now_action: "Now",
    saved_today: "Saved today",
    now: "now",
    price: "Import price",
    export_price: "Export price",
    charge: "Charge",
    discharge: "Discharge",
    idle: "Idle",
    planned_soc: "Planned SOC",
    measured_soc: "Measured SOC",
    measured_power: "Measured battery",
    grid: "Grid",
    peak_limit: "Peak limit",
    no_plan: "No plan yet: switch the optimiser on and give it a price entity in the options.",
    no_entity: "No ems plan sensor found: choose one in the card's settings.",
    entity: "Plan sensor (ems)",
    hours_back: "Hours back",
    hours_ahead: "Hours ahead",
    battery: "Battery",
    soc: "SOC",
    plan: "plan",
    measured: "measured",
  },
  nl: {
    title: "Batterijplan",
    status: "Status",
    now_action: "Nu",
    saved_today: "Vandaag bespaard",
    now: "nu",
    price: "Afnameprijs",
    export_price: "Terugleverprijs",
    charge: "Laden",
    discharge: "Ontladen",
    idle: "Rust",
    planned_soc: "Geplande SOC",
    measured_soc: "Gemeten SOC",
    measured_power: "Gemeten batterij",
    grid: "Net",
    peak_limit: "Piekgrens",
    no_plan: "Nog geen plan: zet de optimiser aan en kies een prijsentiteit in de opties.",
    no_entity: "Geen ems-plansensor gevonden: kies er een in de instellingen van de kaart.",
    entity: "Plansensor (ems)",
    hours_back: "Uren terug",
    hours_ahead: "Uren vooruit",
    battery: "Batterij",
    soc: "SOC",
    plan: "plan",
    measured: "gemeten",
  },
};

/** The labels for a Home Assistant language code ("nl", "nl-BE", "en-GB"...): Dutch or English. */
export function labelsFor(language) {
  const base = String(language || "en").toLowerCase().split(/[-_]/)[0];
  return LABELS[base] ?? LABELS.en;
}

/** The plan sensor's `schedule` attribute as slots with times in ms and power in W. */
export function planSlots(schedule) {
  if (!Array.isArray(schedule)) return [];
  const slots = [];
  for (const entry of schedule) {
    const start = Date.parse(entry.start);
    if (Number.isNaN(start)) continue;
    slots.push({
      start,
      end: start + SLOT_MS,
      powerW: Number(entry.charge_w || 0) - Number(entry.discharge_w || 0),
      socEnd: Number(entry.soc_percent_end),
      importPrice: Number(entry.import_price),
      exportPrice: Number(entry.export_price),
    });
  }
  slots.sort((a, b) => a.start - b.start);
  for (let i = 0; i + 1 < slots.length; i++) slots[i].end = slots[i + 1].start;
  return slots;
}

/**
 * One entity's history (the compressed rows of `history/history_during_period`: `s` state,
 * `lu` or `lc` seconds) as numeric points; `scale` turns the state into what is drawn.
 */
export function historyPoints(rows, scale = 1) {
  if (!Array.isArray(rows)) return [];
  const points = [];
  for (const row of rows) {
    const value = Number.parseFloat(row.s);
    const seconds = row.lu ?? row.lc;
    if (!Number.isFinite(value) || typeof seconds !== "number") continue;
    points.push({ t: seconds * 1000, v: value * scale });
  }
  return points;
}

/** The point in effect at `t` (the last one at or before it), or null. */
export function valueAt(points, t) {
  let found = null;
  for (const point of points) {
    if (point.t > t) break;
    found = point;
  }
  return found;
}

/** Savings since the first point of the period (midnight) up to the current total. */
export function savingsSince(points, current) {
  const total = Number.parseFloat(current);
  if (!Number.isFinite(total)) return null;
  if (points.length === 0) return 0;
  return total - points[0].v;
}

/** A round step of at least `raw` (1, 2 or 5 times a power of ten). */
export function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= raw) return factor * power;
  return 10 * power;
}

function niceRange(values, { includeZero = false, minSpan = 0.01, ticks = 3 } = {}) {
  let lo = Math.min(...values, includeZero ? 0 : Infinity);
  let hi = Math.max(...values, includeZero ? 0 : -Infinity);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < minSpan) [lo, hi] = [lo - minSpan / 2, hi + minSpan / 2];
  const step = niceStep((hi - lo) / ticks);
  const min = Math.floor(lo / step + 1e-9) * step;
  const max = Math.ceil(hi / step - 1e-9) * step;
  const values_ = [];
  for (let v = min; v <= max + step / 2; v += step) values_.push(Number(v.toFixed(6)));
  return { min, max, ticks: values_ };
}

/** Whole-hour ticks in the display time zone (`offsetMs` from UTC), at most `maxTicks`. */
export function timeTicks(start, end, offsetMs, maxTicks) {
  const hours = (end - start) / HOUR_MS;
  const step = [1, 2, 3, 4, 6, 12, 24].find((h) => hours / h <= Math.max(1, maxTicks)) ?? 24;
  const first = Math.ceil((start + offsetMs) / HOUR_MS) * HOUR_MS - offsetMs;
  const ticks = [];
  for (let t = first; t <= end; t += HOUR_MS) {
    const localHour = Math.round((t + offsetMs) / HOUR_MS) % 24;
    if (localHour % step === 0) ticks.push(t);
  }
  return ticks;
}

const fmt = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : "–");

/**
 * Everything the chart draws, in pixels of a `width` x `height` drawing:
 * input `{slots, soc, battery, grid, now, hoursBack, hoursAhead, peakLimitW, width, height,
 * offsetMs}` (soc/battery/grid: historyPoints; battery positive = charging).
 */
export function chartModel(input) {
  const { slots = [], soc = [], battery = [], grid = [], now, width, height } = input;
  const hoursBack = input.hoursBack ?? DEFAULT_HOURS_BACK;
  const hoursAhead = input.hoursAhead ?? DEFAULT_HOURS_AHEAD;
  const narrow = width < 500;
  const margin = { left: narrow ? 34 : 42, right: narrow ? 30 : 36, top: 6, bottom: 20 };
  const start = now - hoursBack * HOUR_MS;
  const planEnd = slots.length ? slots[slots.length - 1].end : now + hoursAhead * HOUR_MS;
  const end = Math.max(now + HOUR_MS, Math.min(now + hoursAhead * HOUR_MS, planEnd));
  const inner = { x0: margin.left, x1: width - margin.right };
  const x = (t) => inner.x0 + ((t - start) / (end - start)) * (inner.x1 - inner.x0);
  const plotTop = margin.top;
  const plotBottom = height - margin.bottom;
  const priceHeight = Math.round((plotBottom - plotTop) * 0.32);
  const price = { top: plotTop, bottom: plotTop + priceHeight };
  const power = { top: price.bottom + 12, bottom: plotBottom };

  const shown = slots.filter((slot) => slot.end > start && slot.start < end);
  const past = (points) => points.filter((p) => p.t >= start - 6 * HOUR_MS && p.t <= now);
  const socPast = past(soc);
  const batteryPast = past(battery);
  const gridPast = past(grid);
  const exportDiffers = shown.some((s) => Math.abs(s.exportPrice - s.importPrice) > 1e-6);
  const prices = shown.flatMap((s) => (exportDiffers ? [s.importPrice, s.exportPrice] : [s.importPrice]));
  const priceRange = niceRange(prices.filter(Number.isFinite), { includeZero: false, ticks: 2 });
  const powersKw = [
    ...shown.map((s) => s.powerW / 1000),
    ...batteryPast.filter((p) => p.t >= start).map((p) => p.v / 1000),
    ...gridPast.filter((p) => p.t >= start).map((p) => p.v / 1000),
  ];
  const peakKw = input.peakLimitW > 0 ? input.peakLimitW / 1000 : null;
  if (peakKw !== null) powersKw.push(peakKw);
  const powerRange = niceRange(powersKw, { includeZero: true, minSpan: 1, ticks: 4 });
  const yPrice = (v) =>
    price.bottom - ((v - priceRange.min) / (priceRange.max - priceRange.min)) * (price.bottom - price.top);
  const yPower = (kw) =>
    power.bottom - ((kw - powerRange.min) / (powerRange.max - powerRange.min)) * (power.bottom - power.top);
  const ySoc = (pct) => power.bottom - (Math.min(100, Math.max(0, pct)) / 100) * (power.bottom - power.top);
  const clampX = (t) => x(Math.min(end, Math.max(start, t)));

  const stepPath = (items, yOf) => {
    let d = "";
    for (const item of items) {
      const x0 = clampX(item.start).toFixed(1);
      const x1 = clampX(item.end).toFixed(1);
      const y = yOf(item).toFixed(1);
      d += d ? ` L${x0} ${y} L${x1} ${y}` : `M${x0} ${y} L${x1} ${y}`;
    }
    return d;
  };
  const pointsPath = (points, yOf, stepped) => {
    const visible = points.filter((p, i) => p.t >= start || points[i + 1]?.t >= start);
    let d = "";
    let lastY = null;
    for (const p of visible) {
      const px = clampX(p.t).toFixed(1);
      const py = yOf(p.v).toFixed(1);
      if (!d) d = `M${px} ${py}`;
      else d += stepped ? ` L${px} ${lastY} L${px} ${py}` : ` L${px} ${py}`;
      lastY = py;
    }
    if (d && visible.length) d += ` L${x(now).toFixed(1)} ${lastY}`;
    return d;
  };

  const zeroY = yPower(0);
  const bars = shown.map((slot) => {
    const x0 = clampX(slot.start);
    const x1 = clampX(slot.end);
    const y = yPower(slot.powerW / 1000);
    const kind = slot.powerW > 0 ? "charge" : slot.powerW < 0 ? "discharge" : "idle";
    // A 1 px gap between wide bars; on a phone the quarters touch, or they become a comb.
    const gap = x1 - x0 >= 5 ? 1 : 0;
    return {
      kind,
      x: x0 + gap / 2,
      width: Math.max(0.5, x1 - x0 - gap),
      y: Math.min(y, zeroY),
      height: Math.abs(zeroY - y),
      slot,
    };
  });

  const socNow = valueAt(socPast, now);
  const planSoc = shown.map((s) => ({ t: s.end, v: s.socEnd }));
  if (shown.length) planSoc.unshift({ t: Math.max(now, shown[0].start), v: socNow ? socNow.v : shown[0].socEnd });
  const socPlanPath = planSoc
    .map((p, i) => `${i ? "L" : "M"}${clampX(p.t).toFixed(1)} ${ySoc(p.v).toFixed(1)}`)
    .join(" ");

  const offsetMs = input.offsetMs ?? 0;
  return {
    width,
    height,
    start,
    end,
    now,
    narrow,
    x,
    price,
    power,
    frame: { x0: inner.x0, x1: inner.x1 },
    nowX: x(now),
    pastWidth: x(now) - inner.x0,
    zeroY,
    slots: shown,
    bars,
    exportDiffers,
    priceRange,
    powerRange,
    priceTicks: priceRange.ticks.map((v) => ({ v, y: yPrice(v) })),
    powerTicks: powerRange.ticks.map((v) => ({ v, y: yPower(v) })),
    socTicks: [0, 50, 100].map((v) => ({ v, y: ySoc(v) })),
    timeTicks: timeTicks(start, end, offsetMs, Math.floor((inner.x1 - inner.x0) / 56)).map((t) => ({
      t,
      x: x(t),
    })),
    importPath: stepPath(shown, (s) => yPrice(s.importPrice)),
    exportPath: exportDiffers ? stepPath(shown, (s) => yPrice(s.exportPrice)) : "",
    socPlanPath: shown.length ? socPlanPath : "",
    socPastPath: pointsPath(socPast, ySoc, false),
    batteryPastPath: pointsPath(batteryPast, (kw) => yPower(kw / 1000), true),
    gridPastPath: pointsPath(gridPast, (kw) => yPower(kw / 1000), true),
    peak: peakKw === null ? null : { kw: peakKw, y: yPower(peakKw) },
    history: { soc: socPast, battery: batteryPast, grid: gridPast },
  };
}

const escapeXml = (text) =>
  String(text).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]);

/** The chart as an SVG string; colours come from Home Assistant's CSS variables (the card's CSS). */
export function chartSvg(model, labels, formatTime) {
  const { width, height, price, power, frame } = model;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(labels.title)}">`,
    `<rect class="past" x="${frame.x0}" y="${price.top}" width="${Math.max(0, model.pastWidth).toFixed(1)}" height="${(power.bottom - price.top).toFixed(1)}"/>`,
  ];
  for (const tick of model.timeTicks) {
    parts.push(`<line class="grid" x1="${tick.x.toFixed(1)}" x2="${tick.x.toFixed(1)}" y1="${price.top}" y2="${power.bottom}"/>`);
    parts.push(`<text class="axis" x="${tick.x.toFixed(1)}" y="${height - 5}" text-anchor="middle">${escapeXml(formatTime(tick.t))}</text>`);
  }
  for (const tick of model.priceTicks) {
    parts.push(`<line class="grid" x1="${frame.x0}" x2="${frame.x1}" y1="${tick.y.toFixed(1)}" y2="${tick.y.toFixed(1)}"/>`);
    parts.push(`<text class="axis" x="${frame.x0 - 4}" y="${(tick.y + 3).toFixed(1)}" text-anchor="end">${tick.v.toFixed(2)}</text>`);
  }
  for (const tick of model.powerTicks) {
    parts.push(`<line class="${tick.v === 0 ? "zero" : "grid"}" x1="${frame.x0}" x2="${frame.x1}" y1="${tick.y.toFixed(1)}" y2="${tick.y.toFixed(1)}"/>`);
    parts.push(`<text class="axis" x="${frame.x0 - 4}" y="${(tick.y + 3).toFixed(1)}" text-anchor="end">${fmt(tick.v, Number.isInteger(tick.v) ? 0 : 1)}</text>`);
  }
  // Units once per band, top left, rather than on every tick.
  parts.push(`<text class="axis unit" x="${frame.x0 + 4}" y="${price.top + 10}">${escapeXml(labels.price_unit ?? "€/kWh")}</text>`);
  parts.push(`<text class="axis unit" x="${frame.x0 + 4}" y="${power.top + 10}">kW</text>`);
  for (const tick of model.socTicks) {
    parts.push(`<text class="axis soc-axis" x="${frame.x1 + 4}" y="${(tick.y + 3).toFixed(1)}">${tick.v}%</text>`);
  }
  for (const bar of model.bars) {
    if (bar.height < 0.5) continue;
    parts.push(`<rect class="bar ${bar.kind}" x="${bar.x.toFixed(1)}" y="${bar.y.toFixed(1)}" width="${bar.width.toFixed(1)}" height="${bar.height.toFixed(1)}"/>`);
  }
  if (model.batteryPastPath) parts.push(`<path class="measured-power" d="${model.batteryPastPath}"/>`);
  if (model.gridPastPath) parts.push(`<path class="grid-power" d="${model.gridPastPath}"/>`);
  if (model.peak) {
    parts.push(`<line class="peak" x1="${frame.x0}" x2="${frame.x1}" y1="${model.peak.y.toFixed(1)}" y2="${model.peak.y.toFixed(1)}"/>`);
    parts.push(`<text class="peak-label" x="${frame.x1 - 2}" y="${(model.peak.y - 3).toFixed(1)}" text-anchor="end">${escapeXml(labels.peak_limit)} ${fmt(model.peak.kw, 1)} kW</text>`);
  }
  if (model.importPath) parts.push(`<path class="price" d="${model.importPath}"/>`);
  if (model.exportPath) parts.push(`<path class="export-price" d="${model.exportPath}"/>`);
  if (model.socPastPath) parts.push(`<path class="soc-measured" d="${model.socPastPath}"/>`);
  if (model.socPlanPath) parts.push(`<path class="soc-plan" d="${model.socPlanPath}"/>`);
  parts.push(`<line class="now" x1="${model.nowX.toFixed(1)}" x2="${model.nowX.toFixed(1)}" y1="${price.top}" y2="${power.bottom}"/>`);
  parts.push(`<text class="now-label" x="${(model.nowX + 3).toFixed(1)}" y="${(power.top - 3).toFixed(1)}">${escapeXml(labels.now)}</text>`);
  parts.push(`<line class="cursor" x1="0" x2="0" y1="${price.top}" y2="${power.bottom}" visibility="hidden"/>`);
  parts.push("</svg>");
  return parts.join("");
}

/** The tooltip's lines for time `t`: the plan's slot ahead of now, measurements before it. */
export function describeTime(model, t, labels, formatTime) {
  const kw = (w) => `${fmt(Math.abs(w) / 1000, 2)} kW`;
  const action = (w) => (w > 0 ? labels.charge : w < 0 ? labels.discharge : labels.idle);
  if (t >= model.now) {
    const slot = model.slots.find((s) => s.start <= t && t < s.end);
    if (!slot) return [];
    const lines = [
      `${formatTime(slot.start)}–${formatTime(slot.end)}`,
      `${labels.price}: ${fmt(slot.importPrice, 3)} €/kWh`,
    ];
    if (Math.abs(slot.exportPrice - slot.importPrice) > 1e-6) {
      lines.push(`${labels.export_price}: ${fmt(slot.exportPrice, 3)} €/kWh`);
    }
    lines.push(`${labels.battery}: ${action(slot.powerW)}${slot.powerW ? ` ${kw(slot.powerW)}` : ""}`);
    lines.push(`${labels.planned_soc}: ${fmt(slot.socEnd, 0)} %`);
    return lines;
  }
  const lines = [`${formatTime(t)} (${labels.measured})`];
  const soc = valueAt(model.history.soc, t);
  const battery = valueAt(model.history.battery, t);
  const grid = valueAt(model.history.grid, t);
  if (soc) lines.push(`${labels.soc}: ${fmt(soc.v, 0)} %`);
  if (battery) lines.push(`${labels.battery}: ${action(battery.v)}${battery.v ? ` ${kw(battery.v)}` : ""}`);
  if (grid) lines.push(`${labels.grid}: ${fmt(grid.v / 1000, 2)} kW`);
  return lines.length > 1 ? lines : [];
}

/** The time at pixel `px` of the drawing. */
export function timeAtX(model, px) {
  const { x0, x1 } = model.frame;
  const clamped = Math.min(x1, Math.max(x0, px));
  return model.start + ((clamped - x0) / (x1 - x0)) * (model.end - model.start);
}
