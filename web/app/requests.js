// Requests for full data: partners' requests for this agency's data, to approve or refuse
// before their deadline, and this agency's own requests to follow.
import { api } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";

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
      el("td", `${t(`category.${r.category}`)}${r.urgent ? ` · ${t("request.urgent")}` : ""}`),
      el("td", `${t(`purpose.${r.purpose}`)} · ${r.case_ref}`),
      el("td", r.justification),
      el("td", when(r.deadline)),
      el("td", statusText(r)),
    );
    tr.append(direction === "in" ? decisionCell(r, refresh) : el("td", r.decided_by ?? "—"));
    body.append(tr);
  }
}

export async function show() {
  const refresh = () => show();
  await Promise.all([table("in", "#requests-in", refresh), table("out", "#requests-out", refresh)]);
}
