// Two agencies' pages side by side, working together (crates/cli/tests/cooperation.rs starts
// the nodes): an incident raised on the origin's page reaches the partner's board within 10 s;
// not acknowledged in time, it is escalated, a cue on the origin's page; the partner
// acknowledges it and adds a note, and the origin sees both. A bulletin issued on the origin's
// page reaches the partner's inbox: H2, so no Forward there, its plate pseudonymised; the read
// comes back as a receipt. An H1 bulletin opened for prosecution is refused, and the page says
// why. Both pages' incidents and bulletins views pass axe-core in both themes.
// Environment: LIMES_URL_ORIGIN, LIMES_URL_PARTNER, LIMES_ORIGIN, LIMES_PARTNER (the agencies),
// LIMES_USER, LIMES_PASSWORD (the same account name on both), LIMES_LEGAL_BASIS, CHROMIUM,
// LIMES_SCREENSHOTS (a directory to write each scanned view to, optional).
import { axe, check, env, report, run, signIn, until } from "./lib.mjs";

await run("cooperation ui test", async (browser) => {
  const [originAgency, partnerAgency] = [env("LIMES_ORIGIN"), env("LIMES_PARTNER")];
  const origin = await signIn(browser, env("LIMES_URL_ORIGIN"));
  const partner = await signIn(browser, env("LIMES_URL_PARTNER"));
  await partner.click('#nav a[data-view="incidents"]');
  await origin.click('#nav a[data-view="incidents"]');

  // The origin raises a high-severity incident and notifies the partner, listed by the page.
  const notify = `#inc-notify-${partnerAgency}`;
  await origin.waitForSelector(notify, { timeout: 10000 });
  await origin.selectOption("#inc-type", "chemical");
  await origin.selectOption("#inc-severity", "high");
  const title = "Ammonia leak at the Bohumín rail yard";
  await origin.fill("#inc-title", title);
  await origin.fill("#inc-description", "Wind towards Chałupki; keep 2 km clear.");
  await origin.fill("#inc-lat", "49.905");
  await origin.fill("#inc-lon", "18.36");
  await origin.check(notify);
  await origin.click("#incident-raise button[type=submit]");
  const raised = Date.now();
  const row = (page) => page.waitForSelector(`#incidents tbody tr:has(.incident-title:text-is("${title}"))`, { timeout: 10000 });
  await row(origin);
  const id = await origin.$eval("#incidents tbody tr", (tr) => tr.dataset.id);

  // On the partner's board within 10 s; meanwhile, not acknowledged within 3 s, the origin
  // escalates and its supervisors see and hear it.
  await Promise.all([
    row(partner).then(() => {
      report.incident_to_partner_ms = Date.now() - raised;
    }),
    origin.waitForSelector("#escalation:not([hidden])", { timeout: 15000 }),
  ]);
  check((await origin.textContent("#escalation-text")).includes(partnerAgency), "the escalation names the partner");
  check((await partner.textContent(`#incidents tbody tr[data-id="${id}"] td:nth-child(5)`)) === originAgency, "the partner's board says who raised it");
  check((await partner.textContent("#incidents-announce")).includes(title), "the new incident is announced on the partner's page");

  // The partner opens it, acknowledges by keyboard and adds a note; status and severity are
  // the origin's alone.
  await partner.click(`#incidents tbody tr[data-id="${id}"] button.open`);
  await partner.waitForSelector("#incident-ack:not([hidden])", { timeout: 10000 });
  check(await partner.isHidden("#incident-status") && (await partner.isHidden("#incident-severity")), "a partner's incident's status is not ours to change");
  await partner.focus("#incident-ack");
  await partner.keyboard.press("Enter");
  await partner.waitForSelector(`#incident-notified tr[data-agency="${partnerAgency}"] td.acknowledged`, { timeout: 10000 });
  check(await partner.isHidden("#incident-ack"), "acknowledged once");
  await partner.fill("#inc-note", "Two crews leaving Racibórz");
  await partner.click("#incident-note-form button[type=submit]");
  await partner.waitForSelector("#incident-timeline li[data-change=note]", { timeout: 10000 });
  await axe(partner, "incidents_partner");

  // The origin's board: acknowledged; opened, the timeline has the partner's acknowledgement,
  // its note and the escalation, each with its writer.
  await origin.waitForFunction(
    (i) => document.querySelector(`#incidents tbody tr[data-id="${i}"] td.due`)?.textContent === "all acknowledged",
    id,
    { timeout: 10000 },
  );
  await origin.click("#escalation-open");
  await origin.waitForSelector("#incident-timeline li[data-change=note]", { timeout: 10000 });
  const timeline = await origin.$$eval("#incident-timeline li", (lis) => lis.map((li) => [li.dataset.change, li.querySelector(".writer").textContent]));
  const changes = timeline.map(([c]) => c);
  check(changes[0] === "raised" && changes.includes("escalated") && changes.includes("acknowledged"), `the origin's timeline: ${changes}`);
  check(timeline.some(([c, w]) => c === "note" && w.startsWith(partnerAgency)), "the partner's note, by the partner");
  check(changes.indexOf("escalated") < changes.indexOf("acknowledged"), "escalated before it was acknowledged");
  await axe(origin, "incidents_origin");

  // A bulletin, H2, a plate on it, to the partner listed by the page.
  await origin.click('#nav a[data-view="bulletins"]');
  const distribution = `#b-distribution-${partnerAgency}`;
  await origin.waitForSelector(distribution, { timeout: 10000 });
  const issue = async (handling, bulletin) => {
    await origin.fill("#b-title", bulletin);
    await origin.fill("#b-summary", "Four catalytic converters cut from parked lorries in two nights.");
    await origin.fill("#b-place", "D1 rest area at Bohumín");
    await origin.click("#b-add-vehicle");
    await origin.keyboard.type("1T2 3456");
    await origin.fill('#b-vehicle-rows .vehicle input[name="vehicle_country"]', "CZ");
    await origin.selectOption("#b-source", "A");
    await origin.selectOption("#b-information", "1");
    await origin.selectOption("#b-handling", handling);
    await origin.check(distribution);
    await origin.click("#bulletin-issue button[type=submit]");
    await origin.waitForFunction((b) => document.getElementById("bulletin-detail-title").textContent === b, bulletin, { timeout: 10000 });
    await origin.waitForSelector(`#bulletin-copies tr[data-agency="${partnerAgency}"]`, { timeout: 10000 });
    check((await origin.textContent(`#bulletin-copies tr[data-agency="${partnerAgency}"]`)).includes("queued for delivery"), "the copy is queued");
    return (await origin.textContent("#bulletin-content .facts dd")).trim();
  };
  const h2 = await issue("H2", "Converter thefts at the D1 rest areas");

  // In the partner's inbox; opened: do not disseminate, no Forward, the plate a pseudonym.
  await until(partner, "bulletins", (b) => [...document.querySelectorAll("#bulletins tbody tr")].some((tr) => tr.dataset.id === b), h2);
  await partner.click(`#bulletins tbody tr[data-id="${h2}"] button.open`);
  await partner.waitForSelector("#bulletin-handling.handling-H2", { timeout: 10000 });
  check((await partner.textContent("#bulletin-handling")) === "H2: do not disseminate further without the issuer's permission", "the H2 banner");
  check(await partner.isHidden("#bulletin-forward") && (await partner.isVisible("#bulletin-no-forward")), "no Forward for an H2 bulletin");
  check(await partner.isVisible("#bulletin-vehicles tr.pseudonymised .pseudonym-mark"), "the plate is marked as a pseudonym");
  const pseudonym = await partner.$eval("#bulletin-vehicles td.plate span", (s) => s.textContent);
  check(pseudonym !== "1T23456", "the plate itself is not there");
  await axe(partner, "bulletins_partner");

  // The origin sees the partner's read (a receipt: the agency and when, never who).
  await until(origin, "bulletins", () => true);
  await origin.click(`#bulletins tbody tr[data-id="${h2}"] button.open`);
  for (let i = 0; i < 30 && !(await origin.$(`#bulletin-reads li[data-agency="${partnerAgency}"]`)); i++) {
    await origin.waitForTimeout(500);
    await origin.click("#bulletin-close");
    await origin.click(`#bulletins tbody tr[data-id="${h2}"] button.open`);
    await origin.waitForSelector("#bulletin-detail:not([hidden]) #bulletin-reads");
  }
  check(Boolean(await origin.$(`#bulletin-reads li[data-agency="${partnerAgency}"]`)), "the partner's read came back");
  await axe(origin, "bulletins_origin");

  // An H1 bulletin: the partner may open it for its investigation, and pass it on as far as the
  // agreement lets it; declared for prosecution, the page says it may not.
  const h1 = await issue("H1", "Buyers of the stolen converters in Ostrava");
  await until(partner, "bulletins", (b) => [...document.querySelectorAll("#bulletins tbody tr")].some((tr) => tr.dataset.id === b), h1);
  await partner.click(`#bulletins tbody tr[data-id="${h1}"] button.open`);
  await partner.waitForSelector("#bulletin-handling.handling-H1", { timeout: 10000 });
  check(await partner.isVisible("#bulletin-forward"), "an H1 bulletin may be passed on where the agreement allows");
  await partner.click("#change-purpose");
  await partner.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
  await partner.selectOption("#pd-purpose", "prosecution");
  await partner.fill("#pd-case", "UI-2026/7");
  await partner.click('#purpose-dialog button[type="submit"]');
  await partner.waitForSelector("#bulletin-denied:not([hidden])", { timeout: 10000 });
  const denied = await partner.textContent("#bulletin-denied");
  check(denied.startsWith("You may not open this bulletin for the purpose you declared (prosecution)"), `the refusal in words: ${denied}`);
  check(denied.includes("judicial proceedings"), `and the node's reason: ${denied}`);
  check(await partner.isHidden("#bulletin-content") && (await partner.isHidden("#bulletin-forward")), "nothing of it is shown");
  await axe(partner, "bulletins_denied");
});
