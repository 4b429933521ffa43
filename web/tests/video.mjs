// The video view against a node recording two real cameras (crates/cli/tests/video.rs starts
// GStreamer's RTSP server and the node): both play live in the grid — the H.264 one as recorded,
// the H.265 one transcoded for viewing — with frames painted continuously and the delay from
// the camera's clock to the painted frame measured; a camera's recordings show on the last
// hour's timeline and play from the scrubber's time; a clip cut from the timeline downloads with
// its signed manifest; the view passes axe-core in both themes.
// Environment: LIMES_URL, LIMES_USER, LIMES_PASSWORD, LIMES_LEGAL_BASIS, LIMES_CAMERAS (comma
// separated, those that play), CHROMIUM, LIMES_SCREENSHOTS (optional).
import { readFileSync } from "node:fs";
import { axe, check, env, eventually, report, run, signIn } from "./lib.mjs";

await run("video ui test", async (browser) => {
  // For a case: a supervisor downloads the node's own clip as recorded only for one.
  const page = await signIn(browser, env("LIMES_URL"), {}, "RO-2026/17");
  const cameras = env("LIMES_CAMERAS").split(",");
  await page.click('#nav a[data-view="video"]');
  await page.waitForSelector("#view-video:not([hidden])");
  for (const camera of cameras) {
    await page.waitForSelector(`#video-grid li[data-camera="${camera}"] video`, { timeout: 15000 });
  }
  // Live: frames keep being painted, near the camera's own time.
  for (const camera of cameras) {
    const started = Date.now();
    const stats = await eventually(
      `${camera} playing live`,
      () => page.evaluate((c) => (globalThis.limesLiveStats?.[c]?.frames ?? 0) > 50 && globalThis.limesLiveStats[c], camera),
      30000,
    ).catch(async (e) => {
      const tile = await page.textContent(`#video-grid li[data-camera="${camera}"]`);
      const stats = await page.evaluate((c) => {
        const v = document.querySelector(`#video-grid li[data-camera="${c}"] video`);
        const b = [...Array(v.buffered.length).keys()].map((i) => [v.buffered.start(i), v.buffered.end(i)]);
        const video = { ready: v.readyState, time: v.currentTime, paused: v.paused, error: v.error?.message, buffered: b };
        return JSON.stringify({ stats: globalThis.limesLiveStats, video });
      }, camera);
      throw new Error(`${e.message}: the tile says ${JSON.stringify(tile)}, frames painted ${stats}`);
    });
    report[`live_${camera}_first_50_frames_ms`] = Date.now() - started;
    const t0 = await page.evaluate((c) => document.querySelector(`#video-grid li[data-camera="${c}"] video`).currentTime, camera);
    await page.waitForTimeout(1000);
    const later = await page.evaluate((c) => {
      const v = document.querySelector(`#video-grid li[data-camera="${c}"] video`);
      return { time: v.currentTime, ready: v.readyState, width: v.videoWidth };
    }, camera);
    check(later.time > t0 + 0.5, `${camera}: the live video moves (${t0} → ${later.time})`);
    check(later.ready >= 2 && later.width === 320, `${camera}: decoded (${JSON.stringify(later)})`);
    report[`live_${camera}_latency_ms`] = await page.evaluate((c) => globalThis.limesLiveStats[c].latency_ms, camera);
    check(stats.latency_ms < 5000, `${camera}: ${stats.latency_ms} ms behind the camera`);
  }
  await axe(page, "video_live");

  // Recordings: on the timeline, played from the scrubber.
  for (const camera of cameras) {
    await page.click(`#video-grid li[data-camera="${camera}"] button.open`);
    await page.waitForSelector("#video-recordings:not([hidden])");
    await page.waitForFunction(() => Number(document.getElementById("video-timeline").dataset.segments) > 0, null, { timeout: 10000 });
    // Ten seconds back: recorded for sure.
    await page.evaluate(() => {
      const s = document.getElementById("video-scrub");
      s.value = String(Date.now() - 10000);
      s.dispatchEvent(new Event("input"));
    });
    await page.click("#video-play");
    await page.waitForFunction(
      () => {
        const v = document.getElementById("video-playback");
        return v.readyState >= 2 && v.currentTime > 1;
      },
      null,
      { timeout: 20000 },
    );
    const played = await page.evaluate(() => document.getElementById("video-playback").videoWidth);
    check(played === 320, `${camera}: the recording decoded (${played} wide)`);
    report[`played_${camera}`] = true;
  }
  await axe(page, "video_recordings");

  // A clip cut from the timeline (the recordings of the last camera opened, ten seconds back):
  // listed, downloaded as an MP4 with its manifest.
  await page.evaluate(() => {
    const s = document.getElementById("video-scrub");
    s.value = String(Date.now() - 10000);
    s.dispatchEvent(new Event("input"));
  });
  await page.click("#video-clip");
  await page.waitForSelector("#clips-table tbody tr button.download:not([disabled])", { timeout: 20000 });
  const [file] = await Promise.all([page.waitForEvent("download", { timeout: 10000 }), page.click("#clips-table tbody tr button.download")]);
  const clipBytes = readFileSync(await file.path());
  check(file.suggestedFilename().endsWith(".mp4") && clipBytes.subarray(4, 8).toString() === "ftyp", `a clip downloaded: ${file.suggestedFilename()}`);
  const [manifest] = await Promise.all([page.waitForEvent("download", { timeout: 10000 }), page.click("#clips-table tbody tr button.manifest")]);
  const signed = JSON.parse(readFileSync(await manifest.path(), "utf8"));
  check(signed.bytes === clipBytes.length && signed.format === "limes-clip-v1", `its manifest: ${JSON.stringify(signed)}`);
  report.clip_bytes = clipBytes.length;
  report.clip_frames = signed.frames;
  await axe(page, "video_clips");
});
