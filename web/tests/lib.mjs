// What the browser tests of two agencies' pages share: the environment, checks, Chromium,
// signing in, axe-core's scan in both themes, and waiting on a view that is shown again.
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

export function check(ok, what) {
  if (!ok) throw new Error(what);
}

/// What a test reports to the Rust test driving it (JSON on standard output), and the page
/// script errors it saw.
export const report = {};
export const errors = [];

export function launch() {
  return chromium.launch({ executablePath: env("CHROMIUM", "/usr/bin/chromium"), headless: true, args: ["--no-sandbox", "--disable-gpu"] });
}

/// axe-core's WCAG 2.2 AA scan of what `page` shows, in both themes (as web/tests/ui.mjs);
/// with LIMES_SCREENSHOTS, a screenshot of each.
export async function axe(page, view) {
  for (const theme of ["light", "dark"]) {
    await page.evaluate((t) => {
      if (document.documentElement.dataset.theme !== t) document.getElementById("theme").click();
    }, theme);
    const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]).analyze();
    if (result.violations.length) {
      const lines = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
      throw new Error(`axe-core found ${result.violations.length} violations on ${view} in the ${theme} theme:\n${lines.join("\n")}`);
    }
    if (process.env.LIMES_SCREENSHOTS) {
      mkdirSync(process.env.LIMES_SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(process.env.LIMES_SCREENSHOTS, `${view}-${theme}.png`) });
    }
  }
  report[`axe_${view}`] = "0 violations (light, dark)";
}

/// Loads the sign-in page of `url` in `page` until its purposes are there. Chromium abandons the
/// requests in flight (net::ERR_NETWORK_CHANGED) when it sees the machine's network change, and
/// the federation and netlab tests that run beside these make and remove network namespaces: a
/// page whose scripts were lost that way is loaded again, at most three times. Any other failure
/// is thrown, with what went wrong on the pages (`trouble`).
export async function openSignIn(page, url, trouble = []) {
  for (let attempt = 1; ; attempt++) {
    let changed = false;
    const seen = (r) => {
      if (r.failure()?.errorText?.includes("ERR_NETWORK_CHANGED")) changed = true;
    };
    page.on("requestfailed", seen);
    try {
      await page.goto(`${url}/ui/`);
      // The purposes come from the node (GET /api/v1/node, asked again until it answers).
      await page.waitForSelector('#purpose option[value="investigation"]', { state: "attached", timeout: 30000 });
      return;
    } catch (e) {
      if (!changed || attempt >= 3) {
        throw new Error(`the sign-in form of ${url} got no purposes (${e.message}); on the pages: ${trouble.join("; ") || "nothing"}`);
      }
      console.error(`${url}: the page's requests were abandoned as the network changed; loading it again`);
    } finally {
      page.off("requestfailed", seen);
    }
  }
}

/// A page of its own (a context per agency) signed in at `url` for an investigation (of the case
/// `caseRef`, when given).
export async function signIn(browser, url, options = {}, caseRef = undefined) {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options })).newPage();
  page.on("pageerror", (e) => errors.push(`${url}: ${e.message}`));
  await openSignIn(page, url, errors);
  await page.fill("#user", env("LIMES_USER"));
  await page.fill("#password", env("LIMES_PASSWORD"));
  await page.selectOption("#purpose", "investigation");
  await page.fill("#legal_basis", env("LIMES_LEGAL_BASIS"));
  if (caseRef) await page.fill("#case", caseRef);
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#view-board:not([hidden])", { timeout: 10000 });
  return page;
}

/// Shows `view` on `page` again until `ready` holds in it (what is not live), for at most 15 s.
export async function until(page, view, ready, arg) {
  for (let i = 0; i < 30; i++) {
    await page.click('#nav a[data-view="board"]');
    await page.click(`#nav a[data-view="${view}"]`);
    await page.waitForSelector(`#view-${view}:not([hidden])`);
    if (await page.evaluate(ready, arg)) return;
    await page.waitForTimeout(500);
  }
  throw new Error(`waited 15 s on ${view} for ${ready}`);
}

/// Waits until `f` (async) returns something, for at most `ms`.
export async function eventually(what, f, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`waited ${ms / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/// A client of a node's API with an API token (the test's own acts, as an integrator's).
export function client(url, token) {
  return async (path, { method = "GET", body, raw, type } = {}) => {
    const headers = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (raw !== undefined) headers["content-type"] = type ?? "application/octet-stream";
    const r = await fetch(`${url}/api/v1${path}`, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: r.status, json };
  };
}

/// Runs `body` with a browser, then prints the report (or the failure, exit code 1).
export async function run(name, body) {
  const browser = await launch();
  let failed = null;
  try {
    await body(browser);
    check(errors.length === 0, `script errors: ${errors.join("; ")}`);
  } catch (e) {
    failed = e;
  } finally {
    await browser.close();
  }
  if (failed) {
    console.error(`${name} failed: ${failed.stack ?? failed}`);
    process.exit(1);
  }
  console.log(JSON.stringify(report));
}
