// The pieces the views of shared items (incidents, bulletins, operations, alerts, the hotlist,
// patrols) build their rows and pages from, so that each looks and reads the same everywhere.
import { t } from "./i18n.js";
import { el } from "./dom.js";

/// The EXERCISE mark on what a drill wrote (`limes exercise run`), so that an exercise is never
/// taken for real data.
export function exerciseMark() {
  return el("span", t("incidents.exercise"), "exercise-mark");
}

/// A table cell holding `content`, marked when `exercise`; its row gets the exercise line too.
export function markedCell(tr, exercise, className, ...content) {
  const td = el("td", undefined, className);
  if (exercise) {
    tr.classList.add("exercise");
    td.append(exerciseMark(), " ");
  }
  td.append(...content);
  return td;
}

/// The first cell of a shared item's row: the mark on a drill's, its title and its id.
export function titleCell(tr, item, title, className) {
  return markedCell(tr, item.exercise, undefined, el("span", title, className), " ", el("span", item.id, "muted"));
}

/// A cell with the button that opens an item (`#/{view}/{id}`).
export function openCell(view, id, label) {
  const open = el("button", t("incidents.open"), "open");
  open.type = "button";
  open.setAttribute("aria-label", label);
  open.addEventListener("click", () => {
    location.hash = `#/${view}/${id}`;
  });
  const td = el("td");
  td.append(open);
  return td;
}

/// The agency of a shared id (`agency/n`).
export function origin(id) {
  return id.slice(0, id.lastIndexOf("/"));
}

/// The API path of a shared item: `/{collection}/{agency}/{n}`.
export function itemPath(collection, id) {
  const at = id.lastIndexOf("/");
  return `/${collection}/${encodeURIComponent(id.slice(0, at))}/${encodeURIComponent(id.slice(at + 1))}`;
}

/// A term and its value (text or an element) in a description list.
export function fact(dl, key, value) {
  dl.append(el("dt", t(key)));
  const dd = el("dd");
  if (typeof value === "string") dd.textContent = value;
  else dd.append(value);
  dl.append(dd);
}

/// A table of `rows` under column heads (message keys), named by its visible heading
/// (`{id}-title`) or, given `caption` (a message key), by a caption for screen readers.
export function table(id, heads, rows, caption) {
  const wrap = el("div", undefined, "table-wrap");
  const tbl = el("table");
  tbl.id = id;
  if (caption) tbl.append(el("caption", t(caption), "sr-only"));
  else tbl.setAttribute("aria-labelledby", `${id}-title`);
  const head = el("thead");
  const hr = el("tr");
  for (const key of heads) {
    const th = el("th", t(key));
    th.scope = "col";
    hr.append(th);
  }
  head.append(hr);
  const body = el("tbody");
  body.append(...rows);
  tbl.append(head, body);
  wrap.append(tbl);
  return wrap;
}
