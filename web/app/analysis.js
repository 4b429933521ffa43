// What the node saw itself, in the Video view: the events its own analysis raised (a person
// across a line drawn on a camera's picture, a vehicle stopped) waiting for a person's decision,
// each with the picture it was raised on (`GET /events?status=pending`, `GET /events/{id}/frame`),
// confirmed — optionally as a border-breach incident — or dismissed (`POST /events/{id}/confirm`,
// `…/dismiss`); nothing of an event leaves the node before a person confirms it. Below, the
// vehicles the cameras' counting lines counted over the last 24 hours (`GET /traffic`), summed
// per camera, line, lane, direction and class.
import { ApiError, api, headers } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";

let wired = false;
/// The object URLs of the pictures shown, released when the list is drawn again.
let pictures = [];

export async function show() {
  if (!wired) wire();
  await Promise.all([events(), traffic()]);
}

function wire() {
  wired = true;
  const severity = document.getElementById("an-severity");
  for (const s of ["low", "medium", "high", "critical"]) {
    const o = el("option", t(`incident_severity.${s}`));
    o.value = s;
    severity.append(o);
  }
  severity.value = "high";
}

/// What an event says, in words: "person crossed green-border (right to left)"; faces counted
/// say how many, and each face's estimated gender and age with their confidence (estimates a
/// person checks against the picture before confirming).
function what(e) {
  if (e.kind === "faces_counted") {
    const faces = e.details?.faces ?? [];
    const pct = new Intl.NumberFormat(document.documentElement.lang, { style: "percent" });
    const estimates = faces
      .filter((f) => f.attributes)
      .map((f) => {
        const a = f.attributes;
        return t("faces.estimate", {
          gender: t(`gender.${a.gender}`),
          gender_confidence: pct.format(a.gender_confidence),
          low: a.age_range[0],
          high: a.age_range[1],
          age_confidence: pct.format(a.age_confidence),
        });
      });
    const head = t("faces.counted", { count: faces.length });
    return estimates.length ? `${head}: ${estimates.join("; ")}` : head;
  }
  const parts = [t(`object.${e.class}`), t(`scene_event.${e.kind}`)];
  if (e.rule) parts.push(e.rule);
  if (e.direction) parts.push(`(${t(`crossing.${e.direction}`)})`);
  return parts.join(" ");
}

async function events() {
  const box = document.getElementById("video-analysis");
  let pending;
  try {
    pending = await api("/events?status=pending&limit=100");
  } catch {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  for (const url of pictures) URL.revokeObjectURL(url);
  pictures = [];
  document.getElementById("analysis-none").hidden = pending.length > 0;
  document.querySelector("#analysis-events tbody").replaceChildren(...pending.map(row));
}

function row(e) {
  const tr = el("tr");
  tr.dataset.id = e.id;
  const picture = el("td");
  if (e.frame_sha256) loadPicture(e, picture);
  const action = el("td");
  const confirm = el("button", t("analysis.confirm"), "confirm");
  confirm.type = "button";
  confirm.setAttribute("aria-label", `${t("analysis.confirm")}: ${what(e)}, ${when(e.time)}`);
  confirm.addEventListener("click", () => decide(e, "confirm"));
  const dismiss = el("button", t("analysis.dismiss"), "dismiss");
  dismiss.type = "button";
  dismiss.setAttribute("aria-label", `${t("analysis.dismiss")}: ${what(e)}, ${when(e.time)}`);
  dismiss.addEventListener("click", () => decide(e, "dismiss"));
  action.append(confirm, " ", dismiss);
  const score = new Intl.NumberFormat(document.documentElement.lang, { style: "percent" }).format(e.score);
  tr.append(el("td", when(e.time)), el("td", e.camera), el("td", what(e)), el("td", score), picture, action);
  return tr;
}

/// The picture an event was raised on, fetched with the session (an `<img>` cannot send it).
async function loadPicture(e, cell) {
  try {
    const r = await fetch(`/api/v1/events/${e.id}/frame`, { headers: headers() });
    if (!r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    pictures.push(url);
    const img = el("img", undefined, "event-frame");
    img.src = url;
    img.alt = t("analysis.picture_alt", { what: what(e), camera: e.camera });
    cell.append(img);
  } catch {
    // No picture: the row stands without it.
  }
}

async function decide(e, how) {
  const state = document.getElementById("analysis-state");
  const body = {};
  if (how === "confirm" && document.getElementById("an-raise").checked) {
    body.incident = { severity: document.getElementById("an-severity").value, notified: [] };
  }
  try {
    const done = await api(`/events/${e.id}/${how}`, { method: "POST", body });
    state.textContent = done.incident
      ? t("analysis.raised", { what: what(e), incident: done.incident })
      : t(how === "confirm" ? "analysis.confirmed" : "analysis.dismissed", { what: what(e) });
  } catch (err) {
    state.textContent = t("analysis.failed", { why: err instanceof ApiError ? err.message : String(err) });
  }
  await events();
}

async function traffic() {
  const box = document.getElementById("traffic");
  const to = new Date();
  const from = new Date(to.getTime() - 24 * 3600 * 1000);
  let counts;
  try {
    counts = await api(`/traffic?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`);
  } catch {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const sums = new Map();
  for (const c of counts) {
    const key = [c.camera, c.line, c.lane, c.direction, c.class].join("\u0000");
    sums.set(key, (sums.get(key) ?? 0) + c.vehicles);
  }
  const rows = [...sums].map(([key, vehicles]) => {
    const [camera, line, lane, direction, cls] = key.split("\u0000");
    const tr = el("tr");
    tr.dataset.class = cls;
    tr.append(
      el("td", camera),
      el("td", line),
      el("td", lane || "–"),
      el("td", t(`crossing.${direction}`)),
      el("td", t(`object.${cls}`)),
      el("td", String(vehicles), "number"),
    );
    return tr;
  });
  document.getElementById("traffic-none").hidden = rows.length > 0;
  document.querySelector("#traffic-table tbody").replaceChildren(...rows);
}
