// The hotlist: entries (this agency's and those partners shared), add one, import a CSV or
// JSON file, change one in place (this agency's own: reason, priority, expiry, note), expire
// (remove) one. Changes reach the partners it is shared with within seconds.
import { api, headers } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";
import { markedCell } from "./parts.js";

const REASONS = ["stolen", "wanted", "missing_person", "suspect", "other"];

/// A form control for one field of the entry being changed, labelled with the column's name
/// and the plate (a table cell has no visible label of its own).
function control(tag, name, value, label, plate) {
  const c = el(tag);
  c.name = name;
  c.setAttribute("aria-label", t("hotlist.field_of", { field: label, plate }));
  if (tag === "input") c.value = value ?? "";
  return c;
}

/// Turns the row of entry `e` into a form for its reason, priority, expiry and note; Save sends
/// them (and the fields it does not show, unchanged: a PUT replaces the entry's fields).
function edit(tr, e) {
  const cells = tr.children;
  const reason = control("select", "reason", null, t("alert.reason"), e.plate);
  for (const r of REASONS) {
    const o = el("option", t(`reason.${r}`));
    o.value = r;
    reason.append(o);
  }
  reason.value = e.reason;
  const priority = control("select", "priority", null, t("alert.priority"), e.plate);
  for (let n = 1; n <= 5; n++) priority.append(Object.assign(el("option", String(n)), { value: String(n) }));
  priority.value = String(e.priority);
  const day = e.expires ? e.expires.slice(0, 10) : "";
  const expires = control("input", "expires", day, t("hotlist.expires"), e.plate);
  expires.type = "date";
  const note = control("input", "note", e.note, t("hotlist.note"), e.plate);
  note.autocomplete = "off";
  cells[2].replaceChildren(reason);
  cells[3].replaceChildren(priority);
  cells[4].replaceChildren(expires);
  cells[6].replaceChildren(note);
  const save = el("button", t("hotlist.save"), "save");
  save.type = "button";
  const cancel = el("button", t("search.cancel"), "cancel");
  cancel.type = "button";
  cells[7].replaceChildren(save, cancel);
  tr.classList.add("editing");
  const state = document.getElementById("hotlist-state");
  save.addEventListener("click", async () => {
    save.disabled = true;
    const body = {
      reason: reason.value,
      priority: Number(priority.value),
      // The same day as before keeps the time it had; another day ends at its midnight (UTC).
      expires: expires.value ? (expires.value === day ? e.expires : expires.value) : undefined,
      note: note.value.trim() || undefined,
      fuzzy: e.fuzzy,
      make: e.vehicle?.make ?? undefined,
      colour: e.vehicle?.colour ?? undefined,
    };
    try {
      await api(`/hotlist/${e.id}`, { method: "PUT", body });
      state.textContent = t("hotlist.saved", { plate: e.plate });
      await list();
      document.querySelector(`#hotlist tbody tr[data-id="${e.id}"] button.edit`)?.focus();
    } catch (err) {
      save.disabled = false;
      state.textContent = err.message;
    }
  });
  const back = async () => {
    await list();
    document.querySelector(`#hotlist tbody tr[data-id="${e.id}"] button.edit`)?.focus();
  };
  cancel.addEventListener("click", back);
  tr.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") back();
  });
  reason.focus();
}

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
    tr.dataset.id = e.id;
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
    // A partner's entry is its owner's to change; here it can only be expired.
    if (!e.shared_by) {
      const change = el("button", t("hotlist.edit"), "edit");
      change.type = "button";
      change.setAttribute("aria-label", t("hotlist.edit_label", { plate: e.plate }));
      change.addEventListener("click", () => edit(tr, e));
      action.append(change, " ");
    }
    expire.classList.add("expire");
    action.append(expire);
    tr.append(
      markedCell(tr, e.exercise, "plate", e.plate),
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
    for (const r of REASONS) {
      const o = el("option");
      o.value = r;
      o.dataset.i18n = `reason.${r}`;
      o.textContent = t(o.dataset.i18n);
      reason.append(o);
    }
  }
  await list();
}
