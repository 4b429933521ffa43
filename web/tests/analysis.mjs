// What the node saw itself, on the page (crates/cli/tests/analysis.rs has the node analyse a
// synthetic street video first): in the Video view, the events waiting for a person with the
// picture each was raised on; one confirmed as a border-breach incident of the severity chosen,
// one dismissed, both gone from the list; the bus the counting line counted in the traffic
// table; axe-core clean in both themes.
// Environment: LIMES_URL, LIMES_USER, LIMES_PASSWORD, LIMES_LEGAL_BASIS, CHROMIUM,
// LIMES_SCREENSHOTS.
import { axe, check, eventually, env, report, run, signIn } from "./lib.mjs";

await run("analysis ui test", async (browser) => {
  const page = await signIn(browser, env("LIMES_URL"));
  await page.click('#nav a[data-view="video"]');
  await page.waitForSelector("#video-analysis:not([hidden]) #analysis-events tbody tr", { timeout: 15000 });
  const before = await page.$$eval("#analysis-events tbody tr", (rows) => rows.map((r) => r.dataset.id));
  report.pending_before = before.length;
  check(before.length >= 2, `events waiting: ${before}`);
  const first = await page.textContent("#analysis-events tbody tr:first-child");
  check(first.includes("green-border"), `the row names the line: ${first}`);
  // The picture each was raised on, fetched with the session.
  await eventually("the pictures", () =>
    page.evaluate(() => [...document.querySelectorAll("#analysis-events img.event-frame")].some((i) => i.complete && i.naturalWidth === 1920)),
  );
  await axe(page, "analysis_events");

  // Confirmed as an incident of the severity chosen.
  await page.check("#an-raise");
  await page.selectOption("#an-severity", "critical");
  const confirmed = before[0];
  await page.click(`#analysis-events tbody tr[data-id="${confirmed}"] button.confirm`);
  const said = await eventually("the incident raised", async () => {
    const text = await page.textContent("#analysis-state");
    return /\/\d+/.test(text) && text;
  });
  report.confirmed = said;
  // Dismissed.
  const dismissed = before[1];
  await page.click(`#analysis-events tbody tr[data-id="${dismissed}"] button.dismiss`);
  await eventually("both gone from the list", async () => {
    const left = await page.$$eval("#analysis-events tbody tr", (rows) => rows.map((r) => r.dataset.id));
    return !left.includes(confirmed) && !left.includes(dismissed);
  });
  report.confirmed_id = Number(confirmed);
  report.dismissed_id = Number(dismissed);

  // The traffic counted.
  await page.waitForSelector('#traffic:not([hidden]) #traffic-table tbody tr[data-class="bus"]', { timeout: 10000 });
  const bus = await page.textContent('#traffic-table tbody tr[data-class="bus"]');
  check(bus.includes("count") && bus.includes("1"), `the bus on the counting line: ${bus}`);
  await axe(page, "analysis_traffic");
});
