// The map: the offline basemap shipped with limes (Natural Earth countries and the borders
// between them), the cameras of both sides and recent alerts. Leaflet draws it; there are no
// tiles to fetch.
import { api } from "./api.js";
import { t } from "./i18n.js";

let map = null;
let layers = null;

/// A Leaflet map in the element `id` with the offline basemap drawn: the countries and the
/// borders between them (the map view and the search's route share it).
export async function offlineMap(id) {
  const L = window.L;
  const m = L.map(id, { zoomSnap: 0.25 });
  m.attributionControl.setPrefix(false);
  const base = await (await fetch("vendor/basemap.json")).json();
  L.geoJSON(base.countries, { style: { className: "country", weight: 0.5 }, interactive: false }).addTo(m);
  L.geoJSON(base.borders, { style: { className: "border", weight: 2.5 }, interactive: false }).addTo(m);
  return m;
}

export async function show(alerts) {
  const L = window.L;
  if (!map) {
    map = await offlineMap("map");
    map.attributionControl.addAttribution(t("map.attribution"));
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
