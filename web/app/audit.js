// The audit log, for the data-protection officer: records by time, actor, plate or object,
// after the purpose dialog (the export is itself logged). Newest last, as the log keeps them.
import { headers } from "./api.js";
import { t, when } from "./i18n.js";
import { askPurpose } from "./purpose.js";
import { el } from "./dom.js";

const SHOWN = 500;

async function search(ev) {
  ev.preventDefault();
  const f = ev.target;
  const state = document.getElementById("audit-state");
  const purpose = await askPurpose({ purpose: "audit", legal_basis: null, case_ref: null });
  if (!purpose) {
    state.textContent = t("search.cancelled");
    return;
  }
  const q = new URLSearchParams();
  for (const name of ["actor", "plate", "object"]) if (f[name].value.trim()) q.set(name, f[name].value.trim());
  if (f.from.value) q.set("from", new Date(f.from.value).toISOString());
  if (f.to.value) q.set("to", new Date(f.to.value).toISOString());
  const body = document.querySelector("#audit tbody");
  body.replaceChildren();
  const r = await fetch(`/api/v1/audit?${q}`, { headers: headers({}, purpose) });
  if (!r.ok) {
    state.textContent = (await r.json().catch(() => null))?.message ?? `HTTP ${r.status}`;
    return;
  }
  const records = (await r.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  state.textContent = t("audit.found", { n: records.length, shown: Math.min(records.length, SHOWN) });
  for (const rec of records.slice(-SHOWN)) {
    const tr = el("tr");
    tr.append(
      el("td", when(rec.time)),
      el("td", rec.actor),
      el("td", rec.role),
      el("td", rec.action),
      el("td", rec.object),
      el("td", rec.purpose),
      el("td", rec.legal_basis),
      el("td", rec.case_ref ?? "—"),
      el("td", rec.outcome),
    );
    body.append(tr);
  }
}

let wired = false;

export function show() {
  if (wired) return;
  wired = true;
  document.getElementById("audit-form").addEventListener("submit", search);
}
