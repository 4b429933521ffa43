// A clip on request across the border on two agencies' pages (crates/cli/tests/video.rs starts
// the RTSP camera and both nodes, federated, the camera's node sharing clips on request): the
// partner's investigator asks for the last minute of the camera from the Requests view's form,
// declaring the case; the camera's supervisor approves it on their page; the asker's page shows
// the request answered with its camera and span, and the clip — signed by the camera's agency —
// among the Video view's clips, ready to download. The requests view with the form passes
// axe-core in both themes.
// Environment: LIMES_URL (the camera's node), LIMES_PARTNER_URL (the asker's), LIMES_AGENCY (the
// camera's agency id), LIMES_CAMERA, LIMES_USER, LIMES_PASSWORD, LIMES_LEGAL_BASIS, CHROMIUM,
// LIMES_SCREENSHOTS (optional).
import { axe, check, env, report, run, signIn, until } from "./lib.mjs";

await run("clip request ui test", async (browser) => {
  const owner = await signIn(browser, env("LIMES_URL"));
  const asker = await signIn(browser, env("LIMES_PARTNER_URL"));
  const [agency, camera] = [env("LIMES_AGENCY"), env("LIMES_CAMERA")];

  // The asker's form: the partner whose clips this node receives, its camera, the last minute.
  await asker.click('#nav a[data-view="requests"]');
  await asker.waitForSelector(`#cr-partner option[value="${agency}"]`, { state: "attached", timeout: 10000 });
  await asker.waitForSelector("#clip-request-form:not([hidden])", { timeout: 10000 });
  await asker.selectOption("#cr-partner", agency);
  await asker.fill("#cr-camera", camera);
  const from = await asker.evaluate(() => {
    const d = new Date(Date.now() - 30000);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  });
  await asker.fill("#cr-from", from);
  await asker.fill("#cr-minutes", "1");
  await asker.fill("#cr-why", "the van seen at the crossing before the fire");
  await asker.click("#clip-request-form button[type=submit]");
  await asker.waitForSelector("#purpose-dialog[open]", { timeout: 10000 });
  await asker.fill("#pd-case", "UI-2026/9");
  await asker.click('#purpose-dialog button[type="submit"]');
  await asker.waitForFunction(() => document.getElementById("clip-request-state").textContent.includes("Requested"), null, { timeout: 10000 });
  const row = await asker.waitForSelector(`#requests-out tbody tr:has-text("${camera}")`, { timeout: 10000 });
  const id = await row.evaluate((tr) => tr.dataset.id);
  report.request = id;
  await axe(asker, "requests_clip");

  // The owner's supervisor approves it on their page: the clip is cut and sent.
  await until(owner, "requests", (i) => !!document.querySelector(`#requests-in tbody tr[data-id="${i}"] button`), id);
  check((await owner.textContent(`#requests-in tbody tr[data-id="${id}"]`)).includes(camera), "the owner sees which camera is asked for");
  await owner.fill(`#requests-in tbody tr[data-id="${id}"] input`, "case confirmed");
  await owner.click(`#requests-in tbody tr[data-id="${id}"] button:has-text('Approve')`);
  await owner.waitForFunction((i) => !document.querySelector(`#requests-in tbody tr[data-id="${i}"] button`), id, { timeout: 20000 });

  // The asker: answered, and the partner's clip among the Video view's clips.
  await until(asker, "requests", (i) => document.querySelector(`#requests-out tbody tr[data-id="${i}"]`)?.textContent.includes("answered"), id);
  await until(asker, "video", (a) => [...document.querySelectorAll("#clips-table tbody tr")].some((tr) => tr.textContent.includes(a) && !tr.querySelector("button.download").disabled), agency);
  report.clip_shown = true;
});
