// Search of plate reads: by plate (exact, look-alike, within edits, wildcard), camera and time.
// Before any result, the purpose dialog: why, under which law, for which case — each search
// is logged with what it declares. A vehicle's sightings are shown on a timeline (oldest
// first) and as a route on the map.
import { api } from "./api.js";
import { askPurpose } from "./purpose.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";
import { offlineMap } from "./map.js";

let routeMap = null;
let routeLayer = null;

async function route(reads, cameras) {
  const L = window.L;
  if (!routeMap) {
    routeMap = await offlineMap("route-map");
    routeLayer = L.layerGroup().addTo(routeMap);
  }
  routeLayer.clearLayers();
  const points = [];
  for (const r of reads) {
    const c = cameras.get(r.read.camera);
    const p = r.read.position ? [r.read.position.lat, r.read.position.lon] : c?.position ? [c.position.lat, c.position.lon] : null;
    if (!p) continue;
    points.push(p);
    L.circleMarker(p, { radius: 7, className: "alert-marker" }).bindTooltip(`${when(r.read.time)} — ${r.read.camera}`).addTo(routeLayer);
  }
  if (points.length > 1) L.polyline(points, { className: "route-line", weight: 3 }).addTo(routeLayer);
  if (points.length) routeMap.fitBounds(points, { padding: [40, 40], maxZoom: 8 });
  else routeMap.setView([47.5, 25.5], 6);
  setTimeout(() => routeMap.invalidateSize(), 0);
  return points.length;
}

async function search(ev) {
  ev.preventDefault();
  const f = ev.target;
  const state = document.getElementById("search-state");
  const purpose = await askPurpose();
  if (!purpose) {
    state.textContent = t("search.cancelled");
    return;
  }
  const q = new URLSearchParams({ limit: "200" });
  if (f.plate.value.trim()) q.set("plate", f.plate.value.trim());
  q.set("match", f.match.value);
  if (f.match.value === "fuzzy") q.set("distance", "1");
  if (f.country.value.trim()) q.set("country", f.country.value.trim().toUpperCase());
  if (f.camera.value) q.set("camera", f.camera.value);
  if (f.from.value) q.set("from", new Date(f.from.value).toISOString());
  if (f.to.value) q.set("to", new Date(f.to.value).toISOString());
  const body = document.querySelector("#reads tbody");
  const timeline = document.getElementById("timeline");
  body.replaceChildren();
  timeline.replaceChildren();
  try {
    const page = await api(`/reads?${q}`, { purpose });
    const cameras = new Map((await api("/cameras").catch(() => [])).map((c) => [c.id, c]));
    state.textContent = t("search.found", { n: page.reads.length });
    for (const r of page.reads) {
      const tr = el("tr");
      tr.dataset.plate = r.plate;
      tr.append(el("td", when(r.read.time)), el("td", r.plate, "plate"), el("td", r.country ?? "—"), el("td", r.read.camera), el("td", r.read.direction ?? "—"));
      body.append(tr);
    }
    // One vehicle's route: oldest first.
    const plates = new Set(page.reads.map((r) => r.plate));
    const section = document.getElementById("route");
    section.hidden = !(plates.size === 1 && page.reads.length > 0);
    if (!section.hidden) {
      const ordered = [...page.reads].sort((a, b) => new Date(a.read.time) - new Date(b.read.time));
      for (const r of ordered) timeline.append(el("li", `${when(r.read.time)} — ${r.read.camera}`));
      await route(ordered, cameras);
    }
  } catch (e) {
    state.textContent = e.message;
  }
}

let wired = false;

export async function show() {
  if (wired) return;
  wired = true;
  document.getElementById("search-form").addEventListener("submit", search);
  const camera = document.getElementById("s-camera");
  for (const c of await api("/cameras").catch(() => [])) {
    const o = el("option", `${c.id} (${c.country})`);
    o.value = c.id;
    camera.append(o);
  }
}
