// Two border agencies' pages side by side (crates/cli/tests/cooperation.rs starts the nodes and
// registers their patrol units): a position a unit reports through the API is on the origin's
// patrols view (table and map) within seconds, a partner's unit beside its own; the units
// suggested for the partner's incident are ranked nearest first, and the one sent from the
// page is assigned at the partner too (its API, then its page). An operation opened through
// the origin's API shows on the partner's page live; a task, a vehicle and a note written on
// the partner's page reach the origin (its API), a document added there is downloaded on the
// origin's page, the task marked done on the origin's page is
// done on the partner's page without reloading it. A bulletin issued to the partner appears in
// its open inbox without reloading. A file attached to the incident at the partner is
// downloaded on the origin's page; the incident closed leaves the board, and comes back with
// closed ones shown. Every new view passes axe-core in both themes.
// Environment: LIMES_URL_ORIGIN, LIMES_URL_PARTNER, LIMES_ORIGIN, LIMES_PARTNER (the agencies),
// LIMES_TOKEN_ORIGIN, LIMES_TOKEN_PARTNER (API tokens for the test's own acts), LIMES_USER,
// LIMES_PASSWORD, LIMES_LEGAL_BASIS, CHROMIUM, LIMES_SCREENSHOTS (optional).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";
import { axe, check, client, env, eventually, report, run, signIn } from "./lib.mjs";

/// Porubne, on the Romanian–Ukrainian border (as crates/cli/tests/patrols.rs).
const scene = { lat: 47.982, lon: 26.066 };

await run("workspace ui test", async (browser) => {
  const [o, p] = [env("LIMES_ORIGIN"), env("LIMES_PARTNER")];
  const originApi = client(env("LIMES_URL_ORIGIN"), env("LIMES_TOKEN_ORIGIN"));
  const partnerApi = client(env("LIMES_URL_PARTNER"), env("LIMES_TOKEN_PARTNER"));
  const origin = await signIn(browser, env("LIMES_URL_ORIGIN"), { acceptDownloads: true });
  const partner = await signIn(browser, env("LIMES_URL_PARTNER"));

  // ---- patrols ----
  // The partner raises an incident at Porubne and notifies the origin.
  const raised = await partnerApi("/incidents", {
    method: "POST",
    body: { type: "border-breach", severity: "high", title: "Group crossing the green border west of Porubne", position: scene, notified: [o] },
  });
  check(raised.status === 201, `raising the incident: ${JSON.stringify(raised)}`);
  const incident = raised.json.id;
  await eventually("the incident at the origin", async () => (await originApi(`/incidents/${incident}`)).status === 200);

  const sv11 = `${o}/SV-11`;
  const sv12 = `${o}/SV-12`;
  const pb3 = `${p}/PB-3`;
  await origin.click('#nav a[data-view="patrols"]');
  await origin.waitForSelector(`#patrol-units tbody tr[data-unit="${sv12}"]`, { timeout: 10000 });
  // The partner's unit, shared under the agreement, beside the origin's own.
  await origin.waitForSelector(`#patrol-units tbody tr.partner[data-unit="${pb3}"] td.position[data-time]`, { timeout: 10000 });
  await origin.waitForSelector(`#patrol-map path.unit-marker.partner[data-unit="${pb3}"]`, { timeout: 10000 });

  // SV-11's tracker reports its last minute through the API: on the page, live, within seconds.
  const now = Date.now();
  const fixes = [...Array(6).keys()].map((i) => ({
    time: new Date(now - (5 - i) * 10000 - 1000).toISOString(),
    lat: scene.lat - 0.02 + i * 0.002,
    lon: scene.lon - 0.01,
    speed_kmh: 40,
    heading: 0,
  }));
  const sent = Date.now();
  const reported = await originApi(`/patrols/units/${o}/SV-11/positions`, { method: "POST", body: fixes });
  check(reported.status === 200 && reported.json.accepted === 6, `reporting positions: ${JSON.stringify(reported)}`);
  await origin.waitForFunction(
    ([u, time, lat]) => {
      const td = document.querySelector(`#patrol-units tr[data-unit="${u}"] td.position`);
      const marker = document.querySelector(`#patrol-map path.unit-marker.own[data-unit="${u}"]`);
      return td?.dataset.time && new Date(td.dataset.time).getTime() === new Date(time).getTime() && Number(marker?.dataset.lat) === lat;
    },
    [sv11, fixes.at(-1).time, fixes.at(-1).lat],
    { timeout: 5000 },
  );
  report.position_to_page_ms = Date.now() - sent;

  // Its route over the last hour, on the map.
  await origin.click(`#patrol-units tr[data-unit="${sv11}"] button.route`);
  await origin.waitForSelector("#patrol-route:not([hidden])");
  await origin.waitForSelector("#patrol-map path.route-line", { state: "attached", timeout: 10000 });
  check((await origin.textContent("#patrol-route-facts")).startsWith("6 positions"), `the route: ${await origin.textContent("#patrol-route-facts")}`);

  // Units for the partner's incident: nearest first, the partner's its own centre's to send.
  await origin.selectOption("#pa-incident", incident);
  await origin.click("#patrol-assign button[type=submit]");
  await origin.waitForSelector("#patrol-suggestions li", { timeout: 10000 });
  const ranked = await origin.$$eval("#patrol-suggestions li", (lis) => lis.map((li) => [li.dataset.unit, Number(li.dataset.distance)]));
  check(ranked[0][0] === sv11, `the nearest first: ${JSON.stringify(ranked)}`);
  check(ranked.every(([, d], i) => i === 0 || ranked[i - 1][1] <= d), `nearest first: ${JSON.stringify(ranked)}`);
  check(ranked.some(([u]) => u === sv12) && ranked.some(([u]) => u === pb3), `own and partner's units: ${JSON.stringify(ranked)}`);
  check((await origin.$$(`#patrol-suggestions li[data-unit="${pb3}"] button.send`)).length === 0, "a partner's unit is not sent from here");
  await axe(origin, "patrols_origin");

  // Sent from the page, with a note.
  const note = "Cut them off at the Siret bridge";
  await origin.fill("#pa-note", note);
  await origin.click(`#patrol-suggestions li[data-unit="${sv11}"] button.send`);
  await origin.waitForSelector(`#patrol-units tr[data-unit="${sv11}"] td.status-en-route`, { timeout: 10000 });
  await origin.waitForSelector(`#patrol-assignments tbody tr[data-unit="${sv11}"]`, { timeout: 10000 });
  const assigned = Date.now();
  await eventually("the assignment at the partner", async () => {
    const r = await partnerApi(`/patrols/assignments?incident=${encodeURIComponent(incident)}`);
    return r.status === 200 && r.json.some((a) => a.unit === sv11 && a.note === note);
  });
  report.assignment_to_partner_ms = Date.now() - assigned;
  // On the partner's page: the origin's unit, en route to its incident.
  await partner.click('#nav a[data-view="patrols"]');
  await partner.waitForSelector(`#patrol-units tr.partner[data-unit="${sv11}"] td.status-en-route`, { timeout: 15000 });
  check((await partner.textContent(`#patrol-units tr[data-unit="${sv11}"] td.target`)).includes(incident), "sent to the partner's incident");
  await axe(partner, "patrols_partner");

  // ---- a joint operation ----
  await partner.click('#nav a[data-view="operations"]');
  await partner.waitForSelector("#view-operations:not([hidden])");
  const until = new Date(Date.now() + 14 * 86400000).toISOString();
  const opened = await originApi("/operations", {
    method: "POST",
    body: { name: "Siret–Porubne: cigarettes in lorry floors", description: "Lorries with hidden floor compartments.", until, members: [p], retention_days: 30 },
  });
  check(opened.status === 201, `opening the operation: ${JSON.stringify(opened)}`);
  const op = opened.json.id;
  const openedAt = Date.now();
  await partner.waitForSelector(`#operations tbody tr[data-id="${op}"]`, { timeout: 10000 });
  report.operation_to_partner_page_ms = Date.now() - openedAt;
  await partner.click(`#operations tbody tr[data-id="${op}"] button.open`);
  await partner.waitForSelector("#operation-detail:not([hidden]) #operation-timeline li[data-change=opened]", { timeout: 10000 });
  check(await partner.isHidden("#operation-origin-forms"), "only the origin extends or closes it");
  const task = "Check the lorry park at Porubne";
  await partner.fill("#op-task", task);
  await partner.selectOption("#op-task-assignee", o);
  await partner.click("#operation-task-form button[type=submit]");
  await partner.waitForSelector("#operation-tasks tr[data-task] .task-title", { timeout: 10000 });
  await partner.fill("#op-entry-plate", "SV 07 ABC");
  await partner.fill("#op-entry-country", "RO");
  await partner.selectOption("#op-entry-reason", "suspect");
  await partner.fill("#op-entry-note", "white DAF, false floor");
  await partner.click("#operation-entry-form button[type=submit]");
  await partner.waitForSelector('#operation-hotlist tr[data-plate="SV07ABC"]', { timeout: 10000 });
  await partner.fill("#op-note", "Two lorries expected tonight");
  await partner.click("#operation-note-form button[type=submit]");
  await partner.waitForSelector("#operation-timeline li[data-change=note]", { timeout: 10000 });
  // A document chosen on the partner's page (a report's bytes, made up after a PDF's header).
  const pdf = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.from([...Array(20000).keys()].map((i) => (i * 7) % 253))]);
  await partner.setInputFiles("#op-document", { name: "lorry-park.pdf", mimeType: "application/pdf", buffer: pdf });
  await partner.click("#operation-document-form button[type=submit]");
  await partner.waitForSelector("#operation-documents li button.download", { timeout: 10000 });
  const wrote = Date.now();
  const atOrigin = await eventually("the partner's task, vehicle and note at the origin", async () => {
    const r = await originApi(`/operations/${op}`);
    const ok =
      r.status === 200 &&
      r.json.tasks.some((x) => x.title === task && x.by === p && x.assignee === o) &&
      r.json.hotlist.SV07ABC?.added_by === p &&
      r.json.timeline.some((e) => e.change === "note" && e.stamp.agency === p);
    return ok && r.json;
  });
  report.task_to_origin_ms = Date.now() - wrote;
  const taskId = atOrigin.tasks.find((x) => x.title === task).task;

  // The origin's page has it; marked done there, done on the partner's open page.
  await origin.click('#nav a[data-view="operations"]');
  await origin.waitForSelector(`#operations tbody tr[data-id="${op}"]`, { timeout: 10000 });
  await origin.click(`#operations tbody tr[data-id="${op}"] button.open`);
  await origin.waitForSelector(`#operation-tasks tr[data-task="${taskId}"] button`, { timeout: 10000 });
  check(await origin.isVisible("#operation-origin-forms"), "the origin extends and closes it");
  const doc = await downloaded(origin, "#operation-documents li button.download", "#operation-action-state");
  check(doc.suggestedFilename() === "lorry-park.pdf", `saved as ${doc.suggestedFilename()}`);
  check(readFileSync(await doc.path()).equals(pdf), "the document downloaded is the one the partner added");
  await origin.click(`#operation-tasks tr[data-task="${taskId}"] button`);
  await origin.waitForSelector(`#operation-tasks tr.done[data-task="${taskId}"]`, { timeout: 10000 });
  await partner.waitForSelector(`#operation-tasks tr.done[data-task="${taskId}"]`, { timeout: 10000 });
  await axe(origin, "operations_origin");
  await axe(partner, "operations_partner");

  // ---- the live inbox ----
  await partner.click('#nav a[data-view="bulletins"]');
  await partner.waitForSelector("#view-bulletins:not([hidden])");
  const issued = await originApi("/bulletins", {
    method: "POST",
    body: {
      title: "Cigarettes in lorry floors at Siret",
      summary: "False floors in refrigerated lorries; drivers change at Suceava.",
      from: new Date(Date.now() - 86400000).toISOString(),
      source: "B",
      information: "2",
      handling: "H0",
      distribution: [p],
    },
  });
  check(issued.status === 201, `issuing the bulletin: ${JSON.stringify(issued)}`);
  const bulletin = issued.json.id;
  const issuedAt = Date.now();
  await partner.waitForSelector(`#bulletins tbody tr.fresh[data-id="${bulletin}"]`, { timeout: 10000 });
  report.bulletin_to_open_inbox_ms = Date.now() - issuedAt;
  check((await partner.textContent("#bulletins-announce")).includes("Cigarettes in lorry floors at Siret"), "the new bulletin is announced");
  await axe(partner, "bulletins_live");

  // ---- an incident's attachment, and closed incidents ----
  // A thermal camera's picture (a generated PNG): it crosses as its anonymised copy.
  const photo = png(160, 120);
  const attached = await partnerApi(`/incidents/${incident}/attachments?name=thermal-camera.png`, { method: "POST", raw: photo, type: "image/png" });
  check(attached.status === 201, `attaching: ${JSON.stringify(attached)}`);
  const copy = attached.json.attachments.find((a) => a.name === "thermal-camera.png").anonymised;
  check(copy && copy.faces === 0, `the copy partners receive: ${JSON.stringify(copy)}`);
  await origin.click('#nav a[data-view="incidents"]');
  await origin.click(`#incidents tbody tr[data-id="${incident}"] button.open`);
  await origin.waitForSelector("#incident-attachments li button.download", { timeout: 10000 });
  const download = await downloaded(origin, "#incident-attachments li button.download", "#incident-action-state");
  check(download.suggestedFilename() === "thermal-camera.png", `saved as ${download.suggestedFilename()}`);
  const got = readFileSync(await download.path());
  check(createHash("sha256").update(got).digest("hex") === copy.sha256, "the file downloaded is the anonymised copy");
  check(!got.equals(photo), "the picture as taken stayed with the partner");
  check((await origin.textContent("#incident-attachments li")).includes("blurred"), "the list says the picture was anonymised");
  await axe(origin, "incidents_attachment");
  await origin.click("#incident-close");

  const closed = await partnerApi(`/incidents/${incident}/events`, { method: "POST", body: { change: "status", status: "closed" } });
  check(closed.status === 201, `closing: ${JSON.stringify(closed)}`);
  await origin.waitForFunction((id) => !document.querySelector(`#incidents tbody tr[data-id="${id}"]`), incident, { timeout: 10000 });
  await origin.check("#incidents-closed");
  await origin.waitForSelector(`#incidents tbody tr[data-id="${incident}"]`, { timeout: 10000 });
  check((await origin.textContent(`#incidents tbody tr[data-id="${incident}"] td:nth-child(4)`)) === "closed", "shown as closed");
  await axe(origin, "incidents_closed");
});

/// Clicks `button` until the page saves a file (the file follows its event over the link: until
/// it has arrived, the page says so in `state`); the download.
async function downloaded(page, button, state) {
  for (let i = 0; i < 20; i++) {
    const [d] = await Promise.all([page.waitForEvent("download", { timeout: 2000 }).catch(() => null), page.click(button)]);
    if (d) return d;
  }
  check(false, `no download: ${await page.textContent(state)}`);
}

/// A `width`×`height` RGB PNG of a gradient, written out chunk by chunk.
function png(width, height) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + 3 * width);
    for (let x = 0; x < width; x++) row.set([(x * 255) / width, (y * 255) / height, ((x + y) * 7) % 256], 1 + 3 * x);
    rows.push(row);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]);
}
