// The live board: the node's alerts, newest first, as they arrive (SSE), with a sound and a
// visual cue for each new one, acknowledged with a button; a partner's alert says which
// agency raised it.
import { api, follow } from "./api.js";
import { t, when } from "./i18n.js";
import { el } from "./dom.js";
import { markedCell } from "./parts.js";

const MAX_ROWS = 500;
let controller = null;
let audio = null;
export const prefs = { sound: true };

/// A short tone (higher for `priority` 1 and 2), unless the person switched sound off.
export function beep(priority) {
  if (!prefs.sound) return;
  try {
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = priority <= 2 ? 880 : 660;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  } catch {
    // No audio device: the visual cue remains.
  }
}

/// Created on a user gesture (sign-in), as browsers require for sound.
export function unlockSound() {
  try {
    audio ??= new AudioContext();
  } catch {
    audio = null;
  }
}

function row(a, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.id = a.id;
  tr.dataset.plate = a.plate;
  if (fresh) tr.classList.add("fresh");
  if (a.priority <= 2) tr.classList.add("urgent");
  tr.append(
    el("td", when(a.time)),
    el("td", t("alert.priority_n", { n: a.priority }), `priority p${Math.min(a.priority, 5)}`),
    markedCell(tr, a.exercise, "plate", a.plate),
    el("td", t(`reason.${a.reason}`)),
    el("td", t(`kind.${a.kind}`)),
    el("td", a.camera),
    el("td", a.origin ? t("alert.partner", { agency: a.origin.agency }) : t("alert.this_node")),
  );
  const ack = document.createElement("td");
  if (a.ack) {
    ack.textContent = t("alert.acked_by", { by: a.ack.by });
  } else {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "ack";
    b.textContent = t("alert.ack_button");
    b.setAttribute("aria-label", t("alert.ack_label", { plate: a.plate }));
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const done = await api(`/alerts/${a.id}/ack`, { method: "POST", body: {} });
        ack.textContent = t("alert.acked_by", { by: done.ack?.by ?? "" });
      } catch (e) {
        b.disabled = false;
        ack.append(` ${e.message}`);
      }
    });
    ack.append(b);
  }
  tr.append(ack);
  return tr;
}

function add(a, fresh) {
  const body = document.querySelector("#alerts tbody");
  if (body.querySelector(`tr[data-id="${a.id}"]`)) return;
  body.prepend(row(a, fresh));
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  if (fresh) {
    document.getElementById("announce").textContent = t("board.announce", {
      plate: a.plate,
      reason: t(`reason.${a.reason}`),
      camera: a.camera,
    });
    beep(a.priority);
  }
}

export async function start(onAlert = () => {}) {
  stop();
  const state = document.getElementById("board-state");
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren();
  try {
    const recent = await api("/alerts?limit=100");
    for (const a of recent.reverse()) add(a, false);
  } catch (e) {
    state.textContent = e.message;
  }
  controller = new AbortController();
  follow(
    "/alerts/stream",
    (type, data) => {
      if (type !== "alert") return;
      const a = JSON.parse(data);
      add(a, true);
      onAlert(a);
    },
    controller.signal,
    (s) => (state.textContent = t(`board.state_${s.replace("-", "_")}`)),
  );
}

export function stop() {
  controller?.abort();
  controller = null;
}
