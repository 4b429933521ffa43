// The operations-centre page: sign-in with a declared purpose, the views, language and theme.
import { api, session, setSession } from "./api.js";
import { LOCALES, apply, setLocale, t } from "./i18n.js";
import * as board from "./board.js";
import * as audit from "./audit.js";
import * as hotlist from "./hotlist.js";
import * as map from "./map.js";
import * as partners from "./partners.js";
import * as query from "./query.js";
import * as requests from "./requests.js";
import * as search from "./search.js";

const VIEWS = ["signin", "board", "map", "search", "hotlist", "partners", "requests", "audit"];
const recent = [];

function theme(name) {
  const dark = name === "dark";
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  localStorage.setItem("limes.theme", dark ? "dark" : "light");
  const b = document.getElementById("theme");
  b.dataset.i18n = dark ? "app.theme_light" : "app.theme_dark";
  b.textContent = t(b.dataset.i18n);
}

function showView(name) {
  for (const v of VIEWS) document.getElementById(`view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function route() {
  const s = session();
  const signedIn = Boolean(s?.token);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("signout").hidden = !signedIn;
  document.getElementById("sound").hidden = !signedIn;
  document.getElementById("who").textContent = signedIn ? t("app.signed_in_as", { user: s.user }) : "";
  if (!signedIn) {
    board.stop();
    showView("signin");
    return;
  }
  const view = location.hash.replace(/^#\//, "") || "board";
  const name = VIEWS.includes(view) && view !== "signin" ? view : "board";
  showView(name);
  if (name === "map") await map.show(recent);
  if (name === "search") await search.show();
  if (name === "hotlist") await hotlist.show();
  if (name === "partners") await partners.show();
  if (name === "requests") {
    query.show();
    await requests.show();
  }
  if (name === "audit") audit.show();
}

async function purposes() {
  const select = document.getElementById("purpose");
  try {
    const node = await api("/node");
    select.replaceChildren(
      ...node.purposes.map((p) => {
        const o = document.createElement("option");
        o.value = p;
        o.dataset.i18n = `purpose.${p}`;
        o.textContent = t(o.dataset.i18n);
        return o;
      }),
    );
    document.getElementById("who").dataset.agency = node.agency;
  } catch {
    // The sign-in itself will say what is wrong.
  }
}

async function signIn(e) {
  e.preventDefault();
  const f = e.target;
  const err = document.getElementById("signin-error");
  err.textContent = "";
  const body = {
    user: f.user.value.trim(),
    password: f.password.value,
    purpose: f.purpose.value,
    legal_basis: f.legal_basis.value.trim(),
  };
  if (f.totp.value.trim()) body.totp = f.totp.value.trim();
  if (f.case.value.trim()) body.case = f.case.value.trim();
  board.unlockSound();
  try {
    const s = await api("/auth/login", { method: "POST", body });
    setSession({ token: s.token, user: s.user, roles: s.roles, purpose: s.purpose ?? null });
    f.password.value = "";
    location.hash = "#/board";
    await board.start((a) => recent.unshift(a));
    await route();
    document.getElementById("main").focus();
  } catch (ex) {
    err.textContent = t("signin.failed", { why: ex.message });
  }
}

async function signOut() {
  try {
    await api("/auth/logout", { method: "POST", body: {} });
  } catch {
    // Signed out here either way.
  }
  setSession(null);
  board.stop();
  location.hash = "";
  await route();
}

async function init() {
  const select = document.getElementById("locale");
  const saved = localStorage.getItem("limes.locale");
  const wanted = saved ?? LOCALES.find((l) => navigator.language?.startsWith(l.split("-")[0])) ?? "en";
  await setLocale(wanted);
  select.value = wanted;
  select.addEventListener("change", async () => {
    await setLocale(select.value);
    theme(document.documentElement.dataset.theme);
    await route();
  });
  const dark = localStorage.getItem("limes.theme") ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  theme(dark);
  document.getElementById("theme").addEventListener("click", () => {
    theme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
  });
  const sound = document.getElementById("sound");
  sound.addEventListener("click", () => {
    board.prefs.sound = !board.prefs.sound;
    sound.setAttribute("aria-pressed", String(board.prefs.sound));
  });
  document.getElementById("signin").addEventListener("submit", signIn);
  document.getElementById("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  await purposes();
  apply(document);
  if (session()?.token) {
    await board.start((a) => recent.unshift(a)).catch(() => {});
  }
  await route();
}

init();
