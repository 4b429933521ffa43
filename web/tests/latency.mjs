// `limes bench ui`: read-to-screen latency in a real browser. Signs in to the operations-centre
// page, then posts reads of hotlisted plates one at a time and times each from the moment the
// read is sent to the moment its alert's row is on the live board. Prints the times (ms) as a
// JSON array. Environment: as tests/ui.mjs, with LIMES_PLATES (comma-separated, each hotlisted).
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const url = env("LIMES_URL");
const browser = await chromium.launch({ executablePath: env("CHROMIUM", "/usr/bin/chromium"), headless: true, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage();
  await page.goto(`${url}/ui/`);
  await page.fill("#user", env("LIMES_USER"));
  await page.fill("#password", env("LIMES_PASSWORD"));
  await page.selectOption("#purpose", "investigation");
  await page.fill("#legal_basis", env("LIMES_LEGAL_BASIS"));
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#view-board:not([hidden])", { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById("board-state").textContent.length > 0, null, { timeout: 10000 });
  const times = [];
  for (const plate of env("LIMES_PLATES").split(",")) {
    const body = { camera: env("LIMES_CAMERA"), time: new Date().toISOString(), plate, country: "RO", confidence: 0.95, direction: "leaving" };
    // The browser's clock times both ends: the read is posted from the page itself.
    const ms = await page.evaluate(
      async ({ body, token, plate }) => {
        const seen = new Promise((resolve) => {
          const rows = document.querySelector("#alerts tbody");
          const obs = new MutationObserver(() => {
            if (rows.querySelector(`tr[data-plate="${plate}"]`)) {
              obs.disconnect();
              resolve(performance.now());
            }
          });
          obs.observe(rows, { childList: true });
        });
        const t0 = performance.now();
        const r = await fetch("/api/v1/reads", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        if (!r.ok) throw new Error(`read: ${r.status}`);
        return (await seen) - t0;
      },
      { body, token: env("LIMES_TOKEN"), plate },
    );
    times.push(ms);
  }
  console.log(JSON.stringify(times));
} finally {
  await browser.close();
}
