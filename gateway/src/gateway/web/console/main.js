// The officials' console: sign-in with a password, then the pages the signed-in official's roles allow.
// Hash routes (#/claims/ID…) so that every page has a URL and the browser's back button works.

import { ApiError } from "../common/api.js";
import { initialLang, setLang, t, translatePage, label } from "../common/i18n.js";
import { announce, busy, field, h, mount, problemText } from "../common/ui.js";
import { auditPage } from "./audit.js";
import { changeRequestCase, changeRequestQueue } from "./changes.js";
import { demandsPage } from "./demands.js";
import { employerPage, employersPage } from "./employers.js";
import { projectPage, roundPage, housingPage } from "./housing.js";
import { appealsQueue, certificationCase, certificationQueue, claimCase, claimQueue, publicityPage } from "./reviews.js";
import { recommendationsPage, staffMemberPage, staffPage } from "./staff.js";
import { officialInboxPage } from "./officers.js";
import { insightPage } from "./insight.js";
import { paymentBatchPage, paymentsPage } from "./payments.js";
import { trustPage } from "./trust.js";
import { settlementsPage } from "./settlements.js";
import { api, go } from "./session.js";

const BASE = new URL(".", import.meta.url).pathname;

// Each page: the roles that see it in the menu, and how it renders.
const PAGES = [
  { path: "certifications", roles: ["county_reviewer", "city_approver"], render: certificationQueue },
  { path: "claims", roles: ["county_reviewer", "city_approver", "finance_officer"], render: claimQueue },
  { path: "appeals", roles: ["city_approver"], render: appealsQueue },
  { path: "change-requests", roles: ["county_reviewer"], render: changeRequestQueue },
  { path: "payments", roles: ["finance_officer", "auditor"], render: paymentsPage },
  { path: "publicity", roles: ["county_reviewer", "city_approver", "finance_officer", "auditor", "admin"], render: publicityPage },
  { path: "housing", roles: ["housing_officer"], render: housingPage },
  { path: "audit", roles: ["auditor"], render: auditPage },
  { path: "employers", roles: ["admin"], render: employersPage },
  // Partner cities whose codes this city recognises (互认互通).
  { path: "trust", roles: ["admin"], render: trustPage },
  { path: "staff", roles: ["employer"], render: staffPage },
  { path: "recommendations", roles: ["employer"], render: recommendationsPage },
  { path: "demands", roles: ["employer"], render: demandsPage },
  // The city's statistics (统计): a leader's only page; auditors and admins read it too.
  { path: "insight", roles: ["leader", "auditor", "admin"], render: insightPage },
  // Cross-city cost settlement (成本结算): monthly statements per partner and issuing city.
  { path: "settlements", roles: ["finance_officer", "admin"], render: settlementsPage },
  // Last, so no role's landing page changes: the official's own messages (notify.officials).
  { path: "inbox", roles: ["county_reviewer", "city_approver", "finance_officer", "housing_officer", "auditor", "admin"], render: officialInboxPage },
];
const DETAIL = [
  [/^certifications\/([^/]+)$/, certificationCase],
  [/^claims\/([^/]+)$/, claimCase],
  [/^payments\/([^/]+)$/, paymentBatchPage],
  [/^change-requests\/([^/]+)$/, changeRequestCase],
  [/^housing\/projects\/([^/]+)$/, projectPage],
  [/^housing\/rounds\/([^/]+)$/, roundPage],
  [/^staff\/([^/]+)$/, staffMemberPage],
  [/^employers\/([^/]+)$/, employerPage],
];

function visiblePages() {
  return PAGES.filter((p) => api.hasRole(...p.roles));
}

function route() {
  // A page's filters may follow its path (#/insight?region=…): the page reads them itself.
  return location.hash.replace(/^#\/?/, "").split("?")[0];
}

function renderChrome(current) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!api.signedIn) {
    mount(nav);
    mount(who);
    return;
  }
  const top = current.split("/")[0];
  mount(
    nav,
    visiblePages().map((p) =>
      h("a", { href: `#/${p.path}`, "aria-current": p.path === top ? "page" : undefined }, t(`nav.${p.path}`)),
    ),
  );
  const claims = api.claims;
  const roles = (claims.roles || []).map((r) => label("role", r)).join(", ");
  mount(
    who,
    // An employer's user acts for one employer: its name says which.
    h("span", {}, roles, claims.employer_name ? ` · ${claims.employer_name}` : "", claims.region ? ` · ${label("region", claims.region)}` : ""),
    h("button", { type: "button", onclick: () => api.signOut() }, t("common.sign_out")),
  );
}

let renders = 0;

async function render() {
  const main = document.getElementById("main");
  let path = route();
  if (!api.signedIn) {
    renders += 1; // a page still loading (signed out meanwhile) must not paint over the sign-in form
    renderChrome("");
    return signInPage(main);
  }
  if (!path || path === "signin") {
    const first = visiblePages()[0];
    if (first) return go(first.path);
    mount(main, h("h1", {}, t("common.no_pages")));
    return;
  }
  renderChrome(path);
  // Pages render into a fresh container that replaces the current one when ready, unless another
  // navigation started meanwhile (a slow page must never paint over the page the user went on to).
  const generation = ++renders;
  const view = h("div", { class: "view" });
  try {
    const detail = DETAIL.find(([pattern]) => pattern.test(path));
    const page = PAGES.find((p) => p.path === path);
    if (detail) await detail[1](view, decodeURIComponent(path.match(detail[0])[1]));
    else if (page) await page.render(view);
    else mount(view, h("h1", {}, t("common.not_found")));
  } catch (error) {
    mount(view, h("h1", {}, t("common.error")), h("p", { class: "note error", role: "alert" }, problemText(error)));
  }
  if (generation === renders) mount(main, view);
}

function signInPage(main) {
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("signin.submit"));
  const error = h("p", { class: "note error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, t("signin.title")),
    h("p", { class: "muted" }, t("signin.intro")),
    field(t("signin.username"), username),
    field(t("signin.password"), password),
    error,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await api.token({ grant_type: "password", username: username.value.trim(), password: password.value });
        if (!api.hasRole(...PAGES.flatMap((p) => p.roles))) {
          api.tokens = null;
          throw new Error(t("signin.not_official"));
        }
        announce(t("signin.welcome"), "ok");
        location.hash = "#/";
        render();
      } catch (e) {
        error.hidden = false;
        error.textContent = signInError(e);
        password.value = "";
        password.focus();
      }
    });
  });
  mount(main, form);
  username.focus();
}

function signInError(error) {
  if (error instanceof ApiError) {
    if (error.status === 429) return t("signin.rate_limited", { s: error.retryAfter || 60 });
    if (error.code === "invalid_grant" && error.retryAfter) {
      return t("signin.locked", { m: Math.ceil(error.retryAfter / 60) });
    }
    if (error.code === "invalid_grant") return t("signin.wrong");
    return problemText(error);
  }
  return error.message;
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
  api.onSignedOut = () => {
    announce(t("signin.signed_out"));
    location.hash = "#/signin";
    render();
  };
  window.addEventListener("hashchange", () => {
    render();
    document.getElementById("main").focus();
  });
  render();
}

start();
