// Hit/no-hit: ask partners whether they saw a plate without them learning which, then request
// the reads behind a hit from its owner.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { askPurpose } from "./purpose.js";
import { el } from "./dom.js";

async function ask(ev) {
  ev.preventDefault();
  const f = ev.target;
  const state = document.getElementById("query-state");
  const list = document.getElementById("query-answers");
  list.replaceChildren();
  const purpose = await askPurpose();
  if (!purpose) {
    state.textContent = t("search.cancelled");
    return;
  }
  try {
    const body = { plate: f.plate.value.trim() };
    if (f.country.value.trim()) body.country = f.country.value.trim().toUpperCase();
    const answers = await api("/queries/plates", { method: "POST", body, purpose });
    state.textContent = answers.length ? "" : t("query.nobody");
    for (const a of answers) {
      const li = el("li");
      if (a.error) {
        li.textContent = `${a.partner}: ${a.error}`;
      } else if (!a.hit) {
        li.textContent = t("query.no_hit", { partner: a.partner });
      } else {
        li.append(el("span", t("query.hit", { partner: a.partner })));
        const reference = a.exact_reference ?? a.folded_references[0];
        const why = el("input");
        why.id = `why-${a.partner}`;
        const label = el("label", t("query.justification"));
        label.htmlFor = why.id;
        const request = el("button", t("query.request"));
        request.type = "button";
        request.addEventListener("click", async () => {
          try {
            const r = await api("/requests", {
              method: "POST",
              body: { partner: a.partner, reference, justification: why.value.trim() },
              purpose,
            });
            li.append(el("span", ` ${t("query.requested", { deadline: r.deadline })}`));
            request.disabled = true;
          } catch (e) {
            li.append(el("span", ` ${e.message}`, "error"));
          }
        });
        li.append(" ", label, " ", why, " ", request);
      }
      list.append(li);
    }
  } catch (e) {
    state.textContent = e.message;
  }
}

let wired = false;

export function show() {
  if (wired) return;
  wired = true;
  document.getElementById("query-form").addEventListener("submit", ask);
}
