// The agencies a view can address: the partners this node sends a message type to (notifying
// of an incident, distributing or passing on a bulletin), and any other agency by its id.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { el } from "./dom.js";

/// This node's agency, as `GET /node` named it when the page started.
export function me() {
  return document.getElementById("who").dataset.agency ?? "";
}

/// The partners (not revoked) whose entry lists `type` among what this node sends them; none
/// when the node has no federation or the person may not list partners.
export async function receiving(type) {
  try {
    return (await api("/partners")).filter((p) => !p.revoked && (p.send ?? []).includes(type));
  } catch {
    return [];
  }
}

/// Fills `box` (a fieldset with its legend) with a checkbox per partner (`exclude` left out)
/// and an input for other agencies' ids; ids of its controls start with `prefix`.
export function picker(box, prefix, partners, exclude = []) {
  const legend = box.querySelector("legend");
  box.replaceChildren(legend);
  const shown = partners.filter((p) => !exclude.includes(p.agency));
  if (!shown.length) {
    const none = el("p", t("agencies.no_partners"), "state");
    none.dataset.i18n = "agencies.no_partners";
    box.append(none);
  }
  for (const p of shown) {
    const input = el("input");
    input.type = "checkbox";
    input.name = "agency";
    input.value = p.agency;
    input.id = `${prefix}-${p.agency}`;
    const label = el("label", t("agencies.partner", { name: p.name, agency: p.agency }));
    label.htmlFor = input.id;
    const line = el("div", undefined, "check");
    line.append(input, label);
    box.append(line);
  }
  const others = el("input");
  others.id = `${prefix}-others`;
  others.name = "others";
  others.autocomplete = "off";
  const label = el("label", t("agencies.others"));
  label.dataset.i18n = "agencies.others";
  label.htmlFor = others.id;
  box.append(label, others);
}

/// The agencies chosen in a box `picker` filled: the partners ticked and the ids typed.
export function picked(box) {
  const ticked = [...box.querySelectorAll('input[name="agency"]:checked')].map((i) => i.value);
  const typed = (box.querySelector('input[name="others"]')?.value ?? "")
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  return [...new Set([...ticked, ...typed])];
}
