// Vendors what the page needs from npm into web/vendor/, which is committed: the `limes`
// binary embeds web/ when it is compiled, so building and running a node needs neither npm
// nor a network (police networks are often closed). Run `npm ci && node build.mjs` after
// changing package.json; `node build.mjs --check` (scripts/test runs it) fails when the
// committed files differ from what the locked packages give.
//
// - Leaflet (BSD-2-Clause): the map library, as its dist ships it.
// - The basemap: Natural Earth 1:10m admin-0 countries (public domain), as the world-atlas
//   package (ISC) ships them in TopoJSON, cut to the countries around the borders limes
//   serves, turned into GeoJSON with coordinates rounded to 1e-4 degrees (about 10 m), plus
//   the land borders between them as lines.
import { readFileSync, writeFileSync, mkdirSync, existsSync, copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { feature, mesh } from "topojson-client";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const vendor = join(here, "vendor");
const check = process.argv.includes("--check");

// ISO 3166-1 numeric codes (world-atlas ids) of the countries drawn, with their alpha-2 codes:
// the EU's eastern borders and their neighbours.
const COUNTRIES = {
  "040": "AT", "070": "BA", "100": "BG", "112": "BY", "191": "HR", "203": "CZ", "276": "DE",
  "348": "HU", "440": "LT", "498": "MD", "499": "ME", "616": "PL", "642": "RO", "688": "RS",
  "703": "SK", "705": "SI", "804": "UA", "807": "MK", "008": "AL", "300": "GR",
};

function round(coords) {
  if (typeof coords[0] === "number") return coords.map((c) => Math.round(c * 1e4) / 1e4);
  return coords.map(round);
}

function basemap() {
  const topo = JSON.parse(readFileSync(join(modules, "world-atlas", "countries-10m.json"), "utf8"));
  const all = feature(topo, topo.objects.countries);
  const countries = {
    type: "FeatureCollection",
    features: all.features
      .filter((f) => f.id in COUNTRIES)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((f) => ({
        type: "Feature",
        properties: { code: COUNTRIES[f.id], name: f.properties.name },
        geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) },
      })),
  };
  const inside = (g) => g.id in COUNTRIES;
  const lines = mesh(topo, topo.objects.countries, (a, b) => a !== b && inside(a) && inside(b));
  const borders = { type: "MultiLineString", coordinates: round(lines.coordinates) };
  const source = "Natural Earth 1:10m admin-0 countries (public domain), via world-atlas 2.0.2 (ISC)";
  return JSON.stringify({ source, countries, borders }) + "\n";
}

const outputs = [
  ["leaflet/leaflet.js", () => readFileSync(join(modules, "leaflet", "dist", "leaflet.js"))],
  ["leaflet/leaflet.css", () => readFileSync(join(modules, "leaflet", "dist", "leaflet.css"))],
  ["leaflet/LICENSE", () => readFileSync(join(modules, "leaflet", "LICENSE"))],
  ["basemap.json", () => Buffer.from(basemap())],
  ["world-atlas.LICENSE", () => readFileSync(join(modules, "world-atlas", "LICENSE"))],
];

let stale = [];
for (const [name, make] of outputs) {
  const path = join(vendor, name);
  const bytes = make();
  if (check) {
    if (!existsSync(path) || !readFileSync(path).equals(bytes)) stale.push(name);
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    console.log(`web/vendor/${name}: ${bytes.length} bytes`);
  }
}
if (stale.length) {
  console.error(`web/vendor is not what the locked packages give: ${stale.join(", ")}; run npm ci && node build.mjs`);
  process.exit(1);
}
