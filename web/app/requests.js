// Requests for full data: partners' requests for this agency's data, to approve or refuse
// before their deadline, and this agency's own requests to follow; and a request for a clip of
// a partner's camera (what arrives lands among the Video view's clips).
import { api } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";
import { askPurpose } from "./purpose.js";

function statusText(r) {
  const s = t(`request.status_${r.status}`);
  return r.overdue ? `${s} — ${t("request.overdue")}` : s;
}

function decisionCell(r, refresh) {
  const td = el("td");
  if (r.status !== "pending") {
    td.textContent = r.decided_by ? t("alert.acked_by", { by: r.decided_by }) : "—";
    return td;
  }
  const reasonId = `reason-${r.partner}-${r.id}`;
  const label = el("label", t("request.reason"), "sr-only");
  label.htmlFor = reasonId;
  const reason = el("input");
  reason.id = reasonId;
  const decide = async (approve) => {
    try {
      await api(`/requests/in/${encodeURIComponent(r.partner)}/${encodeURIComponent(r.id)}/decision`, {
        method: "POST",
        body: { approve, reason: reason.value.trim() || null },
      });
      await refresh();
    } catch (e) {
      td.append(el("span", ` ${e.message}`, "error"));
    }
  };
  const approve = el("button", t("request.approve"));
  approve.type = "button";
  approve.addEventListener("click", () => decide(true));
  const refuse = el("button", t("request.refuse"));
  refuse.type = "button";
  refuse.addEventListener("click", () => decide(false));
  td.append(label, reason, " ", approve, " ", refuse);
  return td;
}

/// What a request asks for: its category, and a clip's camera and span.
function what(r) {
  let s = t(`category.${r.category}`);
  if (r.clip) s += ` · ${r.clip.camera} · ${when(r.clip.from)} – ${when(r.clip.to)}`;
  return r.urgent ? `${s} · ${t("request.urgent")}` : s;
}

async function table(direction, selector, refresh) {
  const body = document.querySelector(`${selector} tbody`);
  body.replaceChildren();
  let rows = [];
  try {
    rows = await api(`/requests?direction=${direction}`);
  } catch (e) {
    const tr = el("tr");
    const td = el("td", e.message);
    td.colSpan = 7;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const r of rows) {
    const tr = el("tr");
    tr.dataset.id = r.id;
    if (r.overdue) tr.classList.add("urgent");
    tr.append(
      el("td", r.partner),
      el("td", what(r)),
      el("td", `${t(`purpose.${r.purpose}`)} · ${r.case_ref}`),
      el("td", r.justification),
      el("td", when(r.deadline)),
      el("td", statusText(r)),
    );
    tr.append(direction === "in" ? decisionCell(r, refresh) : el("td", r.decided_by ?? "—"));
    body.append(tr);
  }
}

/// The partners a clip can come from: those whose entry sends this node clips.
async function clipPartners() {
  const select = document.getElementById("cr-partner");
  let partners = [];
  try {
    partners = (await api("/partners")).filter((p) => !p.revoked && (p.receive ?? []).includes("clip"));
  } catch {
    // No federation, or the person may not list partners: the form stays empty.
  }
  const chosen = select.value;
  select.replaceChildren(
    ...partners.map((p) => {
      const o = el("option", t("agencies.partner", { name: p.name, agency: p.agency }));
      o.value = p.agency;
      return o;
    }),
  );
  if (partners.some((p) => p.agency === chosen)) select.value = chosen;
  document.getElementById("clip-request-form").hidden = partners.length === 0;
}

async function askForClip(ev) {
  ev.preventDefault();
  const f = ev.target;
  const state = document.getElementById("clip-request-state");
  const from = new Date(f.from.value);
  if (Number.isNaN(from.getTime())) {
    state.textContent = t("clip_request.bad_time");
    return;
  }
  const purpose = await askPurpose();
  if (!purpose) {
    state.textContent = t("search.cancelled");
    return;
  }
  const to = new Date(from.getTime() + Number(f.minutes.value) * 60000);
  try {
    const r = await api("/requests", {
      method: "POST",
      body: {
        partner: f.partner.value,
        category: "images",
        clip: { camera: f.camera.value.trim(), from: from.toISOString(), to: to.toISOString() },
        justification: f.justification.value.trim(),
        urgent: f.urgent.checked,
      },
      purpose,
    });
    state.textContent = t("query.requested", { deadline: when(r.deadline) });
    await show();
  } catch (e) {
    state.textContent = e.message;
  }
}

let wired = false;

export async function show() {
  if (!wired) {
    document.getElementById("clip-request-form").addEventListener("submit", askForClip);
    wired = true;
  }
  const refresh = () => show();
  await Promise.all([
    table("in", "#requests-in", refresh),
    table("out", "#requests-out", refresh),
    clipPartners(),
  ]);
}
