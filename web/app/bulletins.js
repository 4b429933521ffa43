// Intelligence bulletins: the inbox (partners' bulletins this person may open under the purpose
// declared) and the outbox (this agency's); issuing one under the EU 4×4 codes; one opened with
// its codes in plain words, its handling code as a banner (H2: never passed on, so no Forward),
// pseudonymised plates marked as such, who read it and what became of each copy; passing one
// on where its handling code allows. Opening one the handling code refuses for the purpose
// declared (403) says so. Both boxes are live (`GET /bulletins/stream`, followed from sign-in):
// a bulletin arriving, issued, passed on or read by a partner shows without showing the view
// again, a new one from a partner announced.
import { api, follow, session } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";
import { fact, itemPath, openCell, origin, table, titleCell } from "./parts.js";
import { me, picked, picker, receiving } from "./agencies.js";

export const SOURCES = ["A", "B", "C", "X"];
export const INFORMATION = ["1", "2", "3", "4"];
export const HANDLING = ["H0", "H1", "H2", "H3"];

let box = "in";
let wired = false;
let vehicles = 0;
let opened = null;
let controller = null;
/// The ids of the inbox's bulletins this page has shown or announced.
const seen = new Set();
/// One map per fetch of a box under way: the bulletins the stream pushed meanwhile, which the
/// answer may predate (without them, a bulletin arriving while the box loads would vanish).
const loading = new Set();

function path(id) {
  return itemPath("bulletins", id);
}

/// `code`: its meaning, as the option of a select and a line of an opened bulletin.
function coded(prefix, code) {
  return t("bulletin.coded", { code, meaning: t(`${prefix}.${code}`) });
}

function handlingBadge(code) {
  return el("span", code, `handling-badge handling-${code}`);
}

// ---- the boxes ----

function visible() {
  return !document.getElementById("view-bulletins").hidden;
}

/// A bulletin's row in its box; `fresh` marks one that just arrived or changed.
function row(b, fresh = false) {
  const tr = el("tr");
  tr.dataset.id = b.id;
  if (fresh) tr.classList.add("fresh");
  const issuer = origin(b.id);
  const from =
    b.received_from && b.received_from !== issuer ? t("bulletins.via", { agency: issuer, via: b.received_from }) : issuer;
  const handling = el("td");
  handling.append(handlingBadge(b.handling));
  tr.append(
    el("td", when(b.issued)),
    titleCell(tr, b, b.title, "bulletin-title"),
    el("td", from),
    el("td", `${b.source}${b.information}`),
    handling,
    openCell("bulletins", b.id, t("bulletins.open_label", { title: b.title })),
  );
  return tr;
}

async function list() {
  const body = document.querySelector("#bulletins tbody");
  const state = document.getElementById("bulletins-state");
  for (const b of document.querySelectorAll("#bulletin-box button")) {
    b.setAttribute("aria-pressed", String(b.dataset.box === box));
  }
  document.getElementById("bulletins-caption").textContent = t(box === "in" ? "bulletins.caption_in" : "bulletins.caption_out");
  document.getElementById("bulletins-caption").dataset.i18n = box === "in" ? "bulletins.caption_in" : "bulletins.caption_out";
  const shown = box;
  const late = new Map();
  loading.add(late);
  let found = [];
  try {
    found = await api(`/bulletins?box=${shown}&limit=200`);
    state.textContent = found.length ? "" : t(shown === "in" ? "bulletins.none_in" : "bulletins.none_out");
  } catch (e) {
    state.textContent = e.message;
  } finally {
    loading.delete(late);
  }
  if (shown !== box) return;
  if (shown === "in") for (const b of found) seen.add(b.id);
  const rows = found.map((b) => (late.has(b.id) ? row(late.get(b.id), true) : row(b)));
  const listedIds = new Set(found.map((b) => b.id));
  for (const b of late.values()) {
    if (!listedIds.has(b.id) && boxOf(b) === shown) rows.unshift(row(b, true));
  }
  if (rows.length) state.textContent = "";
  body.replaceChildren(...rows);
}

function boxOf(b) {
  return b.received_from ? "in" : "out";
}

// ---- live ----

/// A bulletin the stream pushed: its row in the box shown (new ones first), the one opened
/// shown again, a partner's new bulletin announced.
function pushed(b) {
  const which = boxOf(b);
  for (const late of loading) late.set(b.id, b);
  const body = document.querySelector("#bulletins tbody");
  const old = body.querySelector(`tr[data-id="${CSS.escape(b.id)}"]`);
  if (which === "in" && !seen.has(b.id)) {
    seen.add(b.id);
    document.getElementById("bulletins-announce").textContent = t("bulletins.announce", {
      agency: origin(b.id),
      title: b.title,
      handling: b.handling,
    });
  }
  if (!visible() || which !== box) return;
  if (old) old.replaceWith(row(b, true));
  else body.prepend(row(b, true));
  document.getElementById("bulletins-state").textContent = "";
  if (opened === b.id && !document.getElementById("bulletin-detail").hidden && !document.getElementById("bulletin-content").hidden) {
    fill(b);
  }
}

/// Follows the node's bulletins from sign-in on, whichever view is shown.
export function start() {
  stop();
  const state = document.getElementById("bulletins-live");
  controller = new AbortController();
  let lost = false;
  follow(
    "/bulletins/stream",
    (type, data) => {
      if (type === "bulletin") pushed(JSON.parse(data));
      else if (type === "lagged" && visible()) list();
    },
    controller.signal,
    (s) => {
      state.textContent = s === "live" ? t("bulletins.state_live") : t(`board.state_${s.replace("-", "_")}`);
      // What arrived while the connection was lost: the box again.
      if (s === "live" && lost && visible()) list();
      lost = s !== "live";
    },
  );
}

export function stop() {
  controller?.abort();
  controller = null;
}

// ---- issuing ----

function vehicleRow() {
  vehicles += 1;
  const n = vehicles;
  const line = el("div", undefined, "vehicle");
  line.dataset.n = String(n);
  const field = (name, key, attrs = {}) => {
    const input = el("input");
    input.id = `b-vehicle-${n}-${name}`;
    input.name = `vehicle_${name}`;
    input.autocomplete = "off";
    Object.assign(input, attrs);
    const label = el("label", t(key));
    label.dataset.i18n = key;
    label.htmlFor = input.id;
    const wrap = el("div", undefined, "field");
    wrap.append(label, input);
    return wrap;
  };
  const remove = el("button", t("bulletin.remove_vehicle"), "remove");
  remove.type = "button";
  remove.addEventListener("click", () => {
    const next = line.nextElementSibling ?? line.previousElementSibling;
    line.remove();
    (next?.querySelector("input") ?? document.getElementById("b-add-vehicle")).focus();
  });
  line.append(
    field("plate", "hotlist.plate"),
    field("country", "hotlist.country", { maxLength: 2 }),
    field("description", "bulletin.vehicle_description"),
    remove,
  );
  document.getElementById("b-vehicle-rows").append(line);
  line.querySelector("input").focus();
}

function restrictionsRequired() {
  const h3 = document.getElementById("b-handling").value === "H3";
  const r = document.getElementById("b-restrictions");
  r.required = h3;
  r.setAttribute("aria-required", String(h3));
}

/// The select options of the 4×4 codes, in the page's language (kept when it changes).
function codeOptions(id, codes, prefix) {
  const select = document.getElementById(id);
  const value = select.value;
  // Nothing chosen at first: the evaluation is the issuer's to make.
  const none = el("option", t("bulletin.choose"));
  none.value = "";
  select.replaceChildren(
    none,
    ...codes.map((c) => {
      const o = el("option", coded(prefix, c));
      o.value = c;
      return o;
    }),
  );
  select.value = value;
}

function localInput(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function copyStatus(status) {
  if (status === "queued") return t("bulletin.copy_queued");
  if (status === "not a partner receiving bulletins") return t("bulletin.copy_not_partner");
  if (status === "this node has no federation") return t("bulletin.copy_no_federation");
  if (status.startsWith("refused: ")) return t("bulletin.copy_refused", { why: status.slice(9) });
  return status;
}

async function issue(ev) {
  ev.preventDefault();
  const f = ev.target;
  const field = (name) => f.elements[name];
  const state = document.getElementById("bulletin-issue-state");
  for (const [name, key] of [
    ["title", "bulletin.title_missing"],
    ["summary", "bulletin.summary_missing"],
    ["from", "bulletin.from_missing"],
  ]) {
    if (!field(name).value.trim()) {
      state.textContent = t(key);
      field(name).focus();
      return;
    }
  }
  for (const name of ["source", "information", "handling"]) {
    if (!field(name).value) {
      state.textContent = t("bulletin.codes_missing");
      field(name).focus();
      return;
    }
  }
  if (field("handling").value === "H3" && !field("restrictions").value.trim()) {
    state.textContent = t("bulletin.restrictions_missing");
    field("restrictions").focus();
    return;
  }
  const body = {
    title: field("title").value.trim(),
    summary: field("summary").value.trim(),
    place: field("place").value.trim(),
    from: new Date(field("from").value).toISOString(),
    modus_operandi: field("modus_operandi").value.trim(),
    vehicles: [...document.querySelectorAll("#b-vehicle-rows .vehicle")]
      .map((line) => ({
        plate: line.querySelector('[name="vehicle_plate"]').value.trim(),
        country: line.querySelector('[name="vehicle_country"]').value.trim().toUpperCase() || undefined,
        description: line.querySelector('[name="vehicle_description"]').value.trim(),
      }))
      .filter((v) => v.plate),
    source: field("source").value,
    information: field("information").value,
    handling: field("handling").value,
    restrictions: field("restrictions").value.trim(),
    distribution: picked(document.getElementById("b-distribution")),
    exercise: field("exercise").checked,
  };
  if (field("until").value) body.until = new Date(field("until").value).toISOString();
  try {
    const b = await api("/bulletins", { method: "POST", body });
    const copies = (b.copies ?? []).map((c) => `${c.agency}: ${copyStatus(c.status)}`).join("; ");
    state.textContent = t("bulletins.issued", { id: b.id }) + (copies ? ` ${copies}` : "");
    for (const name of ["title", "summary", "place", "modus_operandi", "restrictions", "until"]) field(name).value = "";
    field("exercise").checked = false;
    document.getElementById("b-vehicle-rows").replaceChildren();
    for (const c of document.querySelectorAll("#b-distribution input")) {
      if (c.type === "checkbox") c.checked = false;
      else c.value = "";
    }
    box = "out";
    location.hash = `#/bulletins/${b.id}`;
  } catch (e) {
    state.textContent = e.message;
  }
}

// ---- one bulletin ----

function vehiclesTable(b) {
  const rows = b.vehicles.map((v) => {
    const tr = el("tr");
    const plate = el("td", undefined, "plate");
    plate.append(el("span", v.plate));
    if (v.pseudonymised) {
      tr.classList.add("pseudonymised");
      plate.append(" ", el("span", t("bulletin.pseudonym"), "pseudonym-mark"));
    }
    tr.append(plate, el("td", v.country ?? "—"), el("td", v.description || "—"));
    return tr;
  });
  const heads = ["alert.plate", "hotlist.country", "bulletin.vehicle_description"];
  return table("bulletin-vehicles", heads, rows, "bulletin.vehicles");
}

function copiesTable(b) {
  const rows = b.copies.map((c) => {
    const tr = el("tr");
    tr.dataset.agency = c.agency;
    tr.append(el("td", c.agency), el("td", copyStatus(c.status)), el("td", when(c.at)));
    return tr;
  });
  return table("bulletin-copies", ["partners.agency", "bulletin.copy_status", "alert.time"], rows, "bulletin.copies");
}

function fill(b) {
  const mine = origin(b.id) === me();
  document.getElementById("bulletin-detail-title").textContent = b.title;
  document.getElementById("bulletin-exercise").hidden = !b.exercise;
  document.getElementById("bulletin-denied").hidden = true;
  const banner = document.getElementById("bulletin-handling");
  banner.hidden = false;
  banner.className = `handling-banner handling-${b.handling}`;
  banner.dataset.handling = b.handling;
  banner.replaceChildren(el("strong", coded("bulletin_handling", b.handling)));
  if (b.handling === "H3" && b.restrictions) banner.append(el("span", `: ${b.restrictions}`, "restrictions"));

  const content = document.getElementById("bulletin-content");
  content.hidden = false;
  const facts = el("dl", undefined, "facts");
  fact(facts, "bulletin.id", b.id);
  fact(facts, "bulletins.col_issuer", mine ? t("incidents.us", { agency: origin(b.id) }) : origin(b.id));
  if (b.received_from) fact(facts, "bulletin.received_from", b.received_from);
  if (b.forwarded_by) fact(facts, "bulletin.forwarded_by", b.forwarded_by);
  fact(facts, "bulletins.col_issued", when(b.issued));
  fact(facts, "bulletin.when", b.until ? `${when(b.from)} – ${when(b.until)}` : when(b.from));
  if (b.place) fact(facts, "bulletin.place", b.place);
  fact(facts, "bulletin.source", coded("bulletin_source", b.source));
  fact(facts, "bulletin.information", coded("bulletin_information", b.information));
  if (b.distribution?.length) fact(facts, "bulletin.distribution", b.distribution.join(", "));
  const parts = [facts, el("h3", t("bulletin.summary")), el("p", b.summary, "text")];
  if (b.modus_operandi) parts.push(el("h3", t("bulletin.modus_operandi")), el("p", b.modus_operandi, "text"));
  if (b.vehicles?.length) {
    parts.push(el("h3", t("bulletin.vehicles")), vehiclesTable(b));
    if (b.vehicles.some((v) => v.pseudonymised)) parts.push(el("p", t("bulletin.pseudonym_note"), "note"));
  }
  parts.push(el("h3", t(mine ? "bulletin.reads_partners" : "bulletin.reads_here")));
  const reads = el("ul", undefined, "reads");
  reads.id = "bulletin-reads";
  for (const r of b.reads ?? []) {
    const text = r.reader
      ? t("bulletin.read_by", { reader: r.reader, agency: r.agency, time: when(r.read) })
      : t("bulletin.read_at", { agency: r.agency, time: when(r.read) });
    const li = el("li", text);
    li.dataset.agency = r.agency;
    reads.append(li);
  }
  if (!b.reads?.length) reads.append(el("li", t("bulletin.no_reads")));
  parts.push(reads);
  if (b.copies?.length) parts.push(el("h3", t("bulletin.copies")), copiesTable(b));
  content.replaceChildren(...parts);

  // H2: never passed on by anyone but its issuer; no Forward.
  const forwardable = mine || b.handling !== "H2";
  const form = document.getElementById("bulletin-forward");
  form.hidden = !forwardable;
  document.getElementById("bulletin-no-forward").hidden = forwardable;
  document.getElementById("bf-consent-field").hidden = mine;
}

async function open(id) {
  const section = document.getElementById("bulletin-detail");
  const state = document.getElementById("bulletin-state");
  opened = id;
  state.textContent = "";
  section.hidden = false;
  try {
    fill(await api(path(id)));
    const partners = await receiving("bulletin");
    picker(document.getElementById("bf-to"), "bf-to", partners, [origin(id), me()]);
  } catch (e) {
    // Refused (403): the handling code or the agreement does not allow it for this purpose.
    document.getElementById("bulletin-detail-title").textContent = t("bulletin.not_opened", { id });
    document.getElementById("bulletin-exercise").hidden = true;
    document.getElementById("bulletin-handling").hidden = true;
    document.getElementById("bulletin-content").hidden = true;
    document.getElementById("bulletin-forward").hidden = true;
    document.getElementById("bulletin-no-forward").hidden = true;
    const denied = document.getElementById("bulletin-denied");
    const p = session()?.purpose?.purpose;
    const purpose = p ? t(`purpose.${p}`) : t("purpose.none_declared");
    denied.replaceChildren(
      el("strong", e.status === 403 ? t("bulletin.forbidden", { purpose }) : t("bulletin.not_found")),
      el("span", ` ${t("bulletin.node_says", { why: e.message })}`),
    );
    denied.hidden = false;
  }
  document.getElementById("bulletin-detail-title").focus();
}

async function forward(ev) {
  ev.preventDefault();
  const state = document.getElementById("bulletin-state");
  const to = picked(document.getElementById("bf-to"));
  if (!to.length) {
    state.textContent = t("bulletin.forward_to_missing");
    return;
  }
  const body = { to };
  const consent = document.getElementById("bf-consent").value.trim();
  if (consent) body.consent = consent;
  try {
    const b = await api(`${path(opened)}/forward`, { method: "POST", body });
    fill(b);
    const copies = (b.copies ?? [])
      .filter((c) => to.includes(c.agency))
      .map((c) => `${c.agency}: ${copyStatus(c.status)}`)
      .join("; ");
    state.textContent = t("bulletin.forwarded", { copies: copies || to.join(", ") });
  } catch (e) {
    state.textContent = e.message;
  }
}

function close() {
  opened = null;
  document.getElementById("bulletin-detail").hidden = true;
  location.hash = "#/bulletins";
}

function wire() {
  wired = true;
  for (const b of document.querySelectorAll("#bulletin-box button")) {
    b.addEventListener("click", () => {
      box = b.dataset.box;
      if (location.hash === "#/bulletins") list();
      else location.hash = "#/bulletins";
    });
  }
  document.getElementById("bulletin-issue").addEventListener("submit", issue);
  document.getElementById("b-add-vehicle").addEventListener("click", vehicleRow);
  document.getElementById("b-handling").addEventListener("change", restrictionsRequired);
  document.getElementById("bulletin-forward").addEventListener("submit", forward);
  document.getElementById("bulletin-close").addEventListener("click", close);
  document.getElementById("b-from").value = localInput(new Date());
}

/// The view; `id` (origin/n) opens one bulletin.
export async function show(id = null) {
  if (!wired) wire();
  codeOptions("b-source", SOURCES, "bulletin_source");
  codeOptions("b-information", INFORMATION, "bulletin_information");
  codeOptions("b-handling", HANDLING, "bulletin_handling");
  restrictionsRequired();
  const distribution = document.getElementById("b-distribution");
  if (!picked(distribution).length) picker(distribution, "b-distribution", await receiving("bulletin"));
  if (id) {
    // A bulletin of the other box opened by its address shows that box.
    box = origin(id) === me() ? "out" : "in";
  }
  await list();
  if (id) await open(id);
  else {
    opened = null;
    document.getElementById("bulletin-detail").hidden = true;
  }
}
