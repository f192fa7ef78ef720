// The card module: it loads outside a browser (its logic is testable), finds the ems entities of
// the chosen entry through the registries, and fetches nothing from outside Home Assistant.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";

import { emsEntities } from "../../custom_components/ems/frontend/ems-plan-card.js";

const FRONTEND = new URL("../../custom_components/ems/frontend/", import.meta.url);

function registry(entries) {
  const entities = {};
  for (const [entityId, key, device] of entries) {
    entities[entityId] = { entity_id: entityId, platform: "ems", translation_key: key, device_id: device };
  }
  entities["sensor.other_plan"] = { entity_id: "sensor.other_plan", platform: "other", translation_key: "plan" };
  return entities;
}

const ONE_ENTRY = {
  entities: registry([
    ["sensor.home_optimiser_plan", "plan", "battery"],
    ["sensor.home_optimiser_status", "optimiser_status", "battery"],
    ["sensor.home_estimated_savings", "estimated_savings", "battery"],
    ["sensor.home_state_of_charge", "state_of_charge", "battery"],
    ["sensor.home_battery_power", "battery_power", "battery"],
    ["sensor.p1_grid_power", "grid_power", "meter"],
  ]),
  devices: { battery: { config_entries: ["entry1"] }, meter: { config_entries: ["entry1"] } },
};

test("with one ems entry the card finds its plan and the entry's other sensors by itself", () => {
  assert.deepEqual(emsEntities(ONE_ENTRY), {
    plans: ["sensor.home_optimiser_plan"],
    plan: "sensor.home_optimiser_plan",
    status: "sensor.home_optimiser_status",
    savings: "sensor.home_estimated_savings",
    soc: "sensor.home_state_of_charge",
    battery: "sensor.home_battery_power",
    grid: "sensor.p1_grid_power",
  });
});

test("with two entries it needs a choice, and then takes that entry's sensors only", () => {
  const two = {
    entities: {
      ...ONE_ENTRY.entities,
      ...registry([
        ["sensor.cabin_optimiser_plan", "plan", "cabin"],
        ["sensor.cabin_state_of_charge", "state_of_charge", "cabin"],
      ]),
    },
    devices: { ...ONE_ENTRY.devices, cabin: { config_entries: ["entry2"] } },
  };
  assert.deepEqual(emsEntities(two), { plans: ["sensor.home_optimiser_plan", "sensor.cabin_optimiser_plan"] });
  const cabin = emsEntities(two, "sensor.cabin_optimiser_plan");
  assert.equal(cabin.soc, "sensor.cabin_state_of_charge");
  assert.equal(cabin.battery, undefined);
  assert.deepEqual(emsEntities({}), { plans: [] });
});

test("the shipped files are self-contained: only relative imports, no URLs fetched", () => {
  for (const name of readdirSync(FRONTEND).filter((n) => n.endsWith(".js"))) {
    const source = readFileSync(new URL(name, FRONTEND), "utf8");
    for (const match of source.matchAll(/(?:import\s*\(|from\s+)\s*[`"']([^`"']+)/g)) {
      assert.ok(match[1].startsWith("./"), `${name} imports ${match[1]}`);
    }
    const urls = [...source.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0]);
    const allowed = ["http://www.w3.org/2000/svg", "https://github.com/ems-developers/ems#the-plan-card"];
    assert.deepEqual(urls.filter((u) => !allowed.includes(u)), [], name);
  }
});
