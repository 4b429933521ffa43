// Partners and agreements: who this node shares what with, in the agreement's own plain
// words, and the state of each link (queue, last delivery, last error).
import { api } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";

export async function show() {
  const state = document.getElementById("partners-state");
  const body = document.querySelector("#partners tbody");
  const list = document.getElementById("agreements");
  body.replaceChildren();
  list.replaceChildren();
  state.textContent = "";
  let partners = [];
  try {
    partners = await api("/partners");
  } catch (e) {
    state.textContent = e.status === 404 ? t("partners.none") : e.message;
    return;
  }
  if (!partners.length) state.textContent = t("partners.none");
  for (const p of partners) {
    const tr = el("tr");
    const h = p.health ?? {};
    tr.append(
      el("td", `${p.name} (${p.agency})`),
      el("td", p.country),
      el("td", p.revoked ? t("partners.revoked") : h.last_error ? t("partners.failing") : t("partners.ok")),
      el("td", String(h.queued ?? 0)),
      el("td", h.last_success ? when(h.last_success) : "—"),
      el("td", h.last_error ?? "—"),
    );
    body.append(tr);
  }
  try {
    for (const a of await api("/agreements")) {
      const item = el("li", undefined, "card");
      const status = a.in_force ? t("agreements.in_force") : a.ended ? t("agreements.ended") : t("agreements.not_yet");
      item.append(
        el("h2", `${a.title} — ${a.id}`),
        el("p", `${t("agreements.partner")}: ${a.partner} · ${status} · ${a.valid_from} – ${a.valid_until}`),
        el("pre", a.explanation, "explanation"),
      );
      list.append(item);
    }
  } catch (e) {
    list.append(el("li", e.message));
  }
}
