// The hotlist: entries (this agency's and those partners shared), add one, import a CSV or
// JSON file, expire (remove) one. Changes reach the partners it is shared with within seconds.
import { api, headers } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";

async function list() {
  const body = document.querySelector("#hotlist tbody");
  const state = document.getElementById("hotlist-state");
  body.replaceChildren();
  let entries = [];
  try {
    entries = await api("/hotlist?limit=500");
  } catch (e) {
    state.textContent = e.message;
    return;
  }
  for (const e of entries) {
    const tr = el("tr");
    tr.dataset.plate = e.plate;
    const expire = el("button", t("hotlist.expire"));
    expire.type = "button";
    expire.setAttribute("aria-label", t("hotlist.expire_label", { plate: e.plate }));
    expire.addEventListener("click", async () => {
      expire.disabled = true;
      try {
        await api(`/hotlist/${e.id}`, { method: "DELETE" });
        state.textContent = t("hotlist.expired", { plate: e.plate });
        await list();
      } catch (err) {
        expire.disabled = false;
        state.textContent = err.message;
      }
    });
    const action = el("td");
    action.append(expire);
    tr.append(
      el("td", e.plate, "plate"),
      el("td", e.country ?? "—"),
      el("td", t(`reason.${e.reason}`)),
      el("td", t("alert.priority_n", { n: e.priority })),
      el("td", e.expires ? when(e.expires) : t("hotlist.never")),
      el("td", e.shared_by ? t("hotlist.shared_by", { partner: e.shared_by.partner }) : e.agency),
      el("td", e.note ?? ""),
      action,
    );
    body.append(tr);
  }
}

function report(r) {
  const refused = (r.errors ?? []).map((e) => `${e.at}: ${e.error}`).join("; ");
  return t("hotlist.imported", { n: r.imported, refused: (r.errors ?? []).length }) + (refused ? ` (${refused})` : "");
}

async function add(ev) {
  ev.preventDefault();
  const f = ev.target;
  const state = document.getElementById("hotlist-state");
  const entry = {
    plate: f.plate.value.trim(),
    country: f.country.value.trim().toUpperCase() || undefined,
    reason: f.reason.value,
    priority: Number(f.priority.value),
    agency: document.getElementById("who").dataset.agency ?? "",
    expires: f.expires.value || undefined,
    note: f.note.value.trim() || undefined,
  };
  try {
    state.textContent = report(await api("/hotlist", { method: "POST", body: [entry] }));
    f.plate.value = "";
    f.note.value = "";
    await list();
  } catch (e) {
    state.textContent = e.message;
  }
}

async function importFile(ev) {
  ev.preventDefault();
  const state = document.getElementById("hotlist-state");
  const file = ev.target.file.files[0];
  if (!file) return;
  const type = file.name.toLowerCase().endsWith(".csv") ? "text/csv" : "application/json";
  const r = await fetch("/api/v1/hotlist", { method: "POST", headers: headers({ "content-type": type }), body: await file.text() });
  const body = await r.json().catch(() => null);
  state.textContent = r.ok || r.status === 422 ? report(body ?? {}) : (body?.message ?? `HTTP ${r.status}`);
  await list();
}

let wired = false;

export async function show() {
  if (!wired) {
    wired = true;
    document.getElementById("hotlist-add").addEventListener("submit", add);
    document.getElementById("hotlist-import").addEventListener("submit", importFile);
  }
  const reason = document.getElementById("hl-reason");
  if (!reason.options.length) {
    for (const r of ["stolen", "wanted", "missing_person", "suspect", "other"]) {
      const o = el("option");
      o.value = r;
      o.dataset.i18n = `reason.${r}`;
      o.textContent = t(o.dataset.i18n);
      reason.append(o);
    }
  }
  await list();
}
