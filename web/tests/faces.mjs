// Faces counted by the node itself, on the page (crates/cli/tests/analysis.rs has the node count
// the faces of footage of a public-domain portrait first): in the Video view, each count waiting
// for a person says how many faces and each one's estimated gender and age range with their
// confidence, beside the picture it was counted on; axe-core clean in both themes.
// Environment: LIMES_URL, LIMES_USER, LIMES_PASSWORD, LIMES_LEGAL_BASIS, CHROMIUM,
// LIMES_SCREENSHOTS.
import { axe, check, eventually, env, report, run, signIn } from "./lib.mjs";

await run("faces ui test", async (browser) => {
  const page = await signIn(browser, env("LIMES_URL"));
  await page.click('#nav a[data-view="video"]');
  await page.waitForSelector("#video-analysis:not([hidden]) #analysis-events tbody tr", { timeout: 15000 });
  const rows = await page.$$eval("#analysis-events tbody tr", (trs) => trs.map((r) => r.textContent));
  report.rows = rows.length;
  const counted = rows.filter((r) => r.includes("1 face(s) counted"));
  check(counted.length === rows.length && rows.length >= 1, `every row a count of one face: ${rows}`);
  // "man (99 %), 56–57 years (68 %), estimated": the gender, the range, each with its confidence.
  check(/man \(\d+\s?%\), \d+–\d+ years \(\d+\s?%\), estimated/.test(counted[0]), `the estimate with its confidence: ${counted[0]}`);
  report.first = counted[0];
  await eventually("the pictures", () =>
    page.evaluate(() => [...document.querySelectorAll("#analysis-events img.event-frame")].some((i) => i.complete && i.naturalWidth === 512)),
  );
  await axe(page, "analysis_faces");
});
