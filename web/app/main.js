// The operations-centre page: sign-in with a declared purpose, the views, language and theme.
import { api, session, setSession } from "./api.js";
import { LOCALES, apply, setLocale, t } from "./i18n.js";
import * as board from "./board.js";
import * as audit from "./audit.js";
import * as bulletins from "./bulletins.js";
import * as incidents from "./incidents.js";
import * as hotlist from "./hotlist.js";
import * as map from "./map.js";
import * as operations from "./operations.js";
import * as patrols from "./patrols.js";
import * as partners from "./partners.js";
import * as query from "./query.js";
import * as requests from "./requests.js";
import * as search from "./search.js";
import * as video from "./video.js";
import { askPurpose } from "./purpose.js";

const VIEWS = ["signin", "board", "incidents", "patrols", "video", "operations", "map", "search", "hotlist", "bulletins", "partners", "requests", "audit"];
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
  document.getElementById("change-purpose").hidden = !signedIn;
  showPurpose();
  if (!signedIn) {
    board.stop();
    incidents.stop();
    bulletins.stop();
    patrols.stop();
    operations.stop();
    video.stop();
    showView("signin");
    return;
  }
  // `#/view`, or `#/view/origin/n` for one incident or bulletin.
  const [view, ...rest] = location.hash.replace(/^#\//, "").split("/");
  const name = VIEWS.includes(view) && view !== "signin" ? view : "board";
  const id = rest.length >= 2 ? rest.join("/") : null;
  showView(name);
  if (name === "incidents") await incidents.show(id);
  if (name === "bulletins") await bulletins.show(id);
  if (name === "patrols") await patrols.show();
  if (name === "video") await video.show();
  else video.stop();
  if (name === "operations") await operations.show(id);
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

/// The purpose the session is logged under, in the header, while signed in.
function showPurpose() {
  const s = session();
  const p = s?.token ? s.purpose : null;
  const text = !s?.token
    ? ""
    : !p
      ? t("purpose.none_declared")
      : p.case_ref
        ? t("purpose.current_case", { purpose: t(`purpose.${p.purpose}`), case: p.case_ref })
        : t("purpose.current", { purpose: t(`purpose.${p.purpose}`) });
  document.getElementById("declared").textContent = text;
}

/// Declares another purpose for the session, without signing in again: the node holds it
/// for the session (and logs the change); every act after it that declares none of its own,
/// the live board's stream included, is logged under it.
async function changePurpose() {
  const declared = await askPurpose();
  if (!declared) return;
  try {
    const body = { purpose: declared.purpose, legal_basis: declared.legal_basis };
    if (declared.case_ref) body.case = declared.case_ref;
    const me = await api("/auth/purpose", { method: "PUT", body });
    setSession({ ...session(), purpose: me.purpose });
    showPurpose();
    board.stop();
    // The live streams follow under the purpose declared now.
    patrols.stop();
    operations.stop();
    await board.start((a) => recent.unshift(a));
    await incidents.start();
    bulletins.start();
    await route();
  } catch (e) {
    document.getElementById("declared").textContent = t("purpose.change_failed", { why: e.message });
  }
}

/// The purposes the node's law allows, for the sign-in form, and the node's agency. When the
/// node cannot be asked (it is starting, the network is down), asked again, less and less often,
/// until it answers: the form is never left without a purpose to choose.
async function purposes(attempt = 0) {
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
    // The sign-in itself will say what is wrong; meanwhile, ask again.
    setTimeout(() => purposes(attempt + 1), Math.min(5000, 250 * 2 ** attempt));
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
    await incidents.start();
    bulletins.start();
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
  incidents.stop();
  bulletins.stop();
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
  document.getElementById("change-purpose").addEventListener("click", changePurpose);
  window.addEventListener("hashchange", route);
  await purposes();
  apply(document);
  if (session()?.token) {
    await board.start((a) => recent.unshift(a)).catch(() => {});
    await incidents.start().catch(() => {});
    bulletins.start();
  }
  await route();
}

init();
