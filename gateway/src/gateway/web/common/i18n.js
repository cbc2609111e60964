// Two languages, zh-CN (default) and en, from each front end's i18n/<lang>.json; the choice is kept in
// localStorage. Keys are dotted paths; "{name}" placeholders are filled from the vars given.

export const LANGS = ["zh-CN", "en"];
const STORE = "talent.lang";
let messages = {};
let fallback = {};
let current = "zh-CN";

export function initialLang() {
  const saved = localStorage.getItem(STORE);
  if (LANGS.includes(saved)) return saved;
  return (navigator.language || "zh-CN").toLowerCase().startsWith("en") ? "en" : "zh-CN";
}

async function fetchMessages(base, lang) {
  const response = await fetch(`${base}i18n/${lang}.json`, { cache: "no-cache" });
  return response.ok ? response.json() : {};
}

/** Load a language (and zh-CN as the fallback for keys a translation lacks). */
export async function setLang(base, lang) {
  current = LANGS.includes(lang) ? lang : "zh-CN";
  localStorage.setItem(STORE, current);
  [messages, fallback] = await Promise.all([
    fetchMessages(base, current),
    current === "zh-CN" ? Promise.resolve({}) : fetchMessages(base, "zh-CN"),
  ]);
  document.documentElement.lang = current;
  return current;
}

export function lang() {
  return current;
}

function lookup(table, key) {
  return key.split(".").reduce((node, part) => (node && typeof node === "object" ? node[part] : undefined), table);
}

/** The message for key, with {placeholders} filled; the key itself when no language has it. */
export function t(key, vars = {}) {
  let text = lookup(messages, key);
  if (typeof text !== "string") text = lookup(fallback, key);
  if (typeof text !== "string") return key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** A translated label for an enumerated value (status, tier, route…), or the value itself. */
export function label(group, value) {
  if (value === null || value === undefined || value === "") return "—";
  const key = `${group}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

/** Fill static markup: [data-i18n] text, [data-i18n-aria-label], [data-i18n-placeholder], [data-i18n-title]. */
export function translatePage(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  for (const attr of ["aria-label", "placeholder", "title"]) {
    root.querySelectorAll(`[data-i18n-${attr}]`).forEach((el) => {
      el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
    });
  }
}
