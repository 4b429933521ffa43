// Seven locales; each a flat JSON file of keys (web/i18n/). English is the reference: a key
// missing in another locale is a test failure (crates/web/tests/page.rs), never a blank.
export const LOCALES = ["en", "ro", "uk", "sr-Cyrl", "sr-Latn", "cs", "pl"];
let strings = {};
let fallback = {};
let current = "en";

async function load(locale) {
  const r = await fetch(`i18n/${locale}.json`);
  if (!r.ok) throw new Error(`locale ${locale}: ${r.status}`);
  return r.json();
}

export async function setLocale(locale) {
  if (!LOCALES.includes(locale)) locale = "en";
  if (!Object.keys(fallback).length) fallback = await load("en");
  strings = locale === "en" ? fallback : await load(locale);
  current = locale;
  document.documentElement.lang = locale;
  localStorage.setItem("limes.locale", locale);
  apply(document);
}

export function locale() {
  return current;
}

/// The text of `key`, with `{name}` replaced from `vars`.
export function t(key, vars = {}) {
  const s = strings[key] ?? fallback[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/// Translates every element under `root` that names a key.
export function apply(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  document.title = t("app.title");
}

/// A date and time in the locale's way.
export function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString(current, { dateStyle: "short", timeStyle: "medium" });
}

/// How far `iso` is from now, in the locale's words ("in 12 minutes", "3 minutes ago").
export function relative(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Number.isNaN(seconds)) return "";
  const f = new Intl.RelativeTimeFormat(current, { numeric: "auto" });
  const a = Math.abs(seconds);
  if (a < 60) return f.format(seconds, "second");
  if (a < 3600) return f.format(Math.round(seconds / 60), "minute");
  if (a < 48 * 3600) return f.format(Math.round(seconds / 3600), "hour");
  return f.format(Math.round(seconds / 86400), "day");
}
