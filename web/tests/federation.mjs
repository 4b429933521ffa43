// Two agencies' pages side by side (crates/cli/tests/federation.rs starts the nodes): the
// asker's board shows the partner's alert; its officer asks hit/no-hit about the plate,
// requests the reads behind the hit; the owner's supervisor approves on its page; the
// asker's page shows the request answered; the partners and requests views of both pages,
// with a real partner, its agreement and the request, pass axe-core in both themes.
// Environment: LIMES_URL_OWNER, LIMES_URL_ASKER, LIMES_USER, LIMES_PASSWORD (the same account
// name on both), LIMES_PLATE, LIMES_OWNER, LIMES_LEGAL_BASIS, CHROMIUM.
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import { openSignIn } from "./lib.mjs";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
function check(ok, what) {
  if (!ok) throw new Error(what);
}
const report = {};

/// axe-core's WCAG 2.2 AA scan of what `page` shows, in both themes (as web/tests/ui.mjs).
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
  }
  report[`axe_${view}`] = "0 violations (light, dark)";
}

/// The partners view (a partner listed, its agreement in plain words) and the requests view
/// (the request made or decided) of `page`, each scanned.
async function scanPartnersAndRequests(page, side) {
  await page.click('#nav a[data-view="partners"]');
  await page.waitForSelector("#partners tbody tr", { timeout: 10000 });
  await page.waitForSelector("#agreements li", { timeout: 10000 });
  check((await page.textContent("#partners tbody")).includes(side === "owner" ? "ua-dpsu" : "ro-igpf"), `the ${side}'s partner is listed`);
  await axe(page, `partners_${side}`);
  await page.click('#nav a[data-view="requests"]');
  const table = side === "owner" ? "#requests-in" : "#requests-out";
  await page.waitForSelector(`${table} tbody tr`, { timeout: 10000 });
  await axe(page, `requests_${side}`);
}

/// What went wrong on the pages (script errors, failed requests, error responses), for the
/// message of a failure: a sign-in form whose purposes never came is otherwise a bare timeout.
const trouble = [];

async function signIn(browser, url) {
  // A context of its own per agency (axe-core scans pages of a context made this way).
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (e) => trouble.push(`${url}: script error: ${e.message}`));
  page.on("requestfailed", (r) => trouble.push(`${url}: ${r.method()} ${r.url()} failed: ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) trouble.push(`${url}: ${r.request().method()} ${r.url()} → ${r.status()}`);
  });
  await openSignIn(page, url, trouble);
  await page.fill("#user", env("LIMES_USER"));
  await page.fill("#password", env("LIMES_PASSWORD"));
  await page.selectOption("#purpose", "investigation");
  await page.fill("#legal_basis", env("LIMES_LEGAL_BASIS"));
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#view-board:not([hidden])", { timeout: 10000 });
  return page;
}

const browser = await chromium.launch({ executablePath: env("CHROMIUM", "/usr/bin/chromium"), headless: true, args: ["--no-sandbox", "--disable-gpu"] });
let failed = null;
try {
  const plate = env("LIMES_PLATE");
  const owner = env("LIMES_OWNER");
  const asker = await signIn(browser, env("LIMES_URL_ASKER"));
  // The partner's alert, on the asker's board, saying who raised it.
  const row = `#alerts tbody tr[data-plate="${plate}"]`;
  await asker.waitForSelector(row, { timeout: 15000 });
  check((await asker.textContent(`${row} td:nth-child(7)`)).includes(owner), "the board says which partner raised the alert");

  // Hit/no-hit, then the request for the reads behind the hit (the owner publishes every second).
  await asker.click('#nav a[data-view="requests"]');
  let hit = false;
  for (let i = 0; i < 30 && !hit; i++) {
    await asker.fill("#q-plate", plate);
    await asker.click("#query-form button[type=submit]");
    await asker.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
    await asker.fill("#pd-case", "UI-2026/2");
    await asker.click('#purpose-dialog button[type="submit"]');
    await asker.waitForFunction(() => document.querySelectorAll("#query-answers li").length > 0 || document.getElementById("query-state").textContent, null, { timeout: 10000 });
    hit = (await asker.$$("#query-answers li button")).length > 0;
    if (!hit) await asker.waitForTimeout(500);
  }
  check(hit, "a hit at the owner within 15 s");
  await asker.fill("#query-answers li input", "the car of a robbery near the crossing");
  await asker.click("#query-answers li button");
  await asker.waitForFunction(() => document.querySelector("#query-answers li").textContent.includes("Requested"), null, { timeout: 10000 });

  // The owner's supervisor approves it on the owner's page.
  const ownerPage = await signIn(browser, env("LIMES_URL_OWNER"));
  await ownerPage.click('#nav a[data-view="requests"]');
  let pending = false;
  for (let i = 0; i < 30 && !pending; i++) {
    await ownerPage.click('#nav a[data-view="board"]');
    await ownerPage.click('#nav a[data-view="requests"]');
    pending = (await ownerPage.$$("#requests-in tbody tr button")).length > 0;
    if (!pending) await ownerPage.waitForTimeout(500);
  }
  check(pending, "the request reached the owner's page");
  await ownerPage.fill("#requests-in tbody tr input", "case confirmed by phone");
  await ownerPage.click("#requests-in tbody tr button:has-text('Approve')");
  await ownerPage.waitForFunction(() => !document.querySelector("#requests-in tbody tr button"), null, { timeout: 10000 });

  // The asker's page: answered.
  let answered = false;
  for (let i = 0; i < 30 && !answered; i++) {
    await asker.click('#nav a[data-view="board"]');
    await asker.click('#nav a[data-view="requests"]');
    answered = ((await asker.textContent("#requests-out tbody")) ?? "").includes("answered");
    if (!answered) await asker.waitForTimeout(500);
  }
  check(answered, "the asker's page shows the request answered");

  // Both pages' partners and requests views, with the partner, agreement and request real.
  await scanPartnersAndRequests(ownerPage, "owner");
  await scanPartnersAndRequests(asker, "asker");
} catch (e) {
  failed = e;
} finally {
  await browser.close();
}
if (failed) {
  if (trouble.length) console.error(`on the pages: ${trouble.join("\n")}`);
  console.error(`federation ui test failed: ${failed.stack ?? failed}`);
  process.exit(1);
}
console.log(JSON.stringify(report));
