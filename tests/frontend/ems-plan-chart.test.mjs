// The plan card's drawing logic on a saved plan (a plan sensor state from scripts/develop).
// Run: node --test tests/frontend/   (scripts/test_frontend; .ci/run runs it)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  chartModel,
  chartSvg,
  describeTime,
  historyPoints,
  labelsFor,
  niceStep,
  planSlots,
  savingsSince,
  timeAtX,
  timeTicks,
  valueAt,
} from "../../custom_components/ems/frontend/ems-plan-chart.js";

const state = JSON.parse(readFileSync(new URL("./fixtures/plan_state.json", import.meta.url)));
const schedule = state.attributes.schedule;
const NOW = Date.parse(schedule[0].start) + 5 * 60 * 1000; // 5 minutes into the first slot
const HOUR = 3600 * 1000;
const formatTime = (t) => new Date(t).toISOString().slice(11, 16);

function model(overrides = {}) {
  return chartModel({
    slots: planSlots(schedule),
    now: NOW,
    hoursBack: 6,
    hoursAhead: 24,
    peakLimitW: state.attributes.peak_limit_w,
    width: 800,
    height: 260,
    ...overrides,
  });
}

test("labels follow the user's language: Dutch for nl and nl-BE, English otherwise", () => {
  assert.equal(labelsFor("nl").charge, "Laden");
  assert.equal(labelsFor("nl-BE").title, "Batterijplan");
  assert.equal(labelsFor("fr").charge, "Charge");
  assert.equal(labelsFor(undefined).title, "Battery plan");
  assert.deepEqual(Object.keys(labelsFor("nl")).sort(), Object.keys(labelsFor("en")).sort());
});

test("the saved plan becomes sorted 15-minute slots with charging positive", () => {
  const slots = planSlots(schedule);
  assert.equal(slots.length, schedule.length);
  for (let i = 1; i < slots.length; i++) {
    assert.equal(slots[i - 1].end, slots[i].start);
    assert.equal(slots[i].start - slots[i - 1].start, 15 * 60 * 1000);
  }
  const charging = schedule.findIndex((s) => s.charge_w > 0);
  const discharging = schedule.findIndex((s) => s.discharge_w > 0);
  assert.ok(charging >= 0 && discharging >= 0, "the saved plan charges and discharges");
  assert.equal(slots[charging].powerW, schedule[charging].charge_w);
  assert.equal(slots[discharging].powerW, -schedule[discharging].discharge_w);
  assert.deepEqual(planSlots(undefined), []);
  assert.deepEqual(planSlots([{ start: "not a time" }]), []);
});

test("charge bars rise from the zero line, discharge bars hang below it", () => {
  const m = model();
  const charges = m.bars.filter((b) => b.kind === "charge");
  const discharges = m.bars.filter((b) => b.kind === "discharge");
  assert.ok(charges.length > 0 && discharges.length > 0);
  for (const bar of charges) assert.ok(Math.abs(bar.y + bar.height - m.zeroY) < 1e-6 && bar.height > 0);
  for (const bar of discharges) assert.ok(Math.abs(bar.y - m.zeroY) < 1e-6 && bar.height > 0);
  // Bars stay inside the plot and the power panel.
  for (const bar of m.bars) {
    assert.ok(bar.x >= m.frame.x0 && bar.x + bar.width <= m.frame.x1 + 1e-6);
    assert.ok(bar.y >= m.power.top - 1e-6 && bar.y + bar.height <= m.power.bottom + 1e-6);
  }
  // The largest charge reaches the same height as its power on the axis.
  const biggest = charges.reduce((a, b) => (b.slot.powerW > a.slot.powerW ? b : a));
  const kwPerPixel = (m.powerRange.max - m.powerRange.min) / (m.power.bottom - m.power.top);
  assert.ok(Math.abs(biggest.height * kwPerPixel - biggest.slot.powerW / 1000) < 0.01);
});

test("the window runs from hours back to hours ahead, cut at the plan's end", () => {
  const m = model({ hoursAhead: 6 });
  assert.equal(m.start, NOW - 6 * HOUR);
  assert.equal(m.end, NOW + 6 * HOUR);
  assert.ok(Math.abs(m.nowX - (m.frame.x0 + (m.frame.x1 - m.frame.x0) / 2)) < 1e-6, "now in the middle");
  assert.equal(m.bars.length, 25, "the current slot and 24 quarters ahead");
  const long = model({ hoursAhead: 48 });
  const planEnd = planSlots(schedule).at(-1).end;
  assert.equal(long.end, planEnd);
  assert.equal(long.bars.length, schedule.length);
});

test("the import price is a step line; the export price only when it differs", () => {
  const m = model({ hoursAhead: 2 });
  const steps = m.importPath.match(/[ML]/g).length;
  assert.equal(steps, 2 * m.slots.length);
  assert.equal(m.exportPath, "");
  assert.equal(m.exportDiffers, false);
  const lower = schedule.map((s) => ({ ...s, export_price: s.import_price - 0.1 }));
  const split = model({ slots: planSlots(lower), hoursAhead: 2 });
  assert.ok(split.exportDiffers);
  assert.ok(split.exportPath.length > 0);
  assert.ok(split.priceRange.min <= Math.min(...lower.slice(0, 9).map((s) => s.export_price)));
});

test("the peak limit is drawn on the power axis; the axis reaches it", () => {
  const m = model({ peakLimitW: 4000 });
  assert.equal(m.peak.kw, 4);
  assert.equal(m.powerRange.max, 4, "the axis ends at the limit, not a step above it");
  const kw = m.powerRange.max - ((m.peak.y - m.power.top) / (m.power.bottom - m.power.top)) * (m.powerRange.max - m.powerRange.min);
  assert.ok(Math.abs(kw - 4) < 1e-6);
  assert.equal(model({ peakLimitW: undefined }).peak, null);
});

test("planned SOC starts at the measured SOC now and follows the plan on its own 0-100 % axis", () => {
  const soc = [
    { t: NOW - 3 * HOUR, v: 40 },
    { t: NOW - HOUR, v: 48 },
  ];
  const m = model({ soc });
  const first = m.socPlanPath.split(" L")[0];
  const [, y] = first.slice(1).split(" ").map(Number);
  const socAxis = (pct) => m.power.bottom - (pct / 100) * (m.power.bottom - m.power.top);
  assert.ok(Math.abs(y - socAxis(48)) < 0.1, "starts at the measured 48 %");
  assert.equal(m.socTicks[0].y, m.power.bottom);
  assert.equal(m.socTicks[2].y, m.power.top);
  assert.match(m.socPastPath, /^M/);
  assert.equal(model().socPastPath, "", "no history, no measured line");
});

test("history rows become points; battery is drawn charging up; bad states are skipped", () => {
  const rows = [
    { s: "800", lu: 1000 },
    { s: "unavailable", lu: 1010 },
    { s: "-1200", lc: 1020 },
    { s: "5" },
  ];
  assert.deepEqual(historyPoints(rows, -1), [
    { t: 1_000_000, v: -800 },
    { t: 1_020_000, v: 1200 },
  ]);
  assert.deepEqual(historyPoints(undefined), []);
  assert.deepEqual(valueAt(historyPoints(rows), 1_015_000), { t: 1_000_000, v: 800 });
  assert.equal(valueAt(historyPoints(rows), 999_000), null);
});

test("savings today are the total now minus the total at midnight", () => {
  assert.ok(Math.abs(savingsSince([{ t: 0, v: 12.5 }, { t: 1, v: 12.9 }], "13.25") - 0.75) < 1e-9);
  assert.equal(savingsSince([], "3"), 0);
  assert.equal(savingsSince([{ t: 0, v: 1 }], "unknown"), null);
});

test("time ticks fall on whole hours of the display zone and thin out on narrow charts", () => {
  const start = Date.UTC(2026, 10, 30, 6, 10);
  const end = start + 30 * HOUR;
  const brussels = 3600 * 1000;
  const ticks = timeTicks(start, end, brussels, 8);
  assert.ok(ticks.length <= 8 && ticks.length >= 4);
  for (const t of ticks) assert.equal((t + brussels) % (4 * HOUR), 0, "every 4 local hours");
  assert.equal(timeTicks(start, start + 3 * HOUR, 0, 20).length, 3);
  assert.equal(niceStep(0.37), 0.5);
  assert.equal(niceStep(3), 5);
});

test("the SVG holds every bar, the price, the SOC and the now line, and is readable at 360 px", () => {
  const soc = [{ t: NOW - 2 * HOUR, v: 45 }];
  const battery = [{ t: NOW - 2 * HOUR, v: -600 }];
  const grid = [{ t: NOW - 2 * HOUR, v: 1500 }];
  const m = model({ soc, battery, grid, width: 328 });
  assert.ok(m.narrow);
  const svg = chartSvg(m, labelsFor("en"), formatTime);
  const drawnBars = (svg.match(/class="bar (charge|discharge)"/g) ?? []).length;
  assert.equal(drawnBars, m.bars.filter((b) => b.height >= 0.5).length);
  for (const cls of ["price", "soc-plan", "soc-measured", "measured-power", "grid-power", "now", "peak"]) {
    assert.match(svg, new RegExp(`class="${cls}"`), cls);
  }
  assert.ok(m.timeTicks.length <= 6, "no more time labels than fit in 328 px");
  assert.match(svg, /viewBox="0 0 328 260"/);
  assert.match(svg, /class="axis unit"[^>]*>€\/kWh</, "the price band says its unit");
  assert.match(svg, /class="axis unit"[^>]*>kW</, "the power band says its unit");
  assert.match(chartSvg(m, labelsFor("nl"), formatTime), />nu</);
});

test("the tooltip tells the plan ahead of now and the measurements before it", () => {
  const battery = [{ t: NOW - 2 * HOUR, v: -600 }];
  const soc = [{ t: NOW - 2 * HOUR, v: 45 }];
  const m = model({ battery, soc });
  const slot = m.slots[1];
  const ahead = describeTime(m, slot.start + 60 * 1000, labelsFor("nl"), formatTime);
  assert.equal(ahead[0], `${formatTime(slot.start)}–${formatTime(slot.end)}`);
  assert.match(ahead[1], new RegExp(`^Afnameprijs: ${slot.importPrice.toFixed(3)} €/kWh$`));
  assert.match(ahead.at(-1), new RegExp(`^Geplande SOC: ${slot.socEnd.toFixed(0)} %$`));
  const before = describeTime(m, NOW - HOUR, labelsFor("en"), formatTime);
  assert.deepEqual(before.slice(1), ["SOC: 45 %", "Battery: Discharge 0.60 kW"]);
  assert.deepEqual(describeTime(model(), NOW - HOUR, labelsFor("en"), formatTime), []);
  assert.ok(Math.abs(timeAtX(m, m.nowX) - NOW) < 1);
  assert.equal(timeAtX(m, -50), m.start);
});
