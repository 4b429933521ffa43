// Clips in the Video view: cut from the recordings panel (`POST /cameras/{id}/clips`, a signed
// MP4 a court can check with `limes clip verify`), listed with partners' (`GET /clips`), each
// downloaded with its signed manifest, and — this node's own, by a supervisor — sent to a
// partner whose entry receives clips (`POST /clips/{sha256}/send`), as an anonymised copy.
import { ApiError, api, hasRole, headers, session } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";
import { receiving, me } from "./agencies.js";

let partners = [];

export async function show() {
  const box = document.getElementById("video-clips");
  let found;
  try {
    found = await api("/clips?limit=50");
  } catch {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  partners = hasRole("supervisor") ? await receiving("clip") : [];
  document.getElementById("clips-none").hidden = found.length > 0;
  document.querySelector("#clips-table tbody").replaceChildren(...found.map(row));
}

function row(c) {
  const tr = el("tr");
  tr.dataset.sha256 = c.sha256;
  let whose = c.received_from ? t("clips.from_partner", { agency: c.received_from }) : t("clips.made_by", { who: c.made_by });
  // An anonymised copy says so, from its signed manifest (a partner's as much as this node's).
  if (c.manifest?.anonymised) whose += ` · ${t("clips.anonymised")}`;
  const actions = el("td", undefined, "actions");
  const name = `${c.camera}-${c.from.replace(/[-:]/g, "").replace(/\.\d+/, "")}`;
  // One of this node's recordings leaves it as recorded (faces and plates in clear) only for a
  // supervisor who declared a case; anyone else downloads its anonymised copy.
  const own = !c.received_from && !c.anonymised_from;
  const blurred = own && !(hasRole("supervisor") && session()?.purpose?.case_ref);
  const label = blurred ? t("clips.download_blurred") : t("clips.download");
  const file = el("button", label, "download");
  file.type = "button";
  file.disabled = !c.file_here;
  file.setAttribute("aria-label", `${label}: ${name}.mp4`);
  // The file or manifest of the clip, or of its anonymised copy (made at the first asking).
  const get = (what, saved) => async () => {
    try {
      const sha = blurred ? (await api(`/clips/${c.sha256}/anonymised`, { method: "POST" })).sha256 : c.sha256;
      await download(`/api/v1/clips/${sha}/${what}`, saved);
    } catch (e) {
      document.getElementById("clips-state").textContent = t("clips.failed", { why: e.message });
    }
  };
  file.addEventListener("click", get("file", `${name}.mp4`));
  const manifest = el("button", t("clips.manifest"), "manifest");
  manifest.type = "button";
  manifest.setAttribute("aria-label", `${t("clips.manifest")}: ${name}.mp4.limes-clip.json`);
  manifest.addEventListener("click", get("manifest", `${name}.mp4.limes-clip.json`));
  actions.append(file, " ", manifest);
  if (!c.received_from && c.origin === me() && partners.length) {
    const select = el("select");
    select.id = `clip-to-${c.sha256.slice(0, 12)}`;
    const label = el("label", t("clips.send_to"), "sr-only");
    label.htmlFor = select.id;
    for (const p of partners) {
      const o = el("option", t("agencies.partner", { name: p.name, agency: p.agency }));
      o.value = p.agency;
      select.append(o);
    }
    const send = el("button", t("clips.send"), "send");
    send.type = "button";
    send.addEventListener("click", () => sendTo(c.sha256, select.value));
    actions.append(" ", label, select, " ", send);
  }
  const sent = (c.sent ?? []).map((s) => s.partner).join(", ");
  tr.append(
    el("td", c.camera),
    el("td", `${when(c.from)} – ${when(c.to)}`),
    el("td", whose),
    el("td", sent || "—"),
    actions,
  );
  return tr;
}

async function download(url, name) {
  const state = document.getElementById("clips-state");
  try {
    const r = await fetch(url, { headers: headers() });
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    const blob = await r.blob();
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    state.textContent = t("clips.failed", { why: e.message });
  }
}

async function sendTo(sha256, partner) {
  const state = document.getElementById("clips-state");
  try {
    const sent = await api(`/clips/${sha256}/send`, { method: "POST", body: { partner } });
    state.textContent = t(sent.anonymised ? "clips.sent_blurred" : "clips.sent", { agency: partner });
  } catch (e) {
    state.textContent = t("clips.failed", { why: e.message });
  }
  await show();
}

/// Cuts `camera` from `from` (ms) for `seconds`, then shows the list again.
export async function cut(camera, from, seconds) {
  const state = document.getElementById("clips-state");
  const to = Math.min(from + seconds * 1000, Date.now());
  try {
    const c = await api(`/cameras/${encodeURIComponent(camera)}/clips`, {
      method: "POST",
      body: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    });
    state.textContent = t("clips.cut", { camera, frames: c.manifest.frames, sha: c.sha256.slice(0, 12) });
  } catch (e) {
    state.textContent = t("clips.failed", { why: e.message });
  }
  await show();
}
