// Employers (用人单位) for administrators: the registered employers, newest first; registering one with its first
// user; an employer's page with its users, adding a user, and disabling it (its users can no longer sign in).
// The gateway answers these itself (/api/v1/admin/employers); a refused change shows the problem's text.

import { label, t } from "../common/i18n.js";
import { announce, busy, field, fmtDateTime, h, mount, problemText, table } from "../common/ui.js";
import { api, go } from "./session.js";
import { facts, idempotencyKey, pagedRows, twoStepButton } from "./staff.js";

const BASE = "/api/v1/admin/employers";
// As the gateway checks them (gateway.schemas): the browser says so before a round trip.
const CREDIT_CODE = "[0-9A-HJ-NP-RT-UW-Ya-hj-np-rt-uw-y ]{18,20}";
const REGION = "[1-9][0-9]{5}";
const USERNAME = "[a-z0-9][a-z0-9._\\-]{2,63}";
const MIN_PASSWORD = "12";

function statusBadge(employer) {
  return employer.disabled_at
    ? h("span", { class: "badge self", "data-testid": "employer-status" }, t("employers.disabled"))
    : h("span", { class: "badge ok", "data-testid": "employer-status" }, t("employers.active"));
}

function regionText(code) {
  const name = label("region", code);
  return name === code ? code : `${name} (${code})`;
}

export async function employersPage(main) {
  const { rows, more } = await pagedRows(BASE, {}, employerRow);
  mount(
    main,
    h("h1", {}, t("employers.title")),
    h("p", { class: "muted" }, t("employers.intro")),
    h(
      "div",
      { class: "case-layout" },
      h(
        "section",
        { "aria-labelledby": "employers-h" },
        h("h2", { id: "employers-h" }, t("employers.list")),
        rows.length
          ? table(
              [t("employers.credit_code"), t("employers.name"), t("employers.region"), t("employers.users"), t("common.status"), t("employers.created_at")],
              rows,
            )
          : h("p", { class: "card" }, t("employers.none")),
        more,
      ),
      registerForm(),
    ),
  );
}

function employerRow(e) {
  return h(
    "tr",
    { "data-employer": e.id },
    h("td", {}, h("a", { href: `#/employers/${encodeURIComponent(e.id)}` }, h("code", {}, e.credit_code))),
    h("td", {}, e.name),
    h("td", {}, regionText(e.region_code)),
    h("td", {}, String(e.users.length)),
    h("td", {}, statusBadge(e)),
    h("td", {}, fmtDateTime(e.created_at)),
  );
}

function passwordInput() {
  return h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: MIN_PASSWORD, maxlength: "200" });
}

function usernameInput() {
  return h("input", { name: "username", autocomplete: "off", required: true, pattern: USERNAME, maxlength: "64", spellcheck: "false" });
}

/** A form that posts once per submission (a fresh Idempotency-Key) and shows a refusal in the form. */
function submitting(form, submit, problem, send) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    if (!form.reportValidity()) return;
    busy(submit, async () => {
      try {
        await send();
      } catch (error) {
        problem.hidden = false;
        problem.textContent = problemText(error);
      }
    });
  });
}

function registerForm() {
  const creditCode = h("input", { name: "credit_code", required: true, pattern: CREDIT_CODE, maxlength: "20", autocomplete: "off", spellcheck: "false" });
  const name = h("input", { name: "name", required: true, maxlength: "200", autocomplete: "off" });
  const region = h("input", { name: "region_code", required: true, pattern: REGION, maxlength: "6", inputmode: "numeric", autocomplete: "off" });
  const username = usernameInput();
  const password = passwordInput();
  const submit = h("button", { type: "submit", class: "primary" }, t("employers.register"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "employer-problem" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "register-employer-h" },
    h("h2", { id: "register-employer-h" }, t("employers.register_title")),
    field(t("employers.credit_code"), creditCode, t("employers.credit_code_hint")),
    field(t("employers.name"), name),
    field(t("employers.region"), region, t("employers.region_hint")),
    field(t("employers.username"), username, t("employers.username_hint")),
    field(t("employers.password"), password, t("employers.password_hint")),
    problem,
    h("div", { class: "actions" }, submit),
  );
  submitting(form, submit, problem, async () => {
    const body = {
      credit_code: creditCode.value.trim(),
      name: name.value.trim(),
      region_code: region.value.trim(),
      username: username.value.trim(),
      password: password.value,
    };
    const created = await api.post(BASE, body, { headers: { "Idempotency-Key": idempotencyKey() } });
    password.value = "";
    announce(t("employers.registered", { name: created.name }), "ok");
    go(`employers/${encodeURIComponent(created.id)}`);
  });
  return form;
}

export async function employerPage(main, id) {
  const employer = await api.get(`${BASE}/${encodeURIComponent(id)}`);
  const reload = () => employerPage(main, id);
  const users = employer.users.map((u) =>
    h(
      "tr",
      { "data-user": u.id },
      h("td", {}, u.username),
      h("td", {}, fmtDateTime(u.created_at)),
      h("td", {}, u.last_sign_in_at ? fmtDateTime(u.last_sign_in_at) : t("employers.never")),
      h("td", {}, employer.disabled_at ? null : unlockButton(u.username)),
    ),
  );
  mount(
    main,
    h("p", {}, h("a", { href: "#/employers" }, t("employers.back"))),
    h("h1", {}, employer.name, " ", statusBadge(employer)),
    h(
      "div",
      { class: "case-layout" },
      h(
        "section",
        { "aria-labelledby": "employer-users-h" },
        facts([
          [t("employers.credit_code"), h("code", { "data-testid": "employer-credit-code" }, employer.credit_code)],
          [t("employers.region"), regionText(employer.region_code)],
          [t("employers.created_at"), fmtDateTime(employer.created_at)],
          [t("employers.disabled_at"), employer.disabled_at ? fmtDateTime(employer.disabled_at) : null],
        ]),
        h("h2", { id: "employer-users-h" }, t("employers.user_list")),
        table([t("employers.username"), t("employers.created_at"), t("employers.last_sign_in"), ""], users),
      ),
      employer.disabled_at
        ? h("p", { class: "card note" }, t("employers.disabled_note"))
        : h("div", {}, addUserForm(employer, reload), disableForm(employer, reload)),
    ),
  );
}

function addUserForm(employer, reload) {
  const username = usernameInput();
  const password = passwordInput();
  const submit = h("button", { type: "submit", class: "primary" }, t("employers.add_user"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "user-problem" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "add-user-h" },
    h("h2", { id: "add-user-h" }, t("employers.add_user_title")),
    field(t("employers.username"), username, t("employers.username_hint")),
    field(t("employers.password"), password, t("employers.password_hint")),
    problem,
    h("div", { class: "actions" }, submit),
  );
  submitting(form, submit, problem, async () => {
    const body = { username: username.value.trim(), password: password.value };
    await api.post(`${BASE}/${encodeURIComponent(employer.id)}/users`, body, { headers: { "Idempotency-Key": idempotencyKey() } });
    announce(t("employers.user_added"), "ok");
    await reload();
  });
  return form;
}

/** Lifts a user's password throttling (after too many wrong passwords): the gateway audits it. */
function unlockButton(username) {
  return h(
    "button",
    {
      type: "button",
      "data-testid": "unlock-sign-in",
      onclick: async () => {
        try {
          await api.post(`/api/v1/admin/accounts/${encodeURIComponent(username)}/unlock`, {});
          announce(t("employers.unlocked", { username }), "ok");
        } catch (error) {
          announce(problemText(error), "error");
        }
      },
    },
    t("employers.unlock"),
  );
}

function disableForm(employer, reload) {
  const reason = h("textarea", { name: "reason", required: true, maxlength: "500", rows: "2" });
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "disable-problem" });
  const form = h("form", { class: "card", "aria-labelledby": "disable-employer-h" });
  // Two steps, as every change that cannot be undone here: the first click asks, the second disables.
  const button = twoStepButton(t("employers.disable"), t("employers.disable_confirm"), async () => {
    problem.hidden = true;
    if (!form.reportValidity()) {
      delete button.dataset.armed;
      button.textContent = t("employers.disable");
      return;
    }
    try {
      await api.post(`${BASE}/${encodeURIComponent(employer.id)}/disable`, { reason: reason.value.trim() });
      announce(t("employers.disabled_done"), "ok");
      await reload();
    } catch (error) {
      problem.hidden = false;
      problem.textContent = problemText(error);
    }
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  mount(
    form,
    h("h2", { id: "disable-employer-h" }, t("employers.disable_title")),
    h("p", { class: "muted" }, t("employers.disable_hint")),
    field(t("employers.reason"), reason),
    problem,
    h("div", { class: "actions" }, button),
  );
  return form;
}
