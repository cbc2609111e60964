// Small DOM and formatting helpers. Elements are built with h() (text nodes, never innerHTML), so data from
// the API can never become markup.

import { lang, t } from "./i18n.js";

/** h("button", {class: "primary", onclick: fn}, "text", child…) → an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's content. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Say something to screen readers and sighted users alike (the page's aria-live region). */
export function announce(message, kind = "info") {
  const region = document.getElementById("messages");
  if (!region) return;
  const note = h("p", { class: `note ${kind}`, role: kind === "error" ? "alert" : undefined }, message);
  region.replaceChildren(note);
  if (kind !== "error") setTimeout(() => note.remove(), 8000);
}

/** The words to show for an API error: its problem detail, field errors, or a network message. */
export function problemText(error) {
  if (!error || error.status === undefined) return String(error);
  if (error.status === 0) return t("common.network");
  const parts = [error.message];
  for (const item of error.fieldErrors || []) parts.push(`${item.field}: ${item.message}`);
  return parts.filter(Boolean).join(" — ");
}

export function showError(error) {
  announce(problemText(error), "error");
}

const locale = () => (lang() === "en" ? "en-GB" : "zh-CN");

// Every time is shown in the city's time (the services' deadlines, notices and the inbox texts are worded in
// it), whatever zone the reader's browser is set to, so a card's header and its body always agree.
export const CITY_TIME_ZONE = "Asia/Shanghai";
const CITY_OFFSET = "+08:00"; // Asia/Shanghai keeps no daylight saving

function formatter(options) {
  return new Intl.DateTimeFormat(locale(), { ...options, timeZone: CITY_TIME_ZONE });
}

/** A time (an ISO string or a Date) in city time: "2 Dec 2026, 19:37" / "2026年12月2日 19:37". */
export function fmtDateTime(value) {
  if (!value) return "—";
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : formatter({ dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** A calendar date ("2026-12-02", shown as it is) or a time's date in city time. */
export function fmtDate(value) {
  if (!value) return "—";
  // A bare date is a day in the city: read at its noon there, so no zone moves it to the day before or after.
  const date = value instanceof Date ? value : new Date(value.length === 10 ? `${value}T12:00:00${CITY_OFFSET}` : value);
  return Number.isNaN(date.getTime()) ? String(value) : formatter({ dateStyle: "medium" }).format(date);
}

/** A time as a datetime-local input's value ("2026-12-02T19:37"), in city time. */
export function cityInputValue(date) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: CITY_TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(date).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** A datetime-local input's value, read as city time, as an ISO instant. */
export function fromCityInput(value) {
  return new Date(`${value.length === 16 ? `${value}:00` : value}${CITY_OFFSET}`).toISOString();
}

/** fen → "¥1,234.00" */
export function fmtMoney(fen) {
  if (fen === null || fen === undefined) return "—";
  return new Intl.NumberFormat(locale(), { style: "currency", currency: "CNY" }).format(fen / 100);
}

/** "3 d 4 h", "25 min", or the time since, for a deadline. */
export function fmtRemaining(ms) {
  const abs = Math.abs(ms);
  const days = Math.floor(abs / 86400000);
  const hours = Math.floor((abs % 86400000) / 3600000);
  const minutes = Math.floor((abs % 3600000) / 60000);
  const text = days
    ? t("time.days_hours", { d: days, h: hours })
    : hours
      ? t("time.hours_minutes", { h: hours, m: minutes })
      : t("time.minutes", { m: Math.max(minutes, 0) });
  return ms >= 0 ? t("time.left", { time: text }) : t("time.overdue", { time: text });
}

/** How urgent a deadline is: "breached", "near" (within the given hours), or "ok". */
export function urgency(due, nearHours = 24) {
  if (!due) return "ok";
  const left = new Date(due).getTime() - Date.now();
  if (left < 0) return "breached";
  return left < nearHours * 3600000 ? "near" : "ok";
}

/** A deadline as a badge: the time and the remaining time, highlighted when near or past. */
export function deadlineBadge(due, nearHours = 24) {
  if (!due) return h("span", { class: "muted" }, "—");
  const level = urgency(due, nearHours);
  return h(
    "span",
    { class: `deadline ${level}`, title: fmtDateTime(due) },
    level === "ok" ? "" : h("span", { "aria-hidden": "true" }, "⚠ "),
    fmtRemaining(new Date(due).getTime() - Date.now()),
    level === "near" ? h("span", { class: "sr-only" }, ` (${t("time.near")})`) : null,
  );
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "—";
}

export function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hex SHA-256 of bytes, with the browser's SubtleCrypto. */
export async function sha256Hex(bytes) {
  if (!(globalThis.crypto && crypto.subtle)) throw new Error(t("common.no_crypto"));
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

export function hexToBytes(text) {
  const clean = String(text).trim();
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error("not hex");
  return new Uint8Array(clean.match(/../g)?.map((b) => parseInt(b, 16)) || []);
}

/** A labelled form field: <label for> + control (+ an optional hint). */
export function field(labelText, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h("small", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, labelText), control, hintEl);
}

/** <select> from [value, label] pairs. */
export function select(attrs, options, selected) {
  return h(
    "select",
    attrs,
    options.map(([value, text]) => h("option", { value, selected: String(value) === String(selected) }, text)),
  );
}

/** Disable a form's submit button while an async action runs. */
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

export function table(headers, rows, caption) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows),
    ),
  );
}

/** The named officer of a case (首问负责制): who answers for it, and an office number to call; null if none yet. */
export function officerLine(officer, caption) {
  if (!officer || !officer.display_name) return null;
  return h(
    "p",
    { class: "muted", "data-testid": "officer" },
    caption,
    " ",
    h("strong", {}, officer.display_name),
    officer.office_phone ? [" · ", h("a", { href: `tel:${officer.office_phone}` }, officer.office_phone)] : null,
  );
}
