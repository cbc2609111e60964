// The talent web app: OTP sign-in, then five tabs — code, benefits, housing, inbox, me.

import { ApiError } from "../common/api.js";
import { LANGS, initialLang, lang, setLang, t, translatePage } from "../common/i18n.js";
import { announce, busy, field, h, mount, problemText } from "../common/ui.js";
import { benefitsPage } from "./benefits.js";
import { codePage } from "./code.js";
import { housingPage } from "./housing.js";
import { inboxPage, unreadCount } from "./inbox.js";
import { certifyPage, mePage } from "./me.js";
import { changeRequestPage } from "./facts.js";
import { jobsPage } from "./jobs.js";
import { api, go, leave } from "./session.js";

const BASE = new URL(".", import.meta.url).pathname;
const TABS = [
  { path: "code", icon: "▦", render: codePage },
  { path: "benefits", icon: "¥", render: benefitsPage },
  { path: "housing", icon: "⌂", render: housingPage },
  { path: "inbox", icon: "✉", render: inboxPage },
  { path: "me", icon: "☺", render: mePage },
];
const SUBPAGES = { "me/certify": certifyPage, "me/change": changeRequestPage };
// Pages anyone may open, signed in or not: the jobs employers declared are public.
const PUBLIC = { jobs: jobsPage };

function route() {
  return location.hash.replace(/^#\/?/, "");
}

async function renderTabs(current) {
  const tabs = document.getElementById("tabs");
  tabs.hidden = !api.signedIn;
  document.getElementById("sign-out").hidden = !api.signedIn;
  if (!api.signedIn) return;
  const top = current.split("/")[0];
  mount(
    tabs,
    TABS.map((tab) =>
      h(
        "a",
        { href: `#/${tab.path}`, "aria-current": tab.path === top ? "page" : undefined, "data-tab": tab.path },
        h("span", { class: "icon", "aria-hidden": "true" }, tab.icon),
        h("span", {}, t(`nav.${tab.path}`)),
      ),
    ),
  );
  const unread = await unreadCount().catch(() => 0);
  if (unread) {
    tabs
      .querySelector('[data-tab="inbox"]')
      .append(h("span", { class: "count" }, h("span", { class: "sr-only" }, t("inbox.unread_count")), unread));
  }
}

let renders = 0;

async function render() {
  leave();
  const main = document.getElementById("main");
  const path = route().split("?")[0];
  if (!api.signedIn && !PUBLIC[path]) {
    renders += 1; // a page still loading (signed out meanwhile) must not paint over the sign-in form
    renderTabs("");
    return signInPage(main);
  }
  if (!path || path === "signin") return go("code");
  renderTabs(path);
  // Pages render into a fresh container that replaces the current one when ready, unless another
  // navigation started meanwhile (a slow page must never paint over the page the user went on to).
  const generation = ++renders;
  const view = h("div", { class: "view" });
  try {
    const page = PUBLIC[path] || SUBPAGES[path] || TABS.find((tab) => tab.path === path)?.render;
    if (!page) mount(view, h("h2", {}, t("common.not_found")));
    else await page(view);
  } catch (error) {
    mount(view, h("h2", {}, t("common.error")), h("p", { class: "note error", role: "alert" }, problemText(error)));
  }
  if (generation === renders) mount(main, view);
}

function signInPage(main) {
  const phone = h("input", {
    name: "phone",
    type: "tel",
    autocomplete: "tel",
    inputmode: "tel",
    required: true,
    value: "+86",
    pattern: "\\+[0-9]{8,15}",
  });
  const code = h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: "8" });
  const send = h("button", { type: "button" }, t("signin.send_code"));
  const submit = h("button", { type: "submit", class: "primary" }, t("signin.submit"));
  const devNote = h("p", { class: "note", hidden: true, "data-testid": "dev-code-note" });
  const error = h("p", { class: "note error", role: "alert", hidden: true });
  const codeField = field(t("signin.code"), code, t("signin.code_hint"));
  codeField.hidden = true;
  submit.hidden = true;
  const fail = (e) => {
    error.hidden = false;
    error.textContent =
      e instanceof ApiError && e.status === 429 ? t("signin.rate_limited", { s: e.retryAfter || 60 }) : problemText(e);
  };
  send.addEventListener("click", () => {
    if (!phone.reportValidity()) return;
    busy(send, async () => {
      error.hidden = true;
      try {
        const answer = await api.request("/api/v1/auth/otp", { method: "POST", json: { phone: phone.value.trim() }, auth: false });
        codeField.hidden = false;
        submit.hidden = false;
        if (answer.dev_code) {
          devNote.hidden = false;
          mount(devNote, t("signin.dev_code"), " ", h("span", { class: "dev-code", "data-testid": "dev-code" }, answer.dev_code));
        }
        announce(t("signin.code_sent", { m: Math.round((answer.expires_in || 300) / 60) }), "ok");
        code.focus();
      } catch (e) {
        fail(e);
      }
    });
  });
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, t("signin.title")),
    h("p", { class: "muted" }, t("signin.intro")),
    field(t("signin.phone"), phone, t("signin.phone_hint")),
    h("div", { class: "actions" }, send),
    devNote,
    codeField,
    error,
    h("div", { class: "actions" }, submit),
    h("p", {}, h("a", { href: "#/jobs" }, t("jobs.browse_public"))),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await api.token({ grant_type: "otp", phone: phone.value.trim(), code: code.value.trim() });
        await followProfileLocale();
        announce(t("signin.welcome"), "ok");
        go("code");
      } catch (e) {
        fail(e);
        code.select();
      }
    });
  });
  mount(main, form);
}

/** The language the talent chose in their profile leads once they sign in (the picker still changes it). */
async function followProfileLocale() {
  const profile = await api.get("/api/v1/me/profile").catch(() => null);
  const wanted = profile && profile.locale;
  if (!LANGS.includes(wanted) || wanted === lang()) return;
  document.getElementById("lang").value = await setLang(BASE, wanted);
  translatePage();
  document.title = t("app.title");
}

async function start() {
  const select = document.getElementById("lang");
  select.value = await setLang(BASE, initialLang());
  translatePage();
  document.title = t("app.title");
  select.addEventListener("change", async () => {
    await setLang(BASE, select.value);
    translatePage();
    document.title = t("app.title");
    render();
  });
  document.getElementById("sign-out").addEventListener("click", () => api.signOut());
  api.onSignedOut = () => {
    announce(t("signin.signed_out"));
    if (route() === "signin") render();
    else location.hash = "#/signin";
  };
  window.addEventListener("hashchange", () => {
    render();
    document.getElementById("main").focus({ preventScroll: true });
  });
  render();
}

start();
