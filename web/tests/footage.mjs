// Drone footage on the map (crates/cli/tests/footage.rs makes a real H.264 file with ffmpeg and
// a GPX track of the same flight, and starts the node): uploaded from the Video view's form, the
// file plays beside the offline map with its track drawn, and the marker stands where the track
// says the drone was at the moment the video shows, moving as it plays; axe-core clean.
// Environment: LIMES_URL, LIMES_USER, LIMES_PASSWORD, LIMES_LEGAL_BASIS, LIMES_VIDEO (the file),
// LIMES_GPX, LIMES_CAMERA, LIMES_START (local time of the first frame, as datetime-local takes
// it), LIMES_TRACK (JSON: [[ms, lat, lon], …] of the GPX), CHROMIUM, LIMES_SCREENSHOTS.
import { axe, check, env, eventually, report, run, signIn } from "./lib.mjs";

const track = JSON.parse(env("LIMES_TRACK"));

/// Where the GPX says the drone was at `at` (ms), linearly between its points.
function expected(at) {
  const hi = track.findIndex(([t]) => t >= at);
  if (hi <= 0) return track[Math.max(hi, 0)].slice(1);
  const [t0, a0, o0] = track[hi - 1];
  const [t1, a1, o1] = track[hi];
  const f = (at - t0) / (t1 - t0);
  return [a0 + f * (a1 - a0), o0 + f * (o1 - o0)];
}

await run("footage ui test", async (browser) => {
  const page = await signIn(browser, env("LIMES_URL"));
  await page.click('#nav a[data-view="video"]');
  await page.waitForSelector("#video-footage:not([hidden])", { timeout: 10000 });

  // Uploaded from the form, with its telemetry.
  await page.fill("#fu-camera", env("LIMES_CAMERA"));
  await page.fill("#fu-start", env("LIMES_START"));
  await page.setInputFiles("#fu-file", env("LIMES_VIDEO"));
  await page.setInputFiles("#fu-telemetry", env("LIMES_GPX"));
  await page.click("#footage-upload button[type=submit]");
  await page.waitForSelector("#footage-table tbody tr button.open", { timeout: 20000 });
  const row = await page.textContent("#footage-table tbody tr");
  check(/13/.test(row) && row.includes("GPX"), `the row names the track: ${row}`);
  await axe(page, "footage_list");

  // Played on the map: the track drawn, the marker where the drone was.
  await page.click("#footage-table tbody tr button.open");
  await page.waitForSelector("#footage-map path.footage-track", { timeout: 15000 });
  const first = await eventually(
    "two seconds played",
    () => page.evaluate(() => globalThis.limesFootage.media_s > 2 && { ...globalThis.limesFootage }),
    20000,
  );
  const later = await eventually(
    "five seconds played",
    () => page.evaluate(() => globalThis.limesFootage.media_s > 5 && { ...globalThis.limesFootage }),
    20000,
  );
  for (const s of [first, later]) {
    const [lat, lon] = expected(s.at);
    check(Math.abs(s.lat - lat) < 1e-6 && Math.abs(s.lon - lon) < 1e-6, `at ${s.media_s} s the marker is at ${s.lat}, ${s.lon}; the track says ${lat}, ${lon}`);
  }
  check(later.lat > first.lat && later.lon > first.lon, `the marker moves north-east with the drone (${JSON.stringify([first, later])})`);
  const width = await page.evaluate(() => document.getElementById("footage-video").videoWidth);
  check(width === 320, `the footage decoded (${width} wide)`);
  // The marker drawn where the map puts that position.
  const drawn = await page.evaluate(() => {
    const m = document.querySelector("#footage-map path.footage-marker");
    return m && m.getBoundingClientRect().width > 0;
  });
  check(drawn, "the marker is drawn on the map");
  report.marker = [later.lat, later.lon];
  report.played_s = later.media_s;
  await page.evaluate(() => document.getElementById("footage-video").pause());
  await axe(page, "footage_player");
});
