// Live video across the border on two agencies' pages (crates/cli/tests/video.rs starts the RTSP
// camera and both nodes, federated, with an open incident that names the partner): the camera's
// supervisor lets the partner watch it from the Video view's form (anonymised, as the form grants
// unless told otherwise); the partner's Video view shows the camera under "Partners' cameras" and
// plays it live, relayed by its node from the camera's with faces and plates blurred;
// the supervisor revokes the grant from its row and the partner's tile stops and says so. Both
// views pass axe-core in both themes.
// Environment: LIMES_URL (the camera's node), LIMES_PARTNER_URL, LIMES_PARTNER (its agency id),
// LIMES_CAMERA, LIMES_INCIDENT, LIMES_USER, LIMES_PASSWORD, LIMES_LEGAL_BASIS, CHROMIUM,
// LIMES_SCREENSHOTS (optional).
import { axe, check, env, eventually, report, run, signIn } from "./lib.mjs";

await run("shared video ui test", async (browser) => {
  const origin = await signIn(browser, env("LIMES_URL"));
  const partner = await signIn(browser, env("LIMES_PARTNER_URL"));
  const [agency, camera, incident] = [env("LIMES_PARTNER"), env("LIMES_CAMERA"), env("LIMES_INCIDENT")];

  // The supervisor's form: the partner, the camera, the incident that names the partner.
  await origin.click('#nav a[data-view="video"]');
  await origin.waitForSelector("#video-grants:not([hidden])", { timeout: 10000 });
  await origin.waitForSelector(`#vg-partner option[value="${agency}"]`, { state: "attached", timeout: 10000 });
  await origin.selectOption("#vg-partner", agency);
  await origin.waitForSelector(`#vg-camera option[value="${camera}"]`, { state: "attached", timeout: 10000 });
  await origin.selectOption("#vg-camera", camera);
  await origin.waitForSelector(`#vg-incident option[value="${incident}"]`, { state: "attached", timeout: 10000 });
  await origin.selectOption("#vg-incident", incident);
  await origin.fill("#vg-minutes", "10");
  await origin.click("#video-grant-form button[type=submit]");
  await origin.waitForFunction(() => document.getElementById("video-grant-state").textContent.includes("until"), null, { timeout: 10000 });
  const row = await origin.waitForSelector("#video-grants-table tbody tr button.revoke", { timeout: 10000 });
  const grant = await row.evaluate((b) => b.closest("tr").dataset.grant);
  report.grant = grant;
  // Granted from the form as it opens: anonymised, which the row says.
  const form = await origin.$eval(`#video-grants-table tbody tr[data-grant="${grant}"] td.grant-form`, (td) => td.textContent);
  check(form.includes("blurred"), `the grant's row says it is shown "${form}"`);
  await axe(origin, "video_grants");

  // The partner's page: the camera plays live.
  const granted = Date.now();
  await partner.click('#nav a[data-view="video"]');
  await partner.waitForSelector(`#video-shared-grid li[data-grant="${grant}"] video`, { timeout: 20000 });
  const key = `grant:${grant}`;
  const stats = await eventually(
    "the partner's camera playing",
    () => partner.evaluate((k) => (globalThis.limesLiveStats?.[k]?.frames ?? 0) > 30 && globalThis.limesLiveStats[k], key),
    30000,
  );
  report.shared_first_30_frames_ms = Date.now() - granted;
  report.shared_latency_ms = stats.latency_ms;
  check(stats.latency_ms < 5000, `the relayed view is ${stats.latency_ms} ms behind the camera`);
  const size = await partner.evaluate((g) => document.querySelector(`#video-shared-grid li[data-grant="${g}"] video`).videoWidth, grant);
  check(size === 320, `the relayed video decoded (${size} wide)`);
  await axe(partner, "video_shared");

  // Revoked on the camera's page: the partner's tile stops.
  await origin.click(`#video-grants-table tbody tr[data-grant="${grant}"] button.revoke`);
  const revoked = Date.now();
  await partner.waitForSelector(`#video-shared-grid li.down[data-grant="${grant}"]`, { timeout: 15000 });
  report.revoked_to_stopped_ms = Date.now() - revoked;
  const shown = await partner.evaluate((g) => document.querySelector(`#video-shared-grid li[data-grant="${g}"] video`).readyState, grant);
  check(shown === 0, `the partner's tile still holds a picture after the revocation (ready state ${shown})`);
  await origin.waitForSelector(`#video-grants-table tbody tr[data-grant="${grant}"]:not(:has(button.revoke))`, { timeout: 10000 });
});
