// Incidents: the board of open incidents, changed live (SSE) as the agencies involved write to
// them, an escalation a visible and audible cue for supervisors; each incident's area on the
// map, coloured by its severity; raising one (its area a point or a polygon placed by clicks on
// the map, or typed); one opened with its timeline and what this agency may do to it:
// acknowledge a partner's notification, add a note, and on its own change status and severity;
// its attachments downloaded. Closed incidents are left off the board unless asked for.
import { api, follow, hasRole } from "./api.js";
import { relative, t, when } from "./i18n.js";
import { el } from "./dom.js";
import { fact, fileItem, itemPath, openCell, origin, titleCell } from "./parts.js";
import { offlineMap } from "./map.js";
import { beep } from "./board.js";
import { me, picked, picker, receiving } from "./agencies.js";

export const TYPES = [
  "flood",
  "fire",
  "chemical",
  "traffic-accident",
  "pursuit",
  "missing-person",
  "border-breach",
  "public-order",
  "crossing-closed",
  "other",
];
export const SEVERITIES = ["low", "medium", "high", "critical"];
export const STATUSES = ["reported", "responding", "contained", "closed"];

/// What the board shows, by incident id: the incident, when the next acknowledgement is due
/// and which agencies have not acknowledged.
const board = new Map();
/// The corners of the polygon being drawn, [lat, lon] each.
const corners = [];
let controller = null;
let map = null;
let areas = null;
let draft = null;
let fitted = false;
let opened = null;
let filledFor = null;
let wired = false;
/// Whether the board shows closed incidents too (`closed=true`).
let showClosed = false;

function path(id) {
  return itemPath("incidents", id);
}

function visible() {
  return !document.getElementById("view-incidents").hidden;
}

function keep(incident, due, awaiting) {
  if (incident.status === "closed" && !showClosed) board.delete(incident.id);
  else board.set(incident.id, { incident, due, awaiting });
}

/// An incident as listed: `deadlines` has a time per agency that has not acknowledged.
function fromList(i) {
  const entries = Object.entries(i.deadlines ?? {});
  const times = entries.map(([, d]) => d).sort((a, b) => new Date(a) - new Date(b));
  keep(i, times[0] ?? null, entries.map(([a]) => a));
}

/// An incident as the stream pushes it: `next_deadline` is the earliest.
function fromStream(p) {
  const awaiting = Object.entries(p.incident.notified ?? {})
    .filter(([, n]) => !n.acknowledged)
    .map(([a]) => a);
  keep(p.incident, p.next_deadline ?? null, awaiting);
}

function overdue(due) {
  return due !== null && new Date(due).getTime() < Date.now();
}

function dueText(entry) {
  if (!entry.awaiting.length) {
    return Object.keys(entry.incident.notified ?? {}).length ? t("incidents.all_acknowledged") : "—";
  }
  if (!entry.due) return entry.awaiting.join(", ");
  const vars = { agencies: entry.awaiting.join(", "), time: when(entry.due), left: relative(entry.due) };
  return t(overdue(entry.due) ? "incidents.overdue" : "incidents.due", vars);
}

function escalationsText(i) {
  const escalated = Object.entries(i.notified ?? {}).filter(([, n]) => n.escalations > 0);
  if (!escalated.length) return "0";
  return escalated.map(([agency, n]) => t("incidents.escalations_n", { agency, n: n.escalations })).join(", ");
}

function originText(id) {
  const o = origin(id);
  return o === me() ? t("incidents.us", { agency: o }) : o;
}

function severityCell(tag, s) {
  const c = el(tag);
  const swatch = el("span", "", `sev-swatch sev-${s}`);
  swatch.setAttribute("aria-hidden", "true");
  c.append(swatch, t(`incident_severity.${s}`));
  return c;
}

function row(entry, fresh) {
  const i = entry.incident;
  const tr = el("tr");
  tr.dataset.id = i.id;
  if (fresh) tr.classList.add("fresh");
  if (overdue(entry.due)) tr.classList.add("overdue");
  tr.append(
    titleCell(tr, i, i.title, "incident-title"),
    el("td", t(`incident_type.${i.type}`)),
    severityCell("td", i.severity),
    el("td", t(`incident_status.${i.status}`)),
    el("td", originText(i.id)),
    el("td", dueText(entry), "due"),
    el("td", escalationsText(i), "escalations"),
    openCell("incidents", i.id, t("incidents.open_label", { title: i.title })),
  );
  return tr;
}

function byChange(a, b) {
  const x = a.incident.updated;
  const y = b.incident.updated;
  return y.ms - x.ms || y.n - x.n;
}

/// The board and the map, again from `board`; `fresh` is the id that just changed.
function render(fresh = null) {
  const body = document.querySelector("#incidents tbody");
  const entries = [...board.values()].sort(byChange);
  body.replaceChildren(...entries.map((e) => row(e, e.incident.id === fresh)));
  const empty = document.getElementById("incidents-empty");
  empty.hidden = entries.length > 0;
  empty.dataset.i18n = showClosed ? "incidents.none_all" : "incidents.none";
  empty.textContent = t(empty.dataset.i18n);
  const caption = document.getElementById("incidents-caption");
  caption.dataset.i18n = showClosed ? "incidents.caption_all" : "incidents.caption";
  caption.textContent = t(caption.dataset.i18n);
  drawAreas();
}

/// Every deadline's time left, again (the board stays as it is otherwise).
function tick() {
  if (!visible()) return;
  for (const tr of document.querySelectorAll("#incidents tbody tr")) {
    const entry = board.get(tr.dataset.id);
    if (!entry) continue;
    tr.querySelector("td.due").textContent = dueText(entry);
    tr.classList.toggle("overdue", overdue(entry.due));
  }
}

function drawAreas() {
  if (!areas) return;
  const L = window.L;
  areas.clearLayers();
  for (const { incident: i } of board.values()) {
    const className = `incident-area sev-${i.severity}${i.exercise ? " exercise-area" : ""}`;
    // The style applies to a point's marker too (and sets its class), so it names points itself.
    const point = `${className} incident-point`;
    const layer = L.geoJSON(i.area, {
      style: (f) => ({ className: f?.geometry?.type === "Point" ? point : className, weight: 2 }),
      pointToLayer: (_, at) => L.circleMarker(at, { radius: 10, className: point }),
    });
    const label = `${i.exercise ? `${t("incidents.exercise")} · ` : ""}${i.title} — ${t(`incident_severity.${i.severity}`)}`;
    layer.bindTooltip(label);
    layer.on("add", () => layer.eachLayer((l) => l.getElement?.()?.setAttribute("data-id", i.id)));
    areas.addLayer(layer);
  }
}

/// Fits the map to the incident `id`, or to every incident on the board.
function fit(id = null) {
  if (!map) return;
  const L = window.L;
  const chosen = [...board.values()].filter((e) => !id || e.incident.id === id);
  const bounds = L.latLngBounds([]);
  for (const e of chosen) bounds.extend(L.geoJSON(e.incident.area).getBounds());
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [40, 40], maxZoom: id ? 11 : 10 });
  else if (!fitted) map.setView([48.0, 23.5], 6);
  fitted = true;
}

// ---- the live stream ----

/// An escalation: a banner on every view, read out, and a tone (supervisors).
function cue(p) {
  const banner = document.getElementById("escalation");
  const agencies = p.escalated.join(", ");
  document.getElementById("escalation-text").textContent = t("incidents.escalated_cue", {
    agencies,
    title: p.incident.title,
  });
  const link = document.getElementById("escalation-open");
  link.href = `#/incidents/${p.incident.id}`;
  banner.hidden = false;
  beep(1);
}

function pushed(p) {
  for (const late of loading) late.set(p.incident.id, p);
  const isNew = !board.has(p.incident.id);
  fromStream(p);
  if (visible()) render(p.incident.id);
  if (opened === p.incident.id && visible()) refresh().catch(() => {});
  if (p.escalated?.length) {
    if (hasRole("supervisor")) cue(p);
  } else if (isNew && origin(p.incident.id) !== me()) {
    document.getElementById("incidents-announce").textContent = t("incidents.announce", {
      title: p.incident.title,
      type: t(`incident_type.${p.incident.type}`),
      severity: t(`incident_severity.${p.incident.severity}`),
      agency: origin(p.incident.id),
    });
    beep(p.incident.severity === "critical" || p.incident.severity === "high" ? 2 : 3);
  }
}

/// One map per fetch under way: what the stream pushed meanwhile, which the answer may predate
/// (without it, an incident raised or changed while the board loads would vanish or go stale).
const loading = new Set();

async function load() {
  const late = new Map();
  loading.add(late);
  let found;
  try {
    found = await api(`/incidents?limit=200&closed=${showClosed}`);
  } finally {
    loading.delete(late);
  }
  board.clear();
  for (const i of found) fromList(i);
  for (const p of late.values()) {
    const have = board.get(p.incident.id);
    if (!have || byChange({ incident: p.incident }, have) <= 0) fromStream(p);
  }
}

/// Follows the node's incidents from sign-in on, whichever view is shown.
export async function start() {
  stop();
  const state = document.getElementById("incidents-state");
  try {
    await load();
  } catch (e) {
    state.textContent = e.message;
  }
  controller = new AbortController();
  follow(
    "/incidents/stream",
    (type, data) => {
      if (type === "incident") pushed(JSON.parse(data));
      else if (type === "lagged") load().then(() => visible() && render(), () => {});
    },
    controller.signal,
    (s) => {
      state.textContent = s === "live" ? t("incidents.state_live") : t(`board.state_${s.replace("-", "_")}`);
    },
  );
}

export function stop() {
  controller?.abort();
  controller = null;
  document.getElementById("escalation").hidden = true;
}

// ---- raising ----

function areaKind() {
  return document.querySelector('#incident-raise input[name="area_kind"]:checked').value;
}

function typed() {
  const lat = Number.parseFloat(document.getElementById("inc-lat").value);
  const lon = Number.parseFloat(document.getElementById("inc-lon").value);
  return Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? [lat, lon] : null;
}

function drawDraft() {
  const state = document.getElementById("inc-area-state");
  const polygon = areaKind() === "polygon";
  document.getElementById("inc-add-corner").hidden = !polygon;
  if (draft) {
    draft.clearLayers();
    const L = window.L;
    if (polygon) {
      for (const c of corners) L.circleMarker(c, { radius: 4, className: "draft-corner", interactive: false }).addTo(draft);
      if (corners.length >= 3) L.polygon(corners, { className: "draft-area", interactive: false }).addTo(draft);
      else if (corners.length === 2) L.polyline(corners, { className: "draft-area", interactive: false }).addTo(draft);
    } else if (typed()) {
      L.circleMarker(typed(), { radius: 8, className: "draft-area", interactive: false }).addTo(draft);
    }
  }
  if (polygon) {
    state.textContent = t("incidents.area_corners", { n: corners.length });
  } else {
    const p = typed();
    state.textContent = p
      ? t("incidents.area_point_at", { lat: p[0].toFixed(5), lon: p[1].toFixed(5) })
      : t("incidents.area_hint");
  }
}

function mapClicked(e) {
  document.getElementById("inc-lat").value = e.latlng.lat.toFixed(5);
  document.getElementById("inc-lon").value = e.latlng.lng.toFixed(5);
  if (areaKind() === "polygon") corners.push([e.latlng.lat, e.latlng.lng]);
  drawDraft();
}

function addCorner() {
  const p = typed();
  if (p) corners.push(p);
  drawDraft();
}

function clearArea() {
  corners.length = 0;
  document.getElementById("inc-lat").value = "";
  document.getElementById("inc-lon").value = "";
  drawDraft();
}

async function raise(ev) {
  ev.preventDefault();
  const f = ev.target;
  const field = (name) => f.elements[name];
  const state = document.getElementById("incident-raise-state");
  const title = field("title").value.trim();
  if (!title) {
    state.textContent = t("incidents.title_missing");
    field("title").focus();
    return;
  }
  const body = {
    type: field("type").value,
    severity: field("severity").value,
    title,
    description: field("description").value.trim(),
    notified: picked(document.getElementById("inc-notify")),
    exercise: field("exercise").checked,
  };
  if (areaKind() === "polygon") {
    if (corners.length < 3) {
      state.textContent = t("incidents.area_missing");
      return;
    }
    const ring = corners.map(([lat, lon]) => [lon, lat]);
    ring.push(ring[0]);
    body.area = { type: "Polygon", coordinates: [ring] };
  } else {
    const p = typed();
    if (!p) {
      state.textContent = t("incidents.area_missing");
      document.getElementById("inc-lat").focus();
      return;
    }
    body.position = { lat: p[0], lon: p[1] };
  }
  try {
    const i = await api("/incidents", { method: "POST", body });
    fromList(i);
    render(i.id);
    fit(i.id);
    state.textContent = t("incidents.raised", { id: i.id });
    field("title").value = "";
    field("description").value = "";
    field("exercise").checked = false;
    clearArea();
  } catch (e) {
    state.textContent = e.message;
  }
}

// ---- one incident ----

function timelineText(e) {
  switch (e.change) {
    case "raised":
      return t("incident.raised_text", {
        type: t(`incident_type.${e.type}`),
        severity: t(`incident_severity.${e.severity}`),
        title: e.title,
      });
    case "note":
      return e.text;
    case "status":
      return t(`incident_status.${e.status}`);
    case "severity":
      return t(`incident_severity.${e.severity}`);
    case "notified":
      return (e.agencies ?? []).join(", ");
    case "escalated":
      return t("incident.escalated_text", { agency: e.agency, attempt: e.attempt });
    case "attached":
      return `${e.name} (${e.media_type})`;
    default:
      return "";
  }
}

function fill(i) {
  const mine = origin(i.id) === me();
  document.getElementById("incident-detail-title").textContent = i.title;
  document.getElementById("incident-exercise").hidden = !i.exercise;
  const facts = document.getElementById("incident-facts");
  facts.replaceChildren();
  fact(facts, "incident.id", i.id);
  fact(facts, "incidents.col_type", t(`incident_type.${i.type}`));
  fact(facts, "incidents.col_severity", severityCell("span", i.severity));
  fact(facts, "incidents.col_status", t(`incident_status.${i.status}`));
  fact(facts, "incidents.col_origin", originText(i.id));
  fact(facts, "incident.raised_at", when(i.raised));
  const description = document.getElementById("incident-description");
  description.textContent = i.description;
  description.hidden = !i.description;

  const notified = document.querySelector("#incident-notified tbody");
  notified.replaceChildren();
  const agencies = Object.entries(i.notified ?? {});
  document.getElementById("incident-notified-none").hidden = agencies.length > 0;
  document.getElementById("incident-notified").hidden = agencies.length === 0;
  for (const [agency, n] of agencies) {
    const due = i.deadlines?.[agency];
    const tr = el("tr");
    tr.dataset.agency = agency;
    tr.append(
      el("td", agency),
      el("td", when(n.since)),
      el("td", n.acknowledged ? when(n.acknowledged) : t("incident.not_yet"), n.acknowledged ? "acknowledged" : "awaited"),
      el("td", due ? `${when(due)} (${relative(due)})` : "—"),
      el("td", String(n.escalations)),
    );
    notified.append(tr);
  }

  const timeline = document.getElementById("incident-timeline");
  timeline.replaceChildren();
  for (const e of i.timeline ?? []) {
    const li = el("li");
    li.dataset.change = e.change;
    if (!e.applied) li.classList.add("not-applied");
    const time = el("time", when(new Date(e.stamp.ms).toISOString()));
    time.dateTime = new Date(e.stamp.ms).toISOString();
    const writer = e.by ? t("incident.writer_by", { agency: e.stamp.agency, by: e.by }) : e.stamp.agency;
    li.append(time, " · ", el("span", writer, "writer"), " · ", el("strong", t(`incident_change.${e.change}`)));
    const text = timelineText(e);
    if (text) li.append(": ", el("span", text, "text"));
    if (!e.applied) li.append(" ", el("em", t("incident.not_applied"), "not-applied-mark"));
    timeline.append(li);
  }

  const files = document.getElementById("incident-attachments");
  files.replaceChildren();
  const state = document.getElementById("incident-action-state");
  for (const a of i.attachments ?? []) files.append(fileItem(a, `${path(i.id)}/attachments/${a.sha256}`, state));
  document.getElementById("incident-attachments-box").hidden = !(i.attachments ?? []).length;

  const mineNotice = i.notified?.[me()];
  document.getElementById("incident-ack").hidden = mine || !mineNotice || Boolean(mineNotice.acknowledged);
  document.getElementById("incident-status").hidden = !mine;
  document.getElementById("incident-severity").hidden = !mine;
  if (filledFor !== i.id) {
    document.getElementById("inc-new-status").value = i.status;
    document.getElementById("inc-new-severity").value = i.severity;
    document.getElementById("inc-note").value = "";
    document.getElementById("incident-action-state").textContent = "";
    filledFor = i.id;
  }
}

async function refresh() {
  fill(await api(path(opened)));
}

async function open(id) {
  const section = document.getElementById("incident-detail");
  const state = document.getElementById("incident-action-state");
  opened = id;
  filledFor = null;
  try {
    fill(await api(path(id)));
  } catch (e) {
    opened = null;
    section.hidden = true;
    document.getElementById("incidents-state").textContent = t("incident.not_opened", { id, why: e.message });
    return;
  }
  section.hidden = false;
  state.textContent = "";
  fit(id);
  document.getElementById("incident-detail-title").focus();
}

function close() {
  opened = null;
  filledFor = null;
  document.getElementById("incident-detail").hidden = true;
  location.hash = "#/incidents";
}

/// Sends `body` to the opened incident's `suffix` (events, ack) and shows it again.
async function act(suffix, body, done) {
  const state = document.getElementById("incident-action-state");
  try {
    await api(`${path(opened)}/${suffix}`, { method: "POST", body });
    await refresh();
    state.textContent = done;
    return true;
  } catch (e) {
    state.textContent = e.message;
    return false;
  }
}

function options(select, codes, prefix) {
  if (select.options.length) return;
  for (const c of codes) {
    const o = el("option", t(`${prefix}.${c}`));
    o.value = c;
    o.dataset.i18n = `${prefix}.${c}`;
    select.append(o);
  }
}

function wire() {
  wired = true;
  options(document.getElementById("inc-type"), TYPES, "incident_type");
  options(document.getElementById("inc-severity"), SEVERITIES, "incident_severity");
  options(document.getElementById("inc-new-status"), STATUSES, "incident_status");
  options(document.getElementById("inc-new-severity"), SEVERITIES, "incident_severity");
  document.getElementById("inc-severity").value = "medium";
  document.getElementById("incident-raise").addEventListener("submit", raise);
  document.getElementById("incidents-closed").addEventListener("change", async (ev) => {
    showClosed = ev.target.checked;
    try {
      await load();
    } catch (e) {
      document.getElementById("incidents-state").textContent = e.message;
    }
    render();
  });
  for (const r of document.querySelectorAll('#incident-raise input[name="area_kind"]')) {
    r.addEventListener("change", () => {
      corners.length = 0;
      drawDraft();
    });
  }
  for (const id of ["inc-lat", "inc-lon"]) {
    document.getElementById(id).addEventListener("input", () => areaKind() === "point" && drawDraft());
  }
  document.getElementById("inc-add-corner").addEventListener("click", addCorner);
  document.getElementById("inc-clear-area").addEventListener("click", clearArea);
  document.getElementById("incident-close").addEventListener("click", close);
  document.getElementById("incident-ack").addEventListener("click", async (ev) => {
    ev.target.disabled = true;
    await act("ack", {}, t("incident.acknowledged_done"));
    ev.target.disabled = false;
  });
  document.getElementById("incident-note-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const note = document.getElementById("inc-note");
    const text = note.value.trim();
    if (!text) {
      note.focus();
      return;
    }
    if (await act("events", { change: "note", text }, t("incident.note_added"))) note.value = "";
  });
  document.getElementById("incident-status").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = document.getElementById("inc-new-status").value;
    await act("events", { change: "status", status }, t("incident.changed"));
  });
  document.getElementById("incident-severity").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const severity = document.getElementById("inc-new-severity").value;
    await act("events", { change: "severity", severity }, t("incident.changed"));
  });
  document.getElementById("escalation-dismiss").addEventListener("click", () => {
    document.getElementById("escalation").hidden = true;
  });
  setInterval(tick, 15000);
}

/// The view; `id` (origin/n) opens one incident.
export async function show(id = null) {
  if (!wired) wire();
  const L = window.L;
  if (!map) {
    map = await offlineMap("incident-map");
    areas = L.layerGroup().addTo(map);
    draft = L.layerGroup().addTo(map);
    map.on("click", mapClicked);
  }
  try {
    await load();
  } catch (e) {
    document.getElementById("incidents-state").textContent = e.message;
  }
  render();
  const notify = document.getElementById("inc-notify");
  if (!picked(notify).length) picker(notify, "inc-notify", await receiving("incident"));
  drawDraft();
  setTimeout(() => map.invalidateSize(), 0);
  if (id) {
    await open(id);
  } else {
    opened = null;
    filledFor = null;
    document.getElementById("incident-detail").hidden = true;
    fit();
  }
}
