// Glass-to-glass latency of the live view, for `limes bench video`: the node records the clock
// cameras of scripts/rtsp-test-server (each frame shows, as 8 × 6 black or white blocks, the
// wall-clock millisecond it was made, with a checksum); this page plays them in the Video view
// and, for every frame Chromium presents (requestVideoFrameCallback), reads the blocks back from
// the frame and subtracts that time from the moment the frame is expected on the screen. The
// server, the node and Chromium run on one machine: one clock.
// Environment: LIMES_URL, LIMES_USER, LIMES_PASSWORD, LIMES_LEGAL_BASIS, LIMES_CAMERAS (comma
// separated), LIMES_SECONDS (how long to sample each), CHROMIUM. Prints
// {"camera": {"samples": [ms…], "undecoded": n, "width": w, "height": h}, …}.
import { env, eventually, report, run, signIn } from "./lib.mjs";

const seconds = Number(env("LIMES_SECONDS", "10"));

await run("glass-to-glass", async (browser) => {
  const page = await signIn(browser, env("LIMES_URL"));
  await page.click('#nav a[data-view="video"]');
  for (const camera of env("LIMES_CAMERAS").split(",")) {
    const selector = `#video-grid li[data-camera="${camera}"] video`;
    await page.waitForSelector(selector, { timeout: 30000 });
    await eventually(`${camera} playing`, () => page.evaluate((c) => (globalThis.limesLiveStats?.[c]?.frames ?? 0) > 25, camera), 60000);
    report[camera] = await page.evaluate(
      ([selector, ms]) =>
        new Promise((resolve) => {
          const video = document.querySelector(selector);
          const canvas = document.createElement("canvas");
          canvas.width = 160;
          canvas.height = 120;
          const ctx = canvas.getContext("2d", { willReadFrequently: true });
          const out = { samples: [], undecoded: 0, width: video.videoWidth, height: video.videoHeight };
          const end = performance.now() + ms;
          const TWO40 = 2 ** 40;
          const onFrame = (now, meta) => {
            ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
            const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            // 48 bits, most significant first: 40 bits of milliseconds, 8 of checksum.
            let value = 0;
            let check = 0;
            for (let i = 0; i < 48; i++) {
              const x = Math.floor(((i % 8) + 0.5) * (canvas.width / 8));
              const y = Math.floor((Math.floor(i / 8) + 0.5) * (canvas.height / 6));
              const bit = pixels[(y * canvas.width + x) * 4] > 128 ? 1 : 0;
              if (i < 40) value = value * 2 + bit;
              else check = check * 2 + bit;
            }
            let sum = 0;
            for (let b = 0, v = value; b < 5; b++, v = Math.floor(v / 256)) sum += v % 256;
            if (sum % 256 === check) {
              const shown = (performance.timeOrigin + meta.expectedDisplayTime) % TWO40;
              out.samples.push(((shown - value + TWO40) % TWO40));
            } else {
              out.undecoded += 1;
            }
            if (performance.now() < end) video.requestVideoFrameCallback(onFrame);
            else resolve(out);
          };
          video.requestVideoFrameCallback(onFrame);
        }),
      [selector, seconds * 1000],
    );
  }
});
