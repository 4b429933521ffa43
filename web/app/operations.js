// Joint operations: the workspace a few agencies share for a while. The list (running ones,
// or closed ones too), changed live (`GET /operations/stream`); opening one (its members
// from this agency's partners); one opened with its members, the operation's hotlist, the
// tasks, the documents, the hits of the members' cameras and the shared timeline; writing to
// it as `operations.manage` allows: a note, a task, a task done, a vehicle on or off the
// hotlist, and for the agency that opened it, a later end or the close.
import { ApiError, api, follow, headers, session } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";
import { fact, fileItem, itemPath, openCell, origin, table, titleCell } from "./parts.js";
import { me, picked, picker, receiving } from "./agencies.js";

export const REASONS = ["stolen", "wanted", "missing_person", "suspect", "other"];

/// The operations listed, by id.
const listed = new Map();
let showClosed = false;
let opened = null;
let current = null;
let controller = null;
let wired = false;

/// Whether the person may write to operations (`operations.manage` under the default policy:
/// analysts and supervisors, investigators under their case); the node decides in any case.
function mayManage() {
  return (session()?.roles ?? []).some((r) => r === "analyst" || r === "supervisor" || r === "investigator");
}

function visible() {
  return !document.getElementById("view-operations").hidden;
}

function path(id) {
  return itemPath("operations", id);
}

function agencyText(a) {
  return a === me() ? t("incidents.us", { agency: a }) : a;
}

function localInput(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function stateText(o) {
  if (o.closed) return t("operations.closed_at", { time: when(o.closed) });
  if (new Date(o.until) < new Date()) return t("operations.ended");
  if (new Date(o.from) > new Date()) return t("operations.not_started");
  return t("operations.running");
}

// ---- the list ----

function row(o, fresh = false) {
  const tr = el("tr");
  tr.dataset.id = o.id;
  if (fresh) tr.classList.add("fresh");
  const tasksOpen = o.tasks.filter((x) => !x.done).length;
  tr.append(
    titleCell(tr, o, o.name, "operation-name"),
    el("td", agencyText(origin(o.id))),
    el("td", o.members.join(", ")),
    el("td", `${when(o.from)} – ${when(o.until)}`),
    el("td", stateText(o), "op-state"),
    el("td", t("operations.tasks_open", { open: tasksOpen, all: o.tasks.length })),
    el("td", String(o.hits.length), "hits"),
    openCell("operations", o.id, t("operations.open_label", { name: o.name })),
  );
  return tr;
}

function byChange(a, b) {
  return b.updated.ms - a.updated.ms || b.updated.n - a.updated.n;
}

function render(fresh = null) {
  const list = [...listed.values()].sort(byChange);
  document.querySelector("#operations tbody").replaceChildren(...list.map((o) => row(o, o.id === fresh)));
  const none = document.getElementById("operations-none");
  none.hidden = list.length > 0;
  none.dataset.i18n = showClosed ? "operations.none_all" : "operations.none";
  none.textContent = t(none.dataset.i18n);
  const caption = document.getElementById("operations-caption");
  caption.dataset.i18n = showClosed ? "operations.caption_all" : "operations.caption";
  caption.textContent = t(caption.dataset.i18n);
}

/// One map per fetch under way: the operations the stream pushed meanwhile, which the answer
/// may predate (without them, an operation changing while the list loads would show its old state).
const loading = new Set();

async function load() {
  const late = new Map();
  loading.add(late);
  let found;
  try {
    found = await api(`/operations?limit=200&closed=${showClosed}`);
  } finally {
    loading.delete(late);
  }
  listed.clear();
  for (const o of found) listed.set(o.id, o);
  for (const o of late.values()) {
    const have = listed.get(o.id);
    if (!have || byChange(o, have) <= 0) keep(o);
  }
}

/// An operation's latest state in the list (a closed one leaves it unless closed ones are shown).
function keep(o) {
  if (o.closed && !showClosed) listed.delete(o.id);
  else listed.set(o.id, o);
}

// ---- live ----

function pushed(o) {
  for (const late of loading) late.set(o.id, o);
  keep(o);
  if (!visible()) return;
  render(o.id);
  if (opened === o.id) refresh().catch(() => {});
}

function startLive() {
  if (controller) return;
  controller = new AbortController();
  const state = document.getElementById("operations-state");
  follow(
    "/operations/stream",
    (type, data) => {
      if (type === "operation") pushed(JSON.parse(data));
      else if (type === "lagged" && visible()) load().then(() => render(), () => {});
    },
    controller.signal,
    (s) => {
      state.textContent = s === "live" ? t("operations.state_live") : t(`board.state_${s.replace("-", "_")}`);
    },
  );
}

export function stop() {
  controller?.abort();
  controller = null;
}

// ---- opening one ----

async function openOperation(ev) {
  ev.preventDefault();
  const f = ev.target;
  const field = (name) => f.elements[name];
  const state = document.getElementById("operation-open-state");
  const name = field("name").value.trim();
  if (!name) {
    state.textContent = t("operations.name_missing");
    field("name").focus();
    return;
  }
  if (!field("until").value) {
    state.textContent = t("operations.until_missing");
    field("until").focus();
    return;
  }
  const body = {
    name,
    description: field("description").value.trim(),
    until: new Date(field("until").value).toISOString(),
    members: picked(document.getElementById("op-members")),
    retention_days: Number.parseInt(field("retention_days").value, 10) || 0,
    exercise: field("exercise").checked,
  };
  try {
    const o = await api("/operations", { method: "POST", body });
    listed.set(o.id, o);
    render(o.id);
    state.textContent = t("operations.opened", { id: o.id });
    field("name").value = "";
    field("description").value = "";
    field("exercise").checked = false;
    location.hash = `#/operations/${o.id}`;
  } catch (e) {
    state.textContent = e.message;
  }
}

// ---- one operation ----

function heading(id, key, n) {
  const h = el("h3", n === undefined ? t(key) : t(key, { n }));
  h.id = `${id}-title`;
  return h;
}

/// A small button that writes one change to the opened operation.
function actButton(key, label, change, done) {
  const b = el("button", t(key), "small");
  b.type = "button";
  b.setAttribute("aria-label", label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    if (!(await act(change, done))) b.disabled = false;
  });
  return b;
}

function timelineText(e) {
  switch (e.change) {
    case "opened":
      return t("operation.opened_text", { name: e.name, until: when(e.until), members: (e.members ?? []).join(", ") });
    case "extended":
      return t("operation.until_text", { until: when(e.until) });
    case "note":
      return e.text;
    case "task":
      return e.assignee ? t("operation.task_for", { title: e.title, agency: e.assignee }) : e.title;
    case "task-done": {
      const task = current?.tasks.find((x) => x.task === e.task);
      return task ? task.title : e.task;
    }
    case "document":
      return `${e.name} (${e.media_type})`;
    case "entry":
      return `${e.plate}${e.country ? ` (${e.country})` : ""}: ${t(`reason.${e.reason}`)}${e.note ? ` — ${e.note}` : ""}`;
    case "entry-removed":
      return e.plate;
    case "hit":
      return t("operation.hit_text", { plate: e.plate, camera: e.camera, time: when(e.time) });
    default:
      return "";
  }
}

function fill(o) {
  current = o;
  const mine = origin(o.id) === me();
  const open = !o.closed;
  const manage = mayManage() && open;
  document.getElementById("operation-detail-title").textContent = o.name;
  document.getElementById("operation-exercise").hidden = !o.exercise;
  const facts = document.getElementById("operation-facts");
  facts.replaceChildren();
  fact(facts, "incident.id", o.id);
  fact(facts, "operations.col_origin", agencyText(origin(o.id)));
  fact(facts, "operations.col_runs", `${when(o.from)} – ${when(o.until)}`);
  fact(facts, "incidents.col_status", stateText(o));
  fact(facts, "operations.retention", t("operations.retention_days", { n: o.retention_days }));
  const description = document.getElementById("operation-description");
  description.textContent = o.description;
  description.hidden = !o.description;

  const parts = [];
  // Members.
  parts.push(heading("operation-members", "operations.members"));
  const members = el("ul", undefined, "members");
  members.id = "operation-members";
  members.setAttribute("aria-labelledby", "operation-members-title");
  for (const m of o.members) {
    const li = el("li", agencyText(m));
    li.dataset.agency = m;
    members.append(li);
  }
  parts.push(members);

  // The operation's hotlist.
  const entries = Object.entries(o.hotlist ?? {});
  parts.push(heading("operation-hotlist", "operation.hotlist"));
  if (entries.length) {
    const rows = entries.map(([plate, e]) => {
      const tr = el("tr");
      tr.dataset.plate = plate;
      const action = el("td");
      if (manage) {
        action.append(
          actButton("operation.remove", t("operation.remove_label", { plate }), { change: "entry-removed", plate }, t("operation.removed", { plate })),
        );
      }
      tr.append(el("td", plate, "plate"), el("td", e.country ?? "—"), el("td", t(`reason.${e.reason}`)), el("td", e.note || "—"), el("td", e.added_by), action);
      return tr;
    });
    parts.push(
      table("operation-hotlist", ["alert.plate", "hotlist.country", "alert.reason", "hotlist.note", "operation.added_by", "hotlist.action"], rows),
    );
  } else {
    parts.push(el("p", t("operation.no_entries"), "state"));
  }

  // Tasks.
  parts.push(heading("operation-tasks", "operation.tasks"));
  if (o.tasks.length) {
    const rows = o.tasks.map((x) => {
      const tr = el("tr");
      tr.dataset.task = x.task;
      if (x.done) tr.classList.add("done");
      const state = el("td", x.done ? t("operation.done_at", { time: when(x.done) }) : t("operation.open_task"), "task-state");
      const action = el("td");
      if (manage && !x.done) {
        action.append(
          actButton("operation.mark_done", t("operation.mark_done_label", { title: x.title }), { change: "task-done", task: x.task }, t("operation.marked_done", { title: x.title })),
        );
      }
      tr.append(el("td", x.title, "task-title"), el("td", x.assignee ? agencyText(x.assignee) : "—"), el("td", x.due ? when(x.due) : "—"), el("td", x.by), state, action);
      return tr;
    });
    parts.push(table("operation-tasks", ["operation.task", "operation.assignee", "operation.due", "operation.added_by", "incidents.col_status", "hotlist.action"], rows));
  } else {
    parts.push(el("p", t("operation.no_tasks"), "state"));
  }

  // Documents.
  parts.push(heading("operation-documents", "operation.documents"));
  if (o.documents.length) {
    const docs = el("ul", undefined, "files");
    docs.id = "operation-documents";
    docs.setAttribute("aria-labelledby", "operation-documents-title");
    const state = document.getElementById("operation-action-state");
    for (const d of o.documents) docs.append(fileItem(d, `${path(o.id)}/documents/${d.sha256}`, state));
    parts.push(docs);
  } else {
    parts.push(el("p", t("operation.no_documents"), "state"));
  }

  // Hits.
  parts.push(heading("operation-hits", "operation.hits"));
  if (o.hits.length) {
    const rows = [...o.hits].reverse().map((h) => {
      const tr = el("tr");
      tr.append(el("td", when(h.time)), el("td", h.plate, "plate"), el("td", h.camera), el("td", agencyText(h.agency)), el("td", t(`kind.${h.kind}`)));
      return tr;
    });
    parts.push(table("operation-hits", ["alert.time", "alert.plate", "alert.camera", "partners.agency", "alert.kind"], rows));
  } else {
    parts.push(el("p", t("operation.no_hits"), "state"));
  }

  // The shared timeline.
  parts.push(heading("operation-timeline", "incident.timeline"));
  const timeline = el("ol", undefined, "timeline");
  timeline.id = "operation-timeline";
  timeline.setAttribute("aria-labelledby", "operation-timeline-title");
  for (const e of o.timeline ?? []) {
    const li = el("li");
    li.dataset.change = e.change;
    if (!e.applied) li.classList.add("not-applied");
    const at = new Date(e.stamp.ms).toISOString();
    const time = el("time", when(at));
    time.dateTime = at;
    const writer = e.by ? t("incident.writer_by", { agency: e.stamp.agency, by: e.by }) : e.stamp.agency;
    li.append(time, " · ", el("span", writer, "writer"), " · ", el("strong", t(`op_change.${e.change}`)));
    const text = timelineText(e);
    if (text) li.append(": ", el("span", text, "text"));
    if (!e.applied) li.append(" ", el("em", t("incident.not_applied"), "not-applied-mark"));
    timeline.append(li);
  }
  parts.push(timeline);
  document.getElementById("operation-content").replaceChildren(...parts);

  document.getElementById("operation-forms").hidden = !manage;
  document.getElementById("operation-origin-forms").hidden = !(manage && mine);
  document.getElementById("operation-closed-note").hidden = open;
  const assignee = document.getElementById("op-task-assignee");
  const chosen = assignee.value;
  const none = el("option", t("operation.nobody"));
  none.value = "";
  assignee.replaceChildren(
    none,
    ...o.members.map((m) => {
      const opt = el("option", agencyText(m));
      opt.value = m;
      return opt;
    }),
  );
  if (o.members.includes(chosen)) assignee.value = chosen;
}

async function refresh() {
  fill(await api(path(opened)));
}

async function openOne(id) {
  const section = document.getElementById("operation-detail");
  opened = id;
  document.getElementById("operation-action-state").textContent = "";
  try {
    fill(await api(path(id)));
  } catch (e) {
    opened = null;
    section.hidden = true;
    document.getElementById("operations-state").textContent = t("operation.not_opened", { id, why: e.message });
    return;
  }
  section.hidden = false;
  document.getElementById("operation-detail-title").focus();
}

function close() {
  opened = null;
  current = null;
  document.getElementById("operation-detail").hidden = true;
  location.hash = "#/operations";
}

/// Writes `change` to the opened operation and shows it again.
async function act(change, done) {
  const state = document.getElementById("operation-action-state");
  try {
    await api(`${path(opened)}/events`, { method: "POST", body: change });
    await refresh();
    state.textContent = done;
    return true;
  } catch (e) {
    state.textContent = e.message;
    return false;
  }
}

/// Adds the chosen file to the opened operation as a document: its bytes go to the node, which
/// sends them to every other member.
async function addDocument(ev) {
  ev.preventDefault();
  const input = ev.target.elements.file;
  const file = input.files[0];
  if (!file) return missing(input, "operation.document_missing");
  const state = document.getElementById("operation-action-state");
  try {
    const url = `/api/v1${path(opened)}/documents?name=${encodeURIComponent(file.name)}`;
    const type = file.type || "application/octet-stream";
    const r = await fetch(url, { method: "POST", headers: headers({ "content-type": type }), body: file });
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    await refresh();
    state.textContent = t("operation.document_added", { name: file.name });
    input.value = "";
  } catch (e) {
    state.textContent = t("operation.document_failed", { name: file.name, why: e.message });
  }
}

/// A form's submit: `build` gives the change (or null, having said what is missing).
function onSubmit(id, build, done, reset) {
  document.getElementById(id).addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const change = build(ev.target);
    if (!change) return;
    if (await act(change, done(change))) reset(ev.target);
  });
}

function missing(input, key) {
  document.getElementById("operation-action-state").textContent = t(key);
  input.focus();
  return null;
}

function wire() {
  wired = true;
  document.getElementById("operations-closed").addEventListener("change", async (ev) => {
    showClosed = ev.target.checked;
    try {
      await load();
    } catch (e) {
      document.getElementById("operations-state").textContent = e.message;
    }
    render();
  });
  document.getElementById("operation-open").addEventListener("submit", openOperation);
  document.getElementById("operation-close").addEventListener("click", close);
  const reason = document.getElementById("op-entry-reason");
  for (const r of REASONS) {
    const o = el("option", t(`reason.${r}`));
    o.value = r;
    o.dataset.i18n = `reason.${r}`;
    reason.append(o);
  }
  reason.value = "suspect";
  document.getElementById("operation-document-form").addEventListener("submit", addDocument);
  onSubmit(
    "operation-note-form",
    (f) => {
      const text = f.elements.text.value.trim();
      return text ? { change: "note", text } : missing(f.elements.text, "operation.note_missing");
    },
    () => t("incident.note_added"),
    (f) => (f.elements.text.value = ""),
  );
  onSubmit(
    "operation-task-form",
    (f) => {
      const title = f.elements.title.value.trim();
      if (!title) return missing(f.elements.title, "operation.task_missing");
      const change = { change: "task", task: `${me()}-${Date.now().toString(36)}`, title };
      if (f.elements.assignee.value) change.assignee = f.elements.assignee.value;
      if (f.elements.due.value) change.due = new Date(f.elements.due.value).toISOString();
      return change;
    },
    (c) => t("operation.task_added", { title: c.title }),
    (f) => {
      f.elements.title.value = "";
      f.elements.due.value = "";
    },
  );
  onSubmit(
    "operation-entry-form",
    (f) => {
      const plate = f.elements.plate.value.trim();
      if (!plate) return missing(f.elements.plate, "operation.plate_missing");
      const change = { change: "entry", plate, reason: f.elements.reason.value, note: f.elements.note.value.trim() };
      const country = f.elements.country.value.trim().toUpperCase();
      if (country) change.country = country;
      return change;
    },
    (c) => t("operation.entry_added", { plate: c.plate }),
    (f) => {
      for (const n of ["plate", "country", "note"]) f.elements[n].value = "";
    },
  );
  onSubmit(
    "operation-extend-form",
    (f) => (f.elements.until.value ? { change: "extended", until: new Date(f.elements.until.value).toISOString() } : missing(f.elements.until, "operations.until_missing")),
    () => t("operation.extended"),
    () => {},
  );
  onSubmit(
    "operation-close-form",
    (f) => (f.elements.confirm.checked ? { change: "closed" } : missing(f.elements.confirm, "operation.close_confirm_missing")),
    () => t("operation.closed_done"),
    (f) => (f.elements.confirm.checked = false),
  );
  const until = new Date(Date.now() + 30 * 86400000);
  document.getElementById("op-until").value = localInput(until);
}

/// The view; `id` (origin/n) opens one operation.
export async function show(id = null) {
  if (!wired) wire();
  startLive();
  document.getElementById("operation-open").hidden = !mayManage();
  try {
    await load();
  } catch (e) {
    document.getElementById("operations-state").textContent = e.message;
  }
  render();
  const members = document.getElementById("op-members");
  if (!picked(members).length) picker(members, "op-members", await receiving("operation"));
  if (id) await openOne(id);
  else {
    opened = null;
    current = null;
    document.getElementById("operation-detail").hidden = true;
  }
}
