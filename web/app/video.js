// Video: a grid of the cameras the node records, each live (`GET /cameras/{id}/live.mp4`,
// fragmented MP4 fed to Media Source Extensions as it arrives), with how its stream is doing;
// one camera's recordings on a timeline of the last hour, played from where the scrubber is
// (`GET /cameras/{id}/video.mp4?from=&to=`). H.265 cameras come transcoded to H.264 by the node,
// for viewing only. Every view is logged by the node under the session's purpose.
//
// Across the border: the partners' cameras this agency may watch now (`GET /video/grants?side=
// received&in_force=true`), each relayed live by this node from the partner's until the
// partner's grant ends; and, for supervisors, the grants of this node's cameras to partners
// during an open incident that names them (`POST /video/grants`), with a Revoke button on each.
import { ApiError, api, hasRole, headers } from "./api.js";
import { relative, t, when } from "./i18n.js";
import { el } from "./dom.js";
import { receiving } from "./agencies.js";
import { askPurpose } from "./purpose.js";
import * as footage from "./footage.js";
import * as clips from "./clips.js";
import * as analysis from "./analysis.js";

/// The live players, by camera: their abort controllers.
const players = new Map();
let wired = false;
let refresher = null;
/// The camera whose recordings are open, and the hour its timeline shows.
let opened = null;
/// The cameras this node records, as last listed.
let cameras = [];
/// Open incidents, as last listed for the grant form.
let incidents = [];

/// The wall-clock time shown by each live tile's latest painted frame, and how far behind the
/// camera it was when painted (ms): what the browser test reads.
export const liveStats = {};
// For the browser test and for diagnosis from the console.
globalThis.limesLiveStats = liveStats;

function visible() {
  return !document.getElementById("view-video").hidden;
}

export async function show() {
  if (!wired) wire();
  await refreshAll();
  await footage.show();
  await clips.show();
  clearInterval(refresher);
  refresher = setInterval(() => visible() && refreshAll().catch(() => {}), 5000);
}

async function refreshAll() {
  await refresh();
  await shared();
  await grants();
  await analysis.show();
}

export function stop() {
  footage.stop();
  clearInterval(refresher);
  refresher = null;
  for (const c of players.values()) c.abort();
  players.clear();
}

function wire() {
  wired = true;
  document.getElementById("video-scrub").addEventListener("input", (ev) => {
    document.getElementById("video-at").textContent = when(new Date(Number(ev.target.value)).toISOString());
  });
  document.getElementById("video-play").addEventListener("click", () => play(Number(document.getElementById("video-scrub").value)));
  document.getElementById("video-clip").addEventListener("click", () => clips.cut(opened, Number(document.getElementById("video-scrub").value), 30));
  document.getElementById("video-close").addEventListener("click", () => {
    opened = null;
    document.getElementById("video-recordings").hidden = true;
  });
  document.getElementById("video-grant-form").addEventListener("submit", grant);
  document.getElementById("vg-partner").addEventListener("change", () => fillIncidents());
}

/// The statuses again: new cameras get a tile (and start playing), every tile its words.
async function refresh() {
  const state = document.getElementById("video-state");
  let cams;
  try {
    cams = await api("/video/cameras");
  } catch (e) {
    state.textContent = t("video.not_loaded", { why: e.message });
    return;
  }
  state.textContent = cams.length ? "" : t("video.none");
  const grid = document.getElementById("video-grid");
  for (const c of cams) {
    let tile = grid.querySelector(`li[data-camera="${CSS.escape(c.camera)}"]`);
    if (!tile) {
      tile = newTile(c.camera);
      grid.append(tile);
    }
    tile.querySelector(".feed-state").textContent = statusText(c);
    tile.classList.toggle("down", !c.connected);
    if (c.connected && !players.has(c.camera)) startLive(c.camera, liveUrl(c.camera), tile.querySelector("video"));
  }
  cameras = cams.map((c) => c.camera);
  if (opened) await timeline(opened);
}

function statusText(c) {
  if (c.connected) return t("video.playing", { codec: (c.codec ?? "").toUpperCase(), since: c.since ? relative(c.since) : "—" });
  const why = c.last_error ? t("video.why", { why: c.last_error }) : "";
  return t("video.down", { since: c.since ? relative(c.since) : "—" }) + why;
}

function newTile(camera) {
  const li = el("li", undefined, "video-tile");
  li.dataset.camera = camera;
  const video = el("video");
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("aria-label", t("video.live_of", { camera }));
  const open = el("button", t("video.recordings"), "open");
  open.type = "button";
  open.setAttribute("aria-label", t("video.recordings_of", { camera }));
  open.addEventListener("click", () => openRecordings(camera));
  const caption = el("p", undefined, "caption");
  caption.append(el("strong", camera), " ", el("span", "", "feed-state"), " ", open);
  li.append(video, caption);
  return li;
}

function liveUrl(camera) {
  return `/api/v1/cameras/${encodeURIComponent(camera)}/live.mp4`;
}

/// Plays `url` live in `video` (`key` names the player): the response's bytes appended to a
/// SourceBuffer as they come; when the stream ends (the camera reconnected, its parameters
/// changed), again — until `stopped(error)` says a refusal is final (a partner's grant ended).
function startLive(key, url, video, stopped = () => false) {
  const controller = new AbortController();
  players.set(key, controller);
  const state = video.closest("li").querySelector(".feed-state");
  (async () => {
    while (!controller.signal.aborted) {
      try {
        await liveOnce(key, url, video, controller.signal);
      } catch (e) {
        if (controller.signal.aborted) return;
        if (stopped(e)) {
          players.delete(key);
          ended(video, t("video.shared_ended", { why: e.message }));
          return;
        }
        state.textContent = t("video.live_failed", { why: e.message });
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
}

async function liveOnce(key, url, video, signal) {
  const r = await fetch(url, { headers: headers(), signal });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  const type = r.headers.get("content-type");
  if (!window.MediaSource || !MediaSource.isTypeSupported(type)) throw new Error(t("video.unsupported", { type }));
  const start = Date.parse(r.headers.get("limes-start") ?? "");
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  const buffer = source.addSourceBuffer(type);
  buffer.mode = "segments";
  watchLatency(key, video, start);
  const reader = r.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done || signal.aborted) break;
    await append(buffer, value);
    // Stay at the live edge, and keep only the last half minute.
    const b = video.buffered;
    if (b.length) {
      const end = b.end(b.length - 1);
      if (end - video.currentTime > 1.5) video.currentTime = end - 0.2;
      if (video.paused) video.play().catch(() => {});
      if (video.currentTime - b.start(0) > 60 && !buffer.updating) buffer.remove(b.start(0), video.currentTime - 30);
    }
  }
  if (source.readyState === "open") source.endOfStream();
}

function append(buffer, bytes) {
  return new Promise((resolve, reject) => {
    const wait = () => {
      if (buffer.updating) {
        buffer.addEventListener("updateend", wait, { once: true });
        return;
      }
      buffer.addEventListener("updateend", resolve, { once: true });
      buffer.addEventListener("error", () => reject(new Error("the browser refused the video")), { once: true });
      buffer.appendBuffer(bytes);
    };
    wait();
  });
}

/// For each painted frame: the camera's time of it (the stream's start, `Limes-Start`, plus the
/// frame's media time) and how long before now that was.
function watchLatency(key, video, start) {
  if (!Number.isFinite(start) || !video.requestVideoFrameCallback) return;
  const onFrame = (now, meta) => {
    const shown = start + meta.mediaTime * 1000;
    liveStats[key] = { frames: (liveStats[key]?.frames ?? 0) + 1, latency_ms: Date.now() - shown };
    if (players.has(key)) video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

// ---- across the border ----

/// The partners' cameras this agency may watch now: a tile each, playing; a tile whose grant
/// is no longer listed stops and says so.
async function shared() {
  const box = document.getElementById("video-shared");
  let list;
  try {
    list = await api("/video/grants?side=received&in_force=true");
  } catch {
    box.hidden = true;
    return;
  }
  const grid = document.getElementById("video-shared-grid");
  box.hidden = list.length === 0 && grid.children.length === 0;
  const live = new Set(list.map((g) => g.id));
  for (const tile of grid.querySelectorAll("li")) {
    const key = `grant:${tile.dataset.grant}`;
    if (!live.has(tile.dataset.grant) && !tile.classList.contains("down")) {
      players.get(key)?.abort();
      players.delete(key);
      ended(tile.querySelector("video"), t("video.shared_over"));
    }
  }
  for (const g of list) {
    let tile = grid.querySelector(`li[data-grant="${CSS.escape(g.id)}"]`);
    if (!tile) {
      tile = sharedTile(g);
      grid.prepend(tile);
    }
    const key = `grant:${g.id}`;
    if (!players.has(key) && !tile.classList.contains("down")) {
      tile.querySelector(".feed-state").textContent = t("video.shared_until", { until: when(g.until) });
      const [origin, n] = g.id.split("/");
      const url = `/api/v1/video/grants/${encodeURIComponent(origin)}/${encodeURIComponent(n)}/live.mp4`;
      startLive(key, url, tile.querySelector("video"), (e) => e.status === 403 || e.status === 404);
    }
  }
  document.getElementById("video-shared-state").textContent = list.length ? "" : t("video.shared_none");
}

/// A partner's camera no longer to be watched: the picture goes, the tile says why.
function ended(video, why) {
  const tile = video.closest("li");
  tile.classList.add("down");
  tile.querySelector(".feed-state").textContent = why;
  if (video.src) URL.revokeObjectURL(video.src);
  video.removeAttribute("src");
  video.load();
}

function sharedTile(g) {
  const li = el("li", undefined, "video-tile");
  li.dataset.grant = g.id;
  const name = g.camera_name ? `${g.camera_name} (${g.camera})` : g.camera;
  const video = el("video");
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("aria-label", t("video.shared_live_of", { camera: name, agency: g.origin }));
  const caption = el("p", undefined, "caption");
  caption.append(
    el("strong", t("video.shared_camera", { camera: name, agency: g.origin })),
    " ",
    el("span", t("video.shared_incident", { incident: g.incident }), "incident"),
    " ",
    el("span", t(g.clear ? "video.grant_form_clear" : "video.grant_form_blurred"), "grant-form"),
    " ",
    el("span", "", "feed-state"),
  );
  li.append(video, caption);
  return li;
}

/// The grants this node made (supervisors): the form's choices and the list.
async function grants() {
  const box = document.getElementById("video-grants");
  box.hidden = !hasRole("supervisor");
  if (box.hidden) return;
  const partners = await receiving("live-grant");
  fillSelect(
    document.getElementById("vg-partner"),
    partners.map((p) => [p.agency, t("agencies.partner", { name: p.name, agency: p.agency })]),
  );
  fillSelect(document.getElementById("vg-camera"), cameras.map((c) => [c, c]));
  try {
    incidents = await api("/incidents?limit=200&closed=false");
  } catch {
    incidents = [];
  }
  fillIncidents();
  let list = [];
  try {
    list = await api("/video/grants?side=given&limit=50");
  } catch (e) {
    document.getElementById("video-grant-state").textContent = e.message;
  }
  document.querySelector("#video-grants-table tbody").replaceChildren(...list.map(grantRow));
}

/// The open incidents that involve the partner chosen.
function fillIncidents() {
  const partner = document.getElementById("vg-partner").value;
  const involved = incidents.filter((i) => i.id.split("/")[0] === partner || Object.keys(i.notified ?? {}).includes(partner));
  fillSelect(document.getElementById("vg-incident"), involved.map((i) => [i.id, `${i.id} — ${i.title}`]));
}

/// Options `[value, text]` in `select`, keeping the one chosen when it is still there.
function fillSelect(select, options) {
  const was = select.value;
  select.replaceChildren(...options.map(([value, text]) => {
    const o = el("option", text);
    o.value = value;
    return o;
  }));
  if (options.some(([v]) => v === was)) select.value = was;
}

function grantRow(g) {
  const tr = el("tr");
  tr.dataset.grant = g.id;
  const state = g.revoked
    ? t("video.grant_revoked", { by: g.revoked.by, at: when(g.revoked.at) })
    : g.in_force
      ? t("video.grant_in_force")
      : t("video.grant_ended");
  const action = el("td");
  if (g.in_force) {
    const b = el("button", t("video.grant_revoke"), "revoke");
    b.type = "button";
    b.setAttribute("aria-label", t("video.grant_revoke_label", { camera: g.camera, agency: g.partner }));
    b.addEventListener("click", () => revoke(g.id));
    action.append(b);
  }
  const form = el("td", t(g.clear ? "video.grant_form_clear" : "video.grant_form_blurred"), "grant-form");
  tr.append(el("td", g.partner), el("td", g.camera_name ?? g.camera), el("td", g.incident), el("td", when(g.until)), form, el("td", state, "grant-state"), action);
  return tr;
}

async function grant(ev) {
  ev.preventDefault();
  const f = ev.target;
  const state = document.getElementById("video-grant-state");
  const minutes = Number(f.elements.minutes.value);
  const clear = f.elements.clear.checked;
  // In clear: the supervisor declares the case (and legal basis) the unblurred view is for.
  const purpose = clear ? await askPurpose() : undefined;
  if (clear && !purpose) return;
  try {
    const g = await api("/video/grants", {
      method: "POST",
      body: { partner: f.elements.partner.value, camera: f.elements.camera.value, incident: f.elements.incident.value, seconds: Math.round(minutes * 60), clear },
      purpose,
    });
    state.textContent = t("video.granted", { agency: g.partner, camera: g.camera, until: when(g.until) });
  } catch (e) {
    state.textContent = t("video.grant_failed", { why: e.message });
  }
  await grants();
}

async function revoke(id) {
  const state = document.getElementById("video-grant-state");
  const [origin, n] = id.split("/");
  try {
    await api(`/video/grants/${encodeURIComponent(origin)}/${encodeURIComponent(n)}/revoke`, { method: "POST", body: {} });
    state.textContent = t("video.revoked", { id });
  } catch (e) {
    state.textContent = t("video.grant_failed", { why: e.message });
  }
  await grants();
}

async function openRecordings(camera) {
  opened = camera;
  const box = document.getElementById("video-recordings");
  box.hidden = false;
  document.getElementById("video-recordings-title").textContent = t("video.recordings_title", { camera });
  await timeline(camera);
  const scrub = document.getElementById("video-scrub");
  // Start a minute back (or at the oldest kept).
  scrub.value = String(Math.max(Number(scrub.min), Number(scrub.max) - 60_000));
  scrub.dispatchEvent(new Event("input"));
  document.getElementById("video-recordings-title").focus();
}

/// The last hour of `camera` as bars where it was recorded, and the scrubber over that hour.
async function timeline(camera) {
  const to = Date.now();
  const from = to - 3600_000;
  const q = `from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
  const segments = await api(`/cameras/${encodeURIComponent(camera)}/recordings?${q}`);
  const bar = document.getElementById("video-timeline");
  bar.replaceChildren(
    ...segments.map((s) => {
      const a = Math.max(Date.parse(s.start), from);
      const b = Math.min(Date.parse(s.end), to);
      const span = el("span", undefined, "recorded");
      span.style.left = `${((a - from) / (to - from)) * 100}%`;
      span.style.width = `${Math.max(((b - a) / (to - from)) * 100, 0.1)}%`;
      span.title = `${when(s.start)} – ${when(s.end)}`;
      return span;
    }),
  );
  bar.dataset.segments = String(segments.length);
  const scrub = document.getElementById("video-scrub");
  const oldest = segments.length ? Math.max(Date.parse(segments[0].start), from) : from;
  const was = Number(scrub.value);
  scrub.min = String(from);
  scrub.max = String(to);
  scrub.step = "1000";
  if (!was) scrub.value = String(oldest);
}

/// Plays the recording from `at` for five minutes (or to now).
async function play(at) {
  const state = document.getElementById("video-play-state");
  const video = document.getElementById("video-playback");
  const to = Math.min(at + 300_000, Date.now());
  try {
    const q = `from=${new Date(at).toISOString()}&to=${new Date(to).toISOString()}`;
    const r = await fetch(`/api/v1/cameras/${encodeURIComponent(opened)}/video.mp4?${q}`, { headers: headers() });
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    const blob = await r.blob();
    if (video.src) URL.revokeObjectURL(video.src);
    video.src = URL.createObjectURL(blob);
    await video.play().catch(() => {});
    state.textContent = t("video.playing_from", { time: when(new Date(at).toISOString()) });
  } catch (e) {
    state.textContent = t("video.play_failed", { why: e.message });
  }
}
