// The pieces the views of shared items (incidents, bulletins, operations, alerts, the hotlist,
// patrols) build their rows and pages from, so that each looks and reads the same everywhere.
import { t } from "./i18n.js";
import { el } from "./dom.js";
import { ApiError, headers } from "./api.js";

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

/// A size in bytes as the locale writes it (kB, MB).
export function size(bytes) {
  const f = (n, unit) => `${new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 1 }).format(n)} ${unit}`;
  if (bytes < 1000) return f(bytes, "B");
  if (bytes < 1e6) return f(bytes / 1000, "kB");
  return f(bytes / 1e6, "MB");
}

/// A file of a shared item (an incident's attachment, an operation's document) as a list item:
/// its name, type and size, and a button that downloads it from `url` (an API path), saying
/// how that went in `state`.
export function fileItem(file, url, state) {
  const li = el("li");
  li.dataset.sha256 = file.sha256;
  const get = el("button", t("incident.download"), "download");
  get.type = "button";
  get.setAttribute("aria-label", t("incident.download_label", { name: file.name }));
  get.addEventListener("click", () => download(url, file.name, state));
  const facts = el("span", t("incident.file_facts", { type: file.media_type, size: size(file.bytes) }), "muted");
  li.append(el("span", file.name, "file-name"), " ", facts, " ");
  if (file.anonymised) {
    li.append(el("span", t("incident.file_anonymised", { faces: file.anonymised.faces, plates: file.anonymised.plates }), "muted"), " ");
  }
  li.append(get);
  return li;
}

/// Downloads a file: fetched with the session (a plain link would carry none), then saved
/// under its name.
async function download(url, name, state) {
  try {
    const r = await fetch(`/api/v1${url}`, { headers: headers() });
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    const blob = URL.createObjectURL(await r.blob());
    const link = el("a");
    link.href = blob;
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(blob), 10000);
    state.textContent = t("incident.downloaded", { name });
  } catch (e) {
    state.textContent = t("incident.download_failed", { name, why: e.message });
  }
}
