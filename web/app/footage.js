// Drone and body-camera footage in the Video view: the files uploaded with their telemetry
// (`GET /footage`), an upload form (the file, its camera, when it started, and a GPX or DJI SRT
// track), and a player beside a map of the offline basemap: the track drawn, a marker where the
// camera was at the moment the video shows (the footage's start plus the playing time, placed
// between the track's fixes as `GET /footage/{sha256}/position` would). Every view is
// `footage.view`, logged by the node under the session's purpose.
import { ApiError, api, headers } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";
import { offlineMap } from "./map.js";

let wired = false;
let map = null;
let layer = null;
let marker = null;
/// The footage open in the player, and its track as times (ms) and [lat, lon] positions.
let opened = null;
let track = null;

/// Where the marker stands and the moment it shows: what the browser test reads.
export const footageStats = {};
globalThis.limesFootage = footageStats;

export async function show() {
  if (!wired) wire();
  await list();
}

export function stop() {
  document.getElementById("footage-video").pause();
}

function wire() {
  wired = true;
  document.getElementById("footage-upload").addEventListener("submit", upload);
  const video = document.getElementById("footage-video");
  video.addEventListener("timeupdate", place);
  video.addEventListener("seeked", place);
  document.getElementById("footage-close").addEventListener("click", () => {
    video.pause();
    opened = null;
    document.getElementById("footage-player").hidden = true;
  });
}

async function list() {
  const box = document.getElementById("video-footage");
  let found;
  try {
    found = await api("/footage?limit=100");
  } catch {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  document.getElementById("footage-none").hidden = found.length > 0;
  document.querySelector("#footage-table tbody").replaceChildren(...found.map(row));
}

function row(f) {
  const tr = el("tr");
  tr.dataset.sha256 = f.sha256;
  const telemetry = f.telemetry
    ? t("footage.fixes", { n: f.telemetry.fixes, format: f.telemetry.format.toUpperCase() })
    : t("footage.no_telemetry");
  const play = el("button", t("footage.play"), "open");
  play.type = "button";
  // The visible words first, so that speech input finds the button by them.
  play.setAttribute("aria-label", `${t("footage.play")}: ${f.name}`);
  play.addEventListener("click", () => open(f));
  const action = el("td");
  action.append(play);
  tr.append(el("td", when(f.start)), el("td", f.camera), el("td", f.name), el("td", telemetry), action);
  return tr;
}

/// Plays `f` with its track on the map (the file fetched whole with the session's headers: a
/// `<video>` cannot send them).
async function open(f) {
  const state = document.getElementById("footage-state");
  const player = document.getElementById("footage-player");
  const video = document.getElementById("footage-video");
  opened = f;
  track = null;
  player.hidden = false;
  const title = document.getElementById("footage-player-title");
  title.textContent = t("footage.player_title", { name: f.name, camera: f.camera });
  title.focus();
  state.textContent = t("footage.loading");
  try {
    const r = await fetch(`/api/v1/footage/${f.sha256}/file`, { headers: headers() });
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    const blob = await r.blob();
    if (video.src) URL.revokeObjectURL(video.src);
    video.src = URL.createObjectURL(blob);
    if (f.telemetry) {
      const feature = await api(`/footage/${f.sha256}/track`);
      track = {
        times: feature.properties.times.map((s) => Date.parse(s)),
        points: feature.geometry.coordinates.map(([lon, lat]) => [lat, lon]),
        maxGap: feature.properties.max_gap_s * 1000,
      };
    }
    await drawTrack();
    state.textContent = f.telemetry ? "" : t("footage.no_telemetry");
    await video.play().catch(() => {});
  } catch (e) {
    state.textContent = t("footage.failed", { why: e.message });
  }
}

async function drawTrack() {
  const L = window.L;
  const box = document.getElementById("footage-map");
  box.hidden = !track;
  if (!track) return;
  if (!map) {
    map = await offlineMap("footage-map");
    layer = L.layerGroup().addTo(map);
  }
  layer.clearLayers();
  L.polyline(track.points, { className: "footage-track", weight: 3, interactive: false }).addTo(layer);
  marker = L.circleMarker(track.points[0], { className: "footage-marker", radius: 8, weight: 2, interactive: false }).addTo(layer);
  setTimeout(() => {
    map.invalidateSize();
    map.fitBounds(track.points, { padding: [30, 30], maxZoom: 17 });
  }, 0);
  place();
}

/// The position at `at` (ms): between the fixes around it, linearly; none outside the track or
/// in a gap longer than the node interpolates across.
function positionAt(at) {
  const { times, points, maxGap } = track;
  if (at < times[0] || at > times[times.length - 1]) return null;
  const hi = times.findIndex((x) => x >= at);
  if (times[hi] === at || hi === 0) return points[hi];
  const lo = hi - 1;
  if (times[hi] - times[lo] > maxGap) return null;
  const f = (at - times[lo]) / (times[hi] - times[lo]);
  return [points[lo][0] + f * (points[hi][0] - points[lo][0]), points[lo][1] + f * (points[hi][1] - points[lo][1])];
}

/// The marker at the moment the video shows.
function place() {
  if (!opened || !track || !marker) return;
  const video = document.getElementById("footage-video");
  const at = Date.parse(opened.start) + video.currentTime * 1000;
  const p = positionAt(at);
  const text = document.getElementById("footage-position");
  if (!p) {
    text.textContent = t("footage.off_track", { time: when(new Date(at).toISOString()) });
    return;
  }
  marker.setLatLng(p);
  Object.assign(footageStats, { sha256: opened.sha256, media_s: video.currentTime, at, lat: p[0], lon: p[1] });
  text.textContent = t("footage.at", { time: when(new Date(at).toISOString()), lat: p[0].toFixed(5), lon: p[1].toFixed(5) });
}

/// Uploads the file, then its telemetry when one is chosen.
async function upload(ev) {
  ev.preventDefault();
  const form = ev.target;
  const state = document.getElementById("footage-state");
  const file = form.elements.file.files[0];
  const telemetry = form.elements.telemetry.files[0];
  const local = form.elements.start.value;
  if (!file || !local) return;
  // The camera's clock is taken to be this browser's: the offset is sent with the time.
  const startAt = new Date(local);
  const offset = -startAt.getTimezoneOffset();
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const start = `${local.length === 16 ? `${local}:00` : local}${offset >= 0 ? "+" : "-"}${pad(offset / 60)}:${pad(offset % 60)}`;
  const q = new URLSearchParams({ camera: form.elements.camera.value.trim(), start, name: file.name });
  try {
    state.textContent = t("footage.uploading", { name: file.name });
    const r = await fetch(`/api/v1/footage?${q}`, { method: "POST", headers: headers({ "content-type": file.type || "application/octet-stream" }), body: file });
    const json = await r.json().catch(() => null);
    if (!r.ok) throw new ApiError(r.status, json);
    if (telemetry) {
      const tq = new URLSearchParams({ name: telemetry.name });
      const tr = await fetch(`/api/v1/footage/${json.sha256}/telemetry?${tq}`, { method: "POST", headers: headers(), body: telemetry });
      if (!tr.ok) throw new ApiError(tr.status, await tr.json().catch(() => null));
    }
    state.textContent = t("footage.uploaded", { name: file.name });
    form.reset();
  } catch (e) {
    state.textContent = t("footage.failed", { why: e.message });
  }
  await list();
}
