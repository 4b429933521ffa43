// The operations-centre page in a real browser: Debian's Chromium, headless, driven by
// playwright-core, against a running limes node. crates/cli/tests/ui.rs starts the node and
// runs this script; it exits non-zero with the reason on the first failure.
//
// Environment: LIMES_URL (the node), LIMES_USER / LIMES_PASSWORD (a person with the operator
// and analyst roles), LIMES_TOKEN (an integration token that may post reads), LIMES_CAMERA and
// LIMES_PLATE (a registered camera and a hotlisted plate), LIMES_LEGAL_BASIS,
// CHROMIUM (default /usr/bin/chromium), LIMES_SCREENSHOTS (a directory to write the main
// views to, optional), LIMES_UI_REPORT (a file for the figures measured, optional).
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const url = env("LIMES_URL");
const shots = process.env.LIMES_SCREENSHOTS;
const locales = ["en", "ro", "uk", "sr-Cyrl", "sr-Latn", "cs", "pl"];
const texts = Object.fromEntries(
  locales.map((l) => [l, JSON.parse(readFileSync(join(here, "..", "i18n", `${l}.json`), "utf8"))]),
);
const report = {};

function check(ok, what) {
  if (!ok) throw new Error(what);
}

async function axe(page, view) {
  for (const theme of ["light", "dark"]) {
    await page.evaluate((t) => {
      if (document.documentElement.dataset.theme !== t) document.getElementById("theme").click();
    }, theme);
    const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]).analyze();
    if (result.violations.length) {
      const lines = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
      throw new Error(`axe-core found ${result.violations.length} violations on ${view} in the ${theme} theme:\n${lines.join("\n")}`);
    }
    if (shots) {
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, `${view}-${theme}.png`), fullPage: false });
    }
  }
  report[`axe_${view}`] = "0 violations (light, dark)";
}

async function postRead(plate, extra = {}) {
  const body = {
    ...extra,
    camera: env("LIMES_CAMERA"),
    time: new Date().toISOString(),
    plate,
    country: "RO",
    confidence: 0.95,
    direction: "leaving",
  };
  const r = await fetch(`${url}/api/v1/reads`, {
    method: "POST",
    headers: { authorization: `Bearer ${env("LIMES_TOKEN")}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  check(r.ok, `posting a read: ${r.status} ${await r.text()}`);
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
});
let failed = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const external = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(url)) external.push(r.url());
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // The sign-in page, keyboard first: the skip link is the first stop.
  await page.goto(`${url}/`);
  await page.waitForSelector("#signin");
  await page.keyboard.press("Tab");
  check((await page.evaluate(() => document.activeElement?.className)) === "skip", "the skip link is the first Tab stop");
  await axe(page, "signin");

  // Every locale: the sign-in page's title and the language attribute follow.
  for (const l of locales) {
    await page.selectOption("#locale", l);
    await page.waitForFunction((want) => document.querySelector("#signin-title").textContent === want, texts[l]["signin.title"]);
    check((await page.getAttribute("html", "lang")) === l, `lang is ${l}`);
  }
  await page.selectOption("#locale", "en");

  // Sign in with a declared purpose.
  await page.fill("#user", env("LIMES_USER"));
  await page.fill("#password", env("LIMES_PASSWORD"));
  await page.selectOption("#purpose", "investigation");
  await page.fill("#legal_basis", env("LIMES_LEGAL_BASIS"));
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#view-board:not([hidden])", { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById("board-state").textContent.length > 0, null, { timeout: 10000 });

  // A read of a hotlisted plate: its alert appears on the board within 10 s.
  const plate = env("LIMES_PLATE");
  const posted = Date.now();
  await postRead(plate);
  const row = `#alerts tbody tr[data-plate="${plate}"]`;
  await page.waitForSelector(row, { timeout: 10000 });
  report.read_to_screen_ms = Date.now() - posted;
  check((await page.textContent("#announce")).includes(plate), "the new alert is announced to screen readers");
  check(await page.$eval(row, (tr) => tr.classList.contains("fresh")), "a new alert is marked");
  await axe(page, "board");

  // The board in another language: the reason is translated.
  await page.selectOption("#locale", "uk");
  await page.waitForFunction((want) => document.querySelector("#board-title").textContent === want, texts.uk["board.title"]);
  await page.selectOption("#locale", "en");

  // Acknowledge it, with the keyboard.
  await page.focus(`${row} button.ack`);
  await page.keyboard.press("Enter");
  await page.waitForFunction((sel) => !document.querySelector(`${sel} button.ack`), row, { timeout: 10000 });
  check((await page.textContent(`${row} td:last-child`)).startsWith("by "), "the acknowledgement is shown");

  // A drill's vehicle: an exercise entry and an exercise read of its plate raise an alert the
  // board marks EXERCISE; the hotlist marks the entry too.
  const drill = await fetch(`${url}/api/v1/hotlist`, {
    method: "POST",
    headers: { authorization: `Bearer ${env("LIMES_TOKEN")}`, "content-type": "application/json" },
    body: JSON.stringify([{ plate: "SV 66 EXR", country: "RO", reason: "stolen", agency: "ro-igpf", exercise: true }]),
  });
  check(drill.ok, `adding the drill's entry: ${drill.status} ${await drill.text()}`);
  await postRead("SV66EXR", { exercise: true });
  const drillRow = '#alerts tbody tr[data-plate="SV66EXR"]';
  await page.waitForSelector(`${drillRow}.exercise .exercise-mark`, { timeout: 10000 });
  check((await page.textContent(`${drillRow} td.plate`)).startsWith(texts.en["incidents.exercise"]), "the drill's alert reads EXERCISE first");
  check(!(await page.$eval(row, (tr) => tr.classList.contains("exercise"))), "the real alert is not marked");
  await axe(page, "board_exercise");

  // Search: no result before the purpose dialog; cancelled, nothing is searched; declared,
  // the reads come with the vehicle's timeline and route.
  await postRead(plate);
  await page.click('#nav a[data-view="search"]');
  await page.fill("#s-plate", plate);
  await page.click("#search-form button[type=submit]");
  await page.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
  check((await page.$$("#reads tbody tr")).length === 0, "no result before the purpose is declared");
  await page.click("#purpose-dialog button.cancel");
  await page.waitForFunction(() => !document.querySelector("#purpose-dialog[open]"));
  check((await page.textContent("#search-state")) === texts.en["search.cancelled"], "a cancelled dialog searches nothing");
  await page.click("#search-form button[type=submit]");
  await page.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
  await page.selectOption("#pd-purpose", "investigation");
  await page.fill("#pd-case", "UI-2026/1");
  await page.click('#purpose-dialog button[type="submit"]');
  await page.waitForFunction((p) => document.querySelectorAll(`#reads tbody tr[data-plate="${p}"]`).length === 2, plate, { timeout: 10000 });
  check((await page.$$("#timeline li")).length === 2, "the vehicle's two sightings are on its timeline");
  await page.waitForSelector("#route-map path.alert-marker", { timeout: 10000 });
  await axe(page, "search");

  // The map: the basemap, the border, the camera and the alert.
  await page.click('#nav a[data-view="map"]');
  // Countries out of view are culled by Leaflet (drawn as "M0 0"): some must be drawn in it.
  await page.waitForFunction(
    () => [...document.querySelectorAll("#map path.country")].filter((p) => p.getAttribute("d") !== "M0 0").length >= 2,
    null,
    { timeout: 10000 },
  );
  check((await page.$$("#map path.country")).length >= 10, "the countries are on the map");
  check((await page.$$("#map path.border")).length >= 1, "the border is drawn");
  await page.waitForSelector("#map path.camera-marker", { timeout: 10000 });
  await page.waitForSelector("#map path.alert-marker", { timeout: 10000 });
  // Rivers (Natural Earth) and towns (GeoNames) around the camera at Siret, each town's name a
  // label the person can read: the larger first, the smaller as the map zooms in.
  await page.waitForFunction(
    () => [...document.querySelectorAll("#map path.river")].filter((p) => p.getAttribute("d") !== "M0 0").length >= 1,
    null,
    { timeout: 10000 },
  );
  await page.waitForSelector('#map .town[data-town="Chernivtsi"] .town-name', { timeout: 10000 });
  check(await page.isVisible('#map .town[data-town="Chernivtsi"] .town-name'), "a town's name is visible");
  const town = (name) => page.waitForSelector(`#map .town[data-town="${name}"] .town-name`, { timeout: 10000 });
  await page.click("#map .leaflet-control-zoom-in");
  await town("Suceava");
  await page.click("#map .leaflet-control-zoom-out");
  await page.click("#map .leaflet-control-zoom-out");
  await town("Timişoara");
  // Each a layer of its own, switched off and on in the map's layer control.
  const layer = (key) => `#map .leaflet-control-layers label:has([data-i18n="${key}"]) input`;
  await page.click(layer("map.towns"));
  await page.waitForFunction(() => document.querySelectorAll("#map .town").length === 0, null, { timeout: 10000 });
  await page.click(layer("map.rivers"));
  await page.waitForFunction(() => document.querySelectorAll("#map path.river").length === 0, null, { timeout: 10000 });
  await page.click(layer("map.towns"));
  await page.click(layer("map.rivers"));
  await town("Timişoara");
  await page.waitForSelector("#map path.river", { timeout: 10000 });
  await page.click("#map .leaflet-control-zoom-in");
  await town("Chernivtsi");
  // The labels follow the language: the layer control and the attribution are translated.
  await page.selectOption("#locale", "pl");
  await page.waitForFunction((want) => document.querySelector('#map .leaflet-control-layers [data-i18n="map.towns"]').textContent === want, texts.pl["map.towns"]);
  check((await page.textContent("#map .leaflet-control-attribution")).includes("GeoNames"), "the towns' source is named");
  await page.selectOption("#locale", "en");
  await axe(page, "map");

  // Incidents: raise one by keyboard (a point typed), then an exercise drawn on the map corner by
  // corner; both on the board and the map, coloured by severity; open one, add a note and move
  // its status on, by keyboard.
  await page.click('#nav a[data-view="incidents"]');
  await page.waitForSelector("#view-incidents:not([hidden])", { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById("incidents-state").textContent === "Live: incidents change here as the agencies involved write to them.", null, { timeout: 10000 });
  check(await page.isVisible("#incidents-empty"), "the board says it has no open incident");
  await page.selectOption("#inc-type", "crossing-closed");
  await page.selectOption("#inc-severity", "critical");
  await page.focus("#inc-title");
  await page.keyboard.type("Siret crossing closed to lorries");
  await page.focus("#inc-lat");
  await page.keyboard.type("47.955");
  await page.keyboard.press("Tab");
  await page.keyboard.type("26.065");
  check((await page.textContent("#inc-area-state")).startsWith("Point at 47.95500, 26.06500"), "the typed point is shown");
  await page.focus("#incident-raise button[type=submit]");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("#incidents tbody tr").length === 1, null, { timeout: 10000 });
  // The row can come over the live stream before the answer to the raise sets its state: wait.
  await page
    .waitForFunction(() => document.getElementById("incident-raise-state").textContent.startsWith("Incident "), null, { timeout: 10000 })
    .catch(() => check(false, "the raise is confirmed"));
  await page.waitForSelector("#incident-map path.incident-point.sev-critical", { timeout: 10000 });
  // The exercise: an area of three corners clicked on the map around the point.
  await page.selectOption("#inc-type", "flood");
  await page.selectOption("#inc-severity", "high");
  await page.fill("#inc-title", "Siret river over its banks at Vicov");
  await page.fill("#inc-description", "Water on the DN2 north of the crossing; lorries held at Siret.");
  await page.check("#inc-area-polygon");
  await page.locator("#incident-map").scrollIntoViewIfNeeded();
  const box = await page.locator("#incident-map").boundingBox();
  for (const [dx, dy] of [[-160, -120], [40, -150], [-60, 60]]) {
    await page.mouse.click(box.x + box.width / 2 + dx, box.y + box.height / 2 + dy);
  }
  check((await page.textContent("#inc-area-state")).startsWith("Corners placed: 3 "), `three corners drawn: ${await page.textContent("#inc-area-state")}`);
  await page.waitForSelector("#incident-map path.draft-area", { timeout: 10000 });
  await page.check("#inc-exercise");
  await page.click("#incident-raise button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#incidents tbody tr").length === 2, null, { timeout: 10000 });
  const exerciseRow = '#incidents tbody tr.exercise';
  check((await page.textContent(`${exerciseRow} .exercise-mark`)) === "EXERCISE", "an exercise is marked EXERCISE on the board");
  check((await page.textContent(`${exerciseRow} td:nth-child(3)`)) === "high", "its severity is shown");
  await page.waitForSelector("#incident-map path.incident-area.sev-high.exercise-area", { timeout: 10000 });
  check(!(await page.$("#incident-map path.draft-area")), "the drawing is cleared once raised");
  // Open it by keyboard: its timeline, and what this agency may do to its own incident.
  await page.focus(`${exerciseRow} button.open`);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#incident-detail:not([hidden]) #incident-timeline li[data-change=raised]", { timeout: 10000 });
  check(await page.evaluate(() => document.activeElement?.id === "incident-detail-title"), "focus moves to the opened incident");
  check(await page.isVisible("#incident-exercise"), "the opened exercise says it is one");
  check(await page.isHidden("#incident-ack"), "no acknowledgement of our own incident");
  check(await page.isVisible("#incident-status") && (await page.isVisible("#incident-severity")), "our own incident's status and severity can change");
  await page.focus("#inc-note");
  await page.keyboard.type("Two crews of the border police sent to Vicov de Sus.");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#incident-timeline li[data-change=note]", { timeout: 10000 });
  check((await page.textContent("#incident-timeline li[data-change=note] .text")) === "Two crews of the border police sent to Vicov de Sus.", "the note is on the timeline");
  await page.selectOption("#inc-new-status", "responding");
  await page.click("#incident-status button[type=submit]");
  await page.waitForSelector("#incident-timeline li[data-change=status]", { timeout: 10000 });
  await page.waitForFunction((sel) => document.querySelector(`${sel} td:nth-child(4)`)?.textContent === "responding", exerciseRow, { timeout: 10000 });
  const changes = await page.$$eval("#incident-timeline li", (lis) => lis.map((li) => li.dataset.change));
  check(JSON.stringify(changes) === JSON.stringify(["raised", "note", "status"]), `the timeline in order: ${changes}`);
  await page.evaluate(() => document.getElementById("incident-detail").scrollIntoView());
  await axe(page, "incident");
  // The board and the map, the opened incident closed.
  await page.click("#incident-close");
  await page.waitForSelector("#incident-detail", { state: "hidden", timeout: 10000 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(500);
  await axe(page, "incidents");

  // Bulletins: issue one (H3 asks for its restrictions), open it, its codes in words, in Romanian too.
  await page.click('#nav a[data-view="bulletins"]');
  await page.waitForSelector("#view-bulletins:not([hidden])", { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById("bulletins-state").textContent === "No bulletins from partners.", null, { timeout: 10000 });
  await page.fill("#b-title", "Catalytic converters cut from lorries on the DN2");
  await page.fill("#b-summary", "Four converters cut from lorries parked at the Siret crossing in two nights.");
  await page.fill("#b-place", "DN2 between Suceava and Siret");
  await page.fill("#b-modus", "Two men, a battery angle grinder, under five minutes per lorry");
  await page.click("#b-add-vehicle");
  check(await page.evaluate(() => document.activeElement?.name === "vehicle_plate"), "a new vehicle's plate has the focus");
  await page.keyboard.type("SV 12 ABC");
  await page.fill('#b-vehicle-rows .vehicle input[name="vehicle_country"]', "RO");
  await page.fill('#b-vehicle-rows .vehicle input[name="vehicle_description"]', "white Ford Transit");
  await page.selectOption("#b-source", "B");
  await page.selectOption("#b-information", "2");
  await page.selectOption("#b-handling", "H3");
  await page.fill("#b-distribution-others", "md-igp");
  await page.click("#bulletin-issue button[type=submit]");
  await page.waitForFunction(() => document.getElementById("bulletin-issue-state").textContent === "An H3 bulletin states its restrictions.", null, { timeout: 10000 });
  check(await page.evaluate(() => document.activeElement?.id === "b-restrictions"), "the restrictions have the focus");
  await page.keyboard.type("Not to be shared with private security companies");
  await page.click("#bulletin-issue button[type=submit]");
  await page.waitForSelector("#bulletin-detail:not([hidden]) #bulletin-handling.handling-H3", { timeout: 10000 });
  check(
    (await page.textContent("#bulletin-handling")) === "H3: other restrictions, as the issuer states them: Not to be shared with private security companies",
    `the handling code is a banner with its restrictions: ${await page.textContent("#bulletin-handling")}`,
  );
  const facts = await page.textContent("#bulletin-content .facts");
  check(facts.includes("B: reliable in most instances"), `the source in words: ${facts}`);
  check(facts.includes("2: known personally to the source, not to the official passing it on"), "the information in words");
  check((await page.textContent("#bulletin-vehicles tbody td.plate")) === "SV12ABC", "the plate, normalised");
  check((await page.textContent('#bulletin-copies tr[data-agency="md-igp"]')).includes("not sent: this node has no partners"), "what became of the copy");
  check(await page.isVisible("#bulletin-forward") && (await page.isHidden("#bulletin-no-forward")), "its issuer may pass it on");
  check((await page.$$("#bulletins tbody tr")).length === 1, "the outbox lists it");
  await axe(page, "bulletins");
  await page.selectOption("#locale", "ro");
  await page.waitForFunction((want) => document.getElementById("bulletin-handling").textContent.startsWith(want), `H3: ${texts.ro["bulletin_handling.H3"]}`, { timeout: 10000 });
  check((await page.textContent("#bulletin-content .facts")).includes(texts.ro["bulletin_source.B"]), "the codes in Romanian");
  await page.selectOption("#locale", "en");

  // The hotlist: add an entry with the form, import two from a CSV file (one refused), expire one.
  await page.click('#nav a[data-view="hotlist"]');
  await page.waitForSelector("#hotlist tbody tr", { timeout: 10000 });
  await page.fill("#hl-plate", "SV 88 NEW");
  await page.fill("#hl-country", "RO");
  await page.selectOption("#hl-reason", "wanted");
  await page.fill("#hl-note", "grey van");
  await page.click("#hotlist-add button[type=submit]");
  await page.waitForSelector('#hotlist tbody tr[data-plate="SV88NEW"]', { timeout: 10000 });
  check(await page.isVisible('#hotlist tbody tr[data-plate="SV66EXR"].exercise .exercise-mark'), "the drill's entry is marked");
  check(!(await page.isVisible('#hotlist tbody tr[data-plate="SV88NEW"] .exercise-mark')), "a real entry is not");
  const csv = "plate,country,reason,agency\nB 99 CSV,RO,stolen,ro-igpf\nnot a plate!!,RO,stolen,ro-igpf\n";
  await page.setInputFiles("#hl-file", { name: "list.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.click("#hotlist-import button[type=submit]");
  await page.waitForSelector('#hotlist tbody tr[data-plate="B99CSV"]', { timeout: 10000 });
  check((await page.textContent("#hotlist-state")).includes("Imported 1; refused 1"), "the import reports what it refused");
  // Change an entry in place: its reason, priority, expiry and note, in its own row.
  const csvRow = '#hotlist tbody tr[data-plate="B99CSV"]';
  await page.click(`${csvRow} button.edit`);
  await page.waitForSelector(`${csvRow}.editing select[name="reason"]`);
  check((await page.evaluate(() => document.activeElement?.name)) === "reason", "editing starts at the reason");
  await page.selectOption(`${csvRow} select[name="reason"]`, "suspect");
  await page.selectOption(`${csvRow} select[name="priority"]`, "1");
  await page.fill(`${csvRow} input[name="expires"]`, "2031-05-31");
  await page.fill(`${csvRow} input[name="note"]`, "blue van, Ukrainian plates seen too");
  await axe(page, "hotlist");
  // Escape leaves the entry as it was; then changed for real.
  await page.keyboard.press("Escape");
  await page.waitForSelector(`${csvRow}:not(.editing) button.edit`, { timeout: 10000 });
  check((await page.textContent(`${csvRow} td:nth-child(3)`)) === texts.en["reason.stolen"], "a cancelled change changes nothing");
  await page.click(`${csvRow} button.edit`);
  await page.selectOption(`${csvRow} select[name="reason"]`, "suspect");
  await page.selectOption(`${csvRow} select[name="priority"]`, "1");
  await page.fill(`${csvRow} input[name="expires"]`, "2031-05-31");
  await page.fill(`${csvRow} input[name="note"]`, "blue van, Ukrainian plates seen too");
  await page.click(`${csvRow} button.save`);
  await page.waitForFunction(
    (sel) => document.querySelector(`${sel} td:nth-child(7)`)?.textContent === "blue van, Ukrainian plates seen too",
    csvRow,
    { timeout: 10000 },
  );
  check((await page.textContent(`${csvRow} td:nth-child(3)`)) === texts.en["reason.suspect"], "the reason is changed");
  check((await page.textContent(`${csvRow} td:nth-child(4)`)) === "P1", "the priority is changed");
  check((await page.textContent("#hotlist-state")) === "The entry for B99CSV is changed.", "the change is confirmed");
  check(await page.evaluate((sel) => document.activeElement === document.querySelector(`${sel} button.edit`), csvRow), "focus returns to the row");
  await page.click('#hotlist tbody tr[data-plate="SV88NEW"] button.expire');
  await page.waitForFunction(() => !document.querySelector('#hotlist tbody tr[data-plate="SV88NEW"]'), null, { timeout: 10000 });

  // Another purpose, declared from the header without signing in again: the next search is
  // sent and logged under it (the audit view below shows it).
  check((await page.textContent("#declared")) === "Purpose: investigation", "the header shows the purpose");
  await page.click("#change-purpose");
  await page.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
  await page.selectOption("#pd-purpose", "prevention");
  await page.fill("#pd-case", "UI-2026/9");
  await page.click('#purpose-dialog button[type="submit"]');
  await page.waitForFunction(() => document.getElementById("declared").textContent === "Purpose: prevention, case UI-2026/9", null, { timeout: 10000 });
  const me = await page.evaluate(async () => {
    const s = JSON.parse(sessionStorage.getItem("limes.session"));
    return (await fetch("/api/v1/auth/me", { headers: { authorization: `Bearer ${s.token}` } })).json();
  });
  check(me.purpose?.purpose === "prevention" && me.purpose?.case_ref === "UI-2026/9", `the node holds the session's new purpose: ${JSON.stringify(me)}`);
  await page.click('#nav a[data-view="search"]');
  await page.fill("#s-plate", plate);
  await page.click("#search-form button[type=submit]");
  await page.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
  check((await page.inputValue("#pd-purpose")) === "prevention", "the search asks under the new purpose");
  check((await page.inputValue("#pd-case")) === "UI-2026/9", "and its case");
  await page.click('#purpose-dialog button[type="submit"]');
  await page.waitForFunction((p) => document.querySelectorAll(`#reads tbody tr[data-plate="${p}"]`).length === 2, plate, { timeout: 10000 });

  // Partners and agreements (this node has none: it says so), and requests.
  await page.click('#nav a[data-view="partners"]');
  await page.waitForFunction(
    () => document.getElementById("partners-state").textContent.length > 0 || document.querySelectorAll("#partners tbody tr").length > 0,
    null,
    { timeout: 10000 },
  );
  await axe(page, "partners");
  await page.click('#nav a[data-view="requests"]');
  await page.waitForSelector("#view-requests:not([hidden])", { timeout: 10000 });
  // A hit/no-hit question, behind the purpose dialog: this node has no partners, and says so.
  await page.fill("#q-plate", plate);
  await page.click("#query-form button[type=submit]");
  await page.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
  await page.click('#purpose-dialog button[type="submit"]');
  await page.waitForFunction(() => document.getElementById("query-state").textContent.length > 0, null, { timeout: 10000 });
  await axe(page, "requests");

  // The audit log, as the data-protection officer sees it: the purpose is audit.
  await page.click('#nav a[data-view="audit"]');
  await page.fill("#a-actor", `user:${env("LIMES_USER")}`);
  await page.click("#audit-form button[type=submit]");
  await page.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
  check((await page.inputValue("#pd-purpose")) === "audit", "the audit view declares the purpose audit");
  await page.click('#purpose-dialog button[type="submit"]');
  await page.waitForSelector("#audit tbody tr", { timeout: 10000 });
  const actions = await page.$$eval("#audit tbody tr td:nth-child(4)", (tds) => tds.map((td) => td.textContent));
  check(actions.includes("login") && actions.includes("consult"), `the officer's own sign-in and searches are listed: ${actions}`);
  const records = await page.$$eval("#audit tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  check(
    records.some((r) => r[3] === "consult" && r[5] === "prevention" && r[7] === "UI-2026/9"),
    `the search after the change is logged under the new purpose: ${JSON.stringify(records.filter((r) => r[3] === "consult"))}`,
  );
  await axe(page, "audit");

  check(external.length === 0, `the page asked other hosts: ${external.join(", ")}`);
  check(errors.length === 0, `script errors: ${errors.join("; ")}`);
} catch (e) {
  failed = e;
} finally {
  await browser.close();
}
if (process.env.LIMES_UI_REPORT) writeFileSync(process.env.LIMES_UI_REPORT, JSON.stringify(report, null, 1));
if (failed) {
  console.error(`ui test failed: ${failed.stack ?? failed}`);
  process.exit(1);
}
console.log(JSON.stringify(report));
