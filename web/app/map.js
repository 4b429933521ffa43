// The map: the offline basemap shipped with limes (Natural Earth countries, the borders
// between them and rivers; GeoNames towns), the cameras of both sides and recent alerts.
// Leaflet draws it; there are no tiles to fetch.
import { api } from "./api.js";
import { t } from "./i18n.js";

let map = null;
let layers = null;

// The smallest town labelled at each zoom (the larger first, so a crowded view keeps them).
const TOWN_MIN_POPULATION = [
  [10, 0],
  [9, 10000],
  [8, 20000],
  [7, 50000],
  [6, 150000],
  [0, 500000],
];
// At most this many labels at once.
const MAX_LABELS = 150;

/// A text that follows the page's language: Leaflet's controls take HTML, and `apply`
/// translates every `data-i18n` element again when the language changes.
function label(key) {
  return `<span data-i18n="${key}">${t(key)}</span>`;
}

/// The towns of the basemap, each a dot and its name, those fitting the view and zoom only;
/// a label that would overlap a larger town's is left out.
function townLayer(m, base) {
  const L = window.L;
  const group = L.layerGroup();
  const fields = Object.fromEntries(base.townFields.map((f, i) => [f, i]));
  const towns = base.towns;
  const draw = () => {
    group.clearLayers();
    // Not drawn before the map has a view (Leaflet's own flag), nor while switched off.
    if (!m._loaded || !m.hasLayer(group)) return;
    const zoom = m.getZoom();
    const least = TOWN_MIN_POPULATION.find(([z]) => zoom >= z)[1];
    const view = m.getBounds().pad(0.1);
    const taken = [];
    for (const town of towns) {
      if (town[fields.population] < least) break;
      const at = [town[fields.lat], town[fields.lon]];
      if (!view.contains(at)) continue;
      const name = town[fields.name];
      const p = m.latLngToContainerPoint(at);
      const box = { x0: p.x - 4, y0: p.y - 8, x1: p.x + 12 + name.length * 7, y1: p.y + 8 };
      if (taken.some((b) => b.x0 < box.x1 && box.x0 < b.x1 && b.y0 < box.y1 && box.y0 < b.y1)) continue;
      taken.push(box);
      const icon = L.divIcon({ className: "town", html: "", iconSize: null });
      const marker = L.marker(at, { icon, interactive: false, keyboard: false });
      marker.on("add", () => {
        const el = marker.getElement();
        el.replaceChildren(Object.assign(document.createElement("span"), { className: "town-name", textContent: name }));
        el.dataset.town = name;
      });
      group.addLayer(marker);
      if (taken.length >= MAX_LABELS) break;
    }
  };
  m.on("zoomend moveend", draw);
  group.on("add", () => setTimeout(draw, 0));
  return group;
}

/// A Leaflet map in the element `id` with the offline basemap drawn: the countries, rivers,
/// the borders between the countries and towns, rivers and towns each a layer the person
/// can switch off (the map view and the search's route share it).
export async function offlineMap(id) {
  const L = window.L;
  const m = L.map(id, { zoomSnap: 0.25 });
  m.attributionControl.setPrefix(false);
  m.attributionControl.addAttribution(label("map.attribution"));
  const base = await (await fetch("vendor/basemap.json")).json();
  L.geoJSON(base.countries, { style: { className: "country", weight: 0.5 }, interactive: false }).addTo(m);
  const rivers = L.geoJSON(base.rivers, { style: { className: "river", weight: 1.5 }, interactive: false }).addTo(m);
  L.geoJSON(base.borders, { style: { className: "border", weight: 2.5 }, interactive: false }).addTo(m);
  const towns = townLayer(m, base).addTo(m);
  const overlays = { [label("map.rivers")]: rivers, [label("map.towns")]: towns };
  L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(m);
  return m;
}

export async function show(alerts) {
  const L = window.L;
  if (!map) {
    map = await offlineMap("map");
    layers = { cameras: L.layerGroup().addTo(map), alerts: L.layerGroup().addTo(map) };
  }
  layers.cameras.clearLayers();
  layers.alerts.clearLayers();
  const cameras = await api("/cameras").catch(() => []);
  const at = new Map();
  const points = [];
  for (const c of cameras) {
    if (!c.position) continue;
    const p = [c.position.lat, c.position.lon];
    at.set(c.id, p);
    points.push(p);
    L.circleMarker(p, { radius: 6, className: "camera-marker" })
      .bindTooltip(`${c.id} (${c.country})`)
      .addTo(layers.cameras);
  }
  for (const a of alerts) {
    const p = a.origin?.camera_position ? [a.origin.camera_position.lat, a.origin.camera_position.lon] : at.get(a.camera);
    if (!p) continue;
    L.circleMarker(p, { radius: 9, className: "alert-marker" })
      .bindTooltip(`${a.plate} — ${t(`reason.${a.reason}`)}`)
      .addTo(layers.alerts);
  }
  if (points.length) map.fitBounds(points, { padding: [40, 40], maxZoom: 7 });
  else map.setView([47.5, 25.5], 6);
  setTimeout(() => map.invalidateSize(), 0);
}
