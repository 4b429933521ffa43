// Patrols: the units of this agency and those partners share, each with its status, what it
// was sent to and its latest position, on the map and in a table, changed live
// (`GET /patrols/stream`); a unit's route over the last hour; sending a unit to an incident or
// an alert, the units suggested nearest first (a partner's unit is its own centre's to send).
import { api, follow, session } from "./api.js";
import { relative, t, when } from "./i18n.js";
import { el } from "./dom.js";
import { markedCell } from "./parts.js";
import { offlineMap } from "./map.js";
import { me } from "./agencies.js";

/// The units shown, by id: as `GET /patrols/units` lists them (`position` the latest).
const units = new Map();
/// The incidents a unit can be sent to, by id (their titles name the assignments).
const incidents = new Map();
let map = null;
let layers = null;
let markers = new Map();
let controller = null;
let wired = false;
let fitted = false;

/// Whether the person may send units (`patrols.manage` under the default policy); the node
/// decides in any case and the page shows its answer.
function mayAssign() {
  return (session()?.roles ?? []).some((r) => r === "operator" || r === "supervisor");
}

function visible() {
  return !document.getElementById("view-patrols").hidden;
}

function unitPath(id) {
  const at = id.indexOf("/");
  return `/patrols/units/${encodeURIComponent(id.slice(0, at))}/${encodeURIComponent(id.slice(at + 1))}`;
}

function agencyOf(id) {
  return id.slice(0, id.indexOf("/"));
}

/// What a unit was sent to, in words.
function targetText(target) {
  if (!target) return "—";
  if (target.incident) {
    const i = incidents.get(target.incident);
    return i ? t("patrols.to_incident_titled", { id: target.incident, title: i.title }) : t("patrols.to_incident", { id: target.incident });
  }
  if (target.alert) return t("patrols.to_alert", { agency: target.alert.agency, id: target.alert.id });
  return "—";
}

function crewText(crew) {
  const roles = (crew?.roles ?? []).map((r) => t(`crew_role.${r}`)).join(", ");
  return roles ? t("patrols.crew_roles", { n: crew.size, roles }) : String(crew?.size ?? "—");
}

function positionCell(p) {
  const td = el("td", undefined, "position");
  if (!p) {
    td.textContent = t("patrols.no_position");
    return td;
  }
  td.dataset.time = p.time;
  const time = el("time", `${when(p.time)} (${relative(p.time)})`);
  time.dateTime = p.time;
  td.append(time, el("br"), el("span", `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`, "muted"));
  return td;
}

function row(u, fresh = false) {
  const tr = el("tr");
  tr.dataset.unit = u.id;
  if (u.partner) tr.classList.add("partner");
  if (fresh) tr.classList.add("fresh");
  const name = el("td");
  name.append(el("span", u.callsign, "callsign"), " ", el("span", u.id, "muted"));
  if (u.covert) name.append(" ", el("span", t("patrols.covert"), "covert-mark"));
  const agency = agencyOf(u.id);
  const action = el("td");
  const route = el("button", t("patrols.route"), "route");
  route.type = "button";
  route.setAttribute("aria-label", t("patrols.route_label", { callsign: u.callsign }));
  route.addEventListener("click", () => showRoute(u.id));
  action.append(route);
  const status = el("td", t(`patrol_status.${u.status}`), `status status-${u.status}`);
  tr.append(
    name,
    el("td", agency === me() ? t("incidents.us", { agency }) : agency),
    el("td", t(`patrol_kind.${u.kind}`)),
    el("td", crewText(u.crew)),
    status,
    el("td", targetText(u.assignment), "target"),
    positionCell(u.position),
    action,
  );
  return tr;
}

function byName(a, b) {
  return Number(a.partner) - Number(b.partner) || a.callsign.localeCompare(b.callsign) || a.id.localeCompare(b.id);
}

function render() {
  const list = [...units.values()].sort(byName);
  document.querySelector("#patrol-units tbody").replaceChildren(...list.map((u) => row(u)));
  document.getElementById("patrol-units-none").hidden = list.length > 0;
  for (const u of list) draw(u);
}

/// The unit's row again, and its marker.
function update(u) {
  const old = document.querySelector(`#patrol-units tbody tr[data-unit="${CSS.escape(u.id)}"]`);
  if (old) old.replaceWith(row(u, true));
  else render();
  draw(u);
}

function markerLabel(u) {
  return `${u.callsign} (${u.id}) — ${t(`patrol_status.${u.status}`)}`;
}

function draw(u) {
  if (!layers) return;
  const L = window.L;
  const p = u.position;
  let m = markers.get(u.id);
  if (!p) {
    if (m) layers.units.removeLayer(m);
    markers.delete(u.id);
    return;
  }
  const className = `unit-marker ${u.partner ? "partner" : "own"} status-${u.status}`;
  if (!m) {
    m = L.circleMarker([p.lat, p.lon], { radius: 8, className, weight: 2 });
    m.bindTooltip(markerLabel(u));
    m.on("add", () => m.getElement()?.setAttribute("data-unit", u.id));
    m.on("click", () => showRoute(u.id));
    markers.set(u.id, m);
    layers.units.addLayer(m);
  } else {
    m.setLatLng([p.lat, p.lon]);
    m.setTooltipContent(markerLabel(u));
    const e = m.getElement();
    if (e) e.setAttribute("class", `${className} leaflet-interactive`);
  }
  const e = m.getElement();
  if (e) {
    e.dataset.lat = String(p.lat);
    e.dataset.lon = String(p.lon);
  }
}

function fit() {
  if (!map) return;
  const L = window.L;
  const bounds = L.latLngBounds([]);
  for (const u of units.values()) if (u.position) bounds.extend([u.position.lat, u.position.lon]);
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [40, 40], maxZoom: 12 });
  else if (!fitted) map.setView([48.0, 23.5], 6);
  fitted = true;
}

async function load() {
  const [found, open] = await Promise.all([api("/patrols/units"), api("/incidents?limit=200").catch(() => [])]);
  units.clear();
  for (const u of found) units.set(u.id, u);
  incidents.clear();
  for (const i of open) incidents.set(i.id, i);
}

async function loadAssignments() {
  const body = document.querySelector("#patrol-assignments tbody");
  try {
    const found = await api("/patrols/assignments?limit=50");
    body.replaceChildren(...found.map((a) => assignmentRow(a)));
    document.getElementById("patrol-assignments-none").hidden = found.length > 0;
  } catch (e) {
    document.getElementById("patrols-state").textContent = e.message;
  }
}

function assignmentRow(a, fresh = false) {
  const tr = el("tr");
  tr.dataset.unit = a.unit;
  if (fresh) tr.classList.add("fresh");
  const u = units.get(a.unit);
  tr.append(
    el("td", when(a.at)),
    el("td", u ? `${u.callsign} (${a.unit})` : a.unit),
    markedCell(tr, a.exercise, "target", targetText(a.target)),
    el("td", a.by),
    el("td", a.note || "—"),
  );
  return tr;
}

// ---- live ----

function pushed(type, data) {
  const v = JSON.parse(data);
  if (type === "unit") {
    const old = units.get(v.id);
    units.set(v.id, { ...v, position: old?.position ?? v.position });
    if (visible()) update(units.get(v.id));
  } else if (type === "position") {
    const u = units.get(v.unit);
    if (!u) {
      // A unit this page has not listed yet: the list again.
      if (visible()) load().then(render, () => {});
      return;
    }
    const { unit: _, ...p } = v;
    if (!u.position || new Date(p.time) >= new Date(u.position.time)) u.position = p;
    if (visible()) update(u);
  } else if (type === "assignment") {
    if (visible()) {
      document.querySelector("#patrol-assignments tbody").prepend(assignmentRow(v, true));
      document.getElementById("patrol-assignments-none").hidden = true;
    }
  } else if (type === "lagged" && visible()) {
    load().then(render, () => {});
  }
}

function startLive() {
  if (controller) return;
  controller = new AbortController();
  const state = document.getElementById("patrols-state");
  follow("/patrols/stream", pushed, controller.signal, (s) => {
    state.textContent = s === "live" ? t("patrols.state_live") : t(`board.state_${s.replace("-", "_")}`);
  });
}

export function stop() {
  controller?.abort();
  controller = null;
}

// ---- a unit's route ----

async function showRoute(id) {
  const box = document.getElementById("patrol-route");
  const facts = document.getElementById("patrol-route-facts");
  const u = units.get(id);
  document.getElementById("patrol-route-title").textContent = t("patrols.route_of", { callsign: u?.callsign ?? id, id });
  box.hidden = false;
  layers.route.clearLayers();
  try {
    const r = await api(`${unitPath(id)}/route`);
    const points = r.positions.map((p) => [p.lat, p.lon]);
    facts.textContent = points.length
      ? t("patrols.route_facts", { reported: r.reported, drawn: points.length, from: when(r.from), until: when(r.until) })
      : t("patrols.route_none", { from: when(r.from), until: when(r.until) });
    const L = window.L;
    if (points.length >= 2) {
      const line = L.polyline(points, { className: "route-line", weight: 4 }).addTo(layers.route);
      map.fitBounds(line.getBounds(), { padding: [40, 40], maxZoom: 14 });
    }
    if (points.length) {
      L.circleMarker(points[0], { radius: 5, className: "route-start", interactive: false }).addTo(layers.route);
    }
  } catch (e) {
    facts.textContent = e.message;
  }
  document.getElementById("patrol-route-title").focus();
}

function closeRoute() {
  layers.route.clearLayers();
  document.getElementById("patrol-route").hidden = true;
  document.getElementById("patrol-units-title").focus();
}

// ---- sending a unit ----

function targetKind() {
  return document.querySelector('#patrol-assign input[name="target_kind"]:checked').value;
}

/// The target as the API takes it, or null with the field to fix focused.
function chosenTarget() {
  const state = document.getElementById("patrol-assign-state");
  if (targetKind() === "incident") {
    const v = document.getElementById("pa-incident").value;
    if (!v) {
      state.textContent = t("patrols.incident_missing");
      document.getElementById("pa-incident").focus();
      return null;
    }
    return { incident: v };
  }
  const n = Number.parseInt(document.getElementById("pa-alert").value, 10);
  if (!Number.isInteger(n) || n <= 0) {
    state.textContent = t("patrols.alert_missing");
    document.getElementById("pa-alert").focus();
    return null;
  }
  return { alert: n };
}

function kindChanged() {
  const incident = targetKind() === "incident";
  document.getElementById("pa-incident-field").hidden = !incident;
  document.getElementById("pa-alert-field").hidden = incident;
}

function incidentOptions() {
  const select = document.getElementById("pa-incident");
  const value = select.value;
  const none = el("option", t("patrols.choose_incident"));
  none.value = "";
  const open = [...incidents.values()].filter((i) => i.status !== "closed");
  select.replaceChildren(
    none,
    ...open.map((i) => {
      const o = el("option", `${i.title} (${i.id})`);
      o.value = i.id;
      return o;
    }),
  );
  if (open.some((i) => i.id === value)) select.value = value;
}

function distance(m) {
  const f = new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 1 });
  return m < 1000 ? `${f.format(Math.round(m))} m` : `${f.format(m / 1000)} km`;
}

async function suggest(ev) {
  ev.preventDefault();
  const state = document.getElementById("patrol-assign-state");
  const list = document.getElementById("patrol-suggestions");
  const target = chosenTarget();
  if (!target) return;
  const query = target.incident ? `incident=${encodeURIComponent(target.incident)}` : `alert=${target.alert}`;
  list.replaceChildren();
  try {
    const s = await api(`/patrols/suggestions?${query}`);
    state.textContent = s.units.length
      ? t("patrols.suggested", { n: s.units.length, minutes: Math.round(s.fresh_within_s / 60) })
      : t("patrols.none_suggested", { minutes: Math.round(s.fresh_within_s / 60) });
    for (const [n, u] of s.units.entries()) {
      const li = el("li");
      li.dataset.unit = u.unit;
      li.dataset.distance = String(u.distance_m);
      const facts = t("patrols.suggestion", {
        distance: distance(u.distance_m),
        eta: Math.max(1, Math.round(u.eta_s / 60)),
        kind: t(`patrol_kind.${u.kind}`),
      });
      li.append(el("strong", `${n + 1}. ${u.callsign}`), " ", el("span", u.unit, "muted"), " — ", el("span", facts));
      if (u.partner) {
        li.append(" ", el("em", t("patrols.partner_unit", { agency: u.agency }), "note"));
      } else if (mayAssign()) {
        const send = el("button", t("patrols.send"), "send");
        send.type = "button";
        send.setAttribute("aria-label", t("patrols.send_label", { callsign: u.callsign }));
        send.addEventListener("click", () => assign(u, target, send));
        li.append(" ", send);
      }
      list.append(li);
    }
  } catch (e) {
    state.textContent = e.message;
  }
}

async function assign(u, target, button) {
  const state = document.getElementById("patrol-assign-state");
  button.disabled = true;
  try {
    const body = { unit: u.unit, note: document.getElementById("pa-note").value.trim(), ...target };
    const done = await api("/patrols/assignments", { method: "POST", body });
    const shown = units.get(done.unit.id);
    if (shown) {
      units.set(done.unit.id, { ...shown, ...done.unit, position: shown.position });
      update(units.get(done.unit.id));
    }
    state.textContent = t("patrols.sent", { callsign: u.callsign, target: targetText(done.assignment.target) });
    document.getElementById("patrol-suggestions").replaceChildren();
    document.getElementById("pa-note").value = "";
  } catch (e) {
    state.textContent = e.message;
    button.disabled = false;
  }
}

function wire() {
  wired = true;
  document.getElementById("patrol-assign").addEventListener("submit", suggest);
  for (const r of document.querySelectorAll('#patrol-assign input[name="target_kind"]')) r.addEventListener("change", kindChanged);
  document.getElementById("patrol-route-close").addEventListener("click", closeRoute);
}

/// The view.
export async function show() {
  if (!wired) wire();
  const L = window.L;
  if (!map) {
    map = await offlineMap("patrol-map");
    layers = { route: L.layerGroup().addTo(map), units: L.layerGroup().addTo(map) };
  }
  startLive();
  try {
    await load();
  } catch (e) {
    document.getElementById("patrols-state").textContent = e.message;
  }
  markers = new Map();
  layers.units.clearLayers();
  render();
  incidentOptions();
  kindChanged();
  await loadAssignments();
  setTimeout(() => {
    map.invalidateSize();
    fit();
  }, 0);
}
