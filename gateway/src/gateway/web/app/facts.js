// Trusted facts: which profile fields are locked and where each decision fact came from, and the change
// requests (申请变更) through which a certified (or pending) talent changes locked decision facts.
//
// - Identity (name, ID type and number, birth date) is locked from the first certification application; only
//   an administrator's identity correction changes it.
// - Decision facts (education, title, insured months, employer, region, home ownership) are locked while the
//   talent is certified or under review: a county reviewer decides a change request. Two changes apply at
//   once because they only remove benefits: declaring a home in the city, and fewer insured months.
// - Each decision fact carries its provenance: self-declared, confirmed by an officer, attested by the employer.

import { changedFacts } from "../common/facts.js";
import { label, t } from "../common/i18n.js";
import { announce, busy, field, fmtDate, fmtDateTime, h, mount, problemText, select, showError } from "../common/ui.js";
import { CHANGE_REQUEST, FACT_SOURCE } from "../common/states.js";
import { api, go } from "./session.js";

export const IDENTITY_FACTS = Object.freeze(["name", "id_type", "id_number", "birth_date"]);
export const DECISION_FACTS = Object.freeze([
  "education",
  "title",
  "social_insurance_months",
  "employer",
  "region_code",
  "owns_home_in_city",
]);
// The profile form's controls (me.js) that hold each fact.
const CONTROLS = {
  name: ["name"],
  id_type: ["id_type"],
  id_number: ["id_number"],
  birth_date: ["birth_date"],
  education: ["degree", "school", "graduated_on"],
  title: ["title"],
  social_insurance_months: ["social_insurance_months"],
  employer: ["employer_name", "credit_code", "employer_region"],
  region_code: ["region_code"],
  owns_home_in_city: ["owns_home"],
};
const REGIONS = ["330402", "330411", "330421", "330424", "330481", "330482", "330483", "330502"];
const DEGREES = ["bachelor", "master", "doctor"];
const TITLES = ["senior", "deputy_senior", "intermediate"];
// The kinds of document the applicant service takes (schemas.DocumentKind) that bear on the decision facts.
const DOCUMENT_KINDS = [
  "diploma",
  "degree_certificate",
  "title_certificate",
  "employment_contract",
  "social_insurance_record",
  "property_record",
  "award",
  "other",
];
const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;
const DOCUMENT_TYPES = ["application/pdf", "image/jpeg", "image/png"];
const SOURCE_TONE = {
  [FACT_SOURCE.SELF_DECLARED]: "self",
  [FACT_SOURCE.OFFICER_CONFIRMED]: "ok",
  [FACT_SOURCE.EMPLOYER_ATTESTED]: "ok",
};
const STATUS_TONE = { [CHANGE_REQUEST.APPROVED]: "ok", [CHANGE_REQUEST.REJECTED]: "bad" };

// --- the profile form: locks and provenance -----------------------------------------------------------

/** The lock marker that goes into a locked field's label (a word, not an icon: read out and always drawn). */
function lockMarker() {
  return h("span", { class: "badge lock", "data-testid": "lock" }, t("trust.locked"));
}

/** A fact's provenance as a badge: 自述 / 已核验 / 单位核验, with when (and by whom) in its title. */
export function provenanceBadge(entry) {
  const source = (entry && entry.source) || FACT_SOURCE.SELF_DECLARED;
  const when = entry && entry.at ? fmtDate(entry.at) : "";
  const detail = [entry && entry.by ? t("trust.by", { by: entry.by }) : "", when].filter(Boolean).join(" · ");
  return h(
    "span",
    { class: `badge provenance ${SOURCE_TONE[source] || "self"}`, "data-provenance": source, title: detail || undefined },
    label("provenance", source),
    when ? h("span", { class: "when" }, ` · ${when}`) : null,
  );
}

function labelOf(form, control) {
  return form.querySelector(`label[for="${control.id}"]`);
}

/**
 * Mark the profile form (me.js's controls `f`) with the locks and provenance of `profile`: locked controls
 * become read-only with a lock marker, a note explains why, and each decision fact's first label carries its
 * provenance badge. The two changes that only remove benefits stay possible.
 */
export function applyTrust(form, profile, f) {
  if (!profile) return;
  const locked = new Set(profile.locked_fields || []);
  const provenance = profile.provenance || {};
  const lockedIdentity = IDENTITY_FACTS.filter((x) => locked.has(x));
  const lockedDecision = DECISION_FACTS.filter((x) => locked.has(x));
  for (const fact of [...lockedIdentity, ...lockedDecision]) {
    for (const name of CONTROLS[fact]) {
      const control = f[name];
      if (!control) continue;
      const labelEl = labelOf(form, control) || control.closest("label");
      if (labelEl) labelEl.append(" ", lockMarker());
      control.dataset.locked = fact;
      if (fact === "id_number") {
        // Shown masked only, so it is typed again to save: it must be the same number.
        hint(form, control, t("trust.id_same"));
        continue;
      }
      if (fact === "social_insurance_months") {
        // Fewer months only remove benefits: they apply at once; more need a change request.
        control.max = String(profile.social_insurance_months ?? 0);
        hint(form, control, t("trust.fewer_months"));
        continue;
      }
      if (fact === "owns_home_in_city" && !profile.owns_home_in_city) {
        hint(form, control, t("trust.declare_home"));
        continue;
      }
      if (control.tagName === "INPUT" && control.type !== "checkbox") {
        control.readOnly = true;
        control.required = false;
      } else {
        control.disabled = true;
      }
      control.setAttribute("aria-readonly", "true");
    }
  }
  for (const fact of DECISION_FACTS) {
    const control = f[CONTROLS[fact][0]];
    const labelEl = control && (labelOf(form, control) || control.closest("label"));
    if (labelEl && provenance[fact]) labelEl.append(" ", provenanceBadge(provenance[fact]));
  }
  if (lockedIdentity.length || lockedDecision.length) {
    const note = h(
      "div",
      { class: "note lock-note", "data-testid": "lock-note" },
      lockedIdentity.length ? h("p", {}, t("trust.identity_locked")) : null,
      lockedDecision.length
        ? h(
            "p",
            {},
            t("trust.facts_locked"),
            " ",
            h("a", { href: "#/me/change" }, t("trust.request_change")),
          )
        : null,
    );
    const heading = form.querySelector("h3");
    (heading ? heading.nextElementSibling || heading : form.firstChild).after(note);
  }
}

function hint(form, control, text) {
  const el = h("small", { class: "hint", id: `${control.id}-trust` }, text);
  const wrapper = control.closest(".field");
  const labelEl = control.closest("label");
  if (wrapper) wrapper.append(el);
  else if (labelEl) labelEl.after(el);
  else return;
  control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), el.id].filter(Boolean).join(" "));
}

/** The profile body to PUT: locked fields keep their stored values, but for the two changes that apply at once. */
export function keepLocked(profile, body) {
  if (!profile) return body;
  const locked = new Set(profile.locked_fields || []);
  const kept = { ...body };
  for (const fact of ["name", "id_type", "birth_date", "education", "title", "employer", "region_code"]) {
    if (locked.has(fact) && fact in profile) kept[fact] = profile[fact];
  }
  if (locked.has("social_insurance_months")) {
    kept.social_insurance_months = Math.min(kept.social_insurance_months, profile.social_insurance_months ?? 0);
  }
  if (locked.has("owns_home_in_city")) kept.owns_home_in_city = Boolean(profile.owns_home_in_city || kept.owns_home_in_city);
  return kept;
}

/**
 * A profile update refused because it changes locked fields (409 naming each): say which, in the page's
 * language, next to the form, mark their controls invalid, and point at the way that remains. False for any
 * other error (the caller shows it as usual).
 */
export function showLockedRefusal(form, error) {
  const fields = (error && error.status === 409 ? error.fieldErrors : []).map((e) => String(e.field).split(".")[0]);
  const known = fields.filter((x) => x in CONTROLS);
  if (!known.length) return false;
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  for (const fact of known) form.querySelectorAll(`[data-locked="${fact}"]`).forEach((el) => el.setAttribute("aria-invalid", "true"));
  const names = known.map((x) => label("fact", x)).join(t("trust.list_separator"));
  const decision = known.some((x) => DECISION_FACTS.includes(x));
  const note = h(
    "div",
    { class: "note error", role: "alert", "data-testid": "locked-refusal" },
    t("trust.refused", { fields: names }),
    " ",
    decision ? h("a", { href: "#/me/change" }, t("trust.request_change")) : t("trust.ask_admin"),
  );
  form.querySelector('[data-testid="locked-refusal"]')?.remove();
  form.querySelector(".actions")?.before(note);
  return true;
}

// --- change requests on the me page ---------------------------------------------------------------------

function changeCard(request) {
  return h(
    "article",
    { class: "card", "data-change-request": request.id },
    h(
      "div",
      { class: "item-head" },
      h("h4", {}, t("trust.request_of", { at: fmtDateTime(request.created_at) })),
      h("strong", { class: `badge ${STATUS_TONE[request.status] || "warn"}`, "data-testid": "change-request-status" }, label("change_status", request.status)),
    ),
    changedFacts(request, t("me.no_title"), t("trust.to")),
    h("p", {}, h("span", { class: "muted" }, t("trust.reason"), ": "), request.reason),
    (request.evidence || []).length ? h("p", { class: "muted" }, t("trust.evidence_count", { n: request.evidence.length })) : null,
    request.decided_at
      ? h(
          "p",
          { class: `note ${request.status === CHANGE_REQUEST.APPROVED ? "ok" : "error"}`, "data-testid": "change-request-decision" },
          t("trust.decided", { at: fmtDateTime(request.decided_at) }),
          request.decision_reason ? ` ${request.decision_reason}` : "",
        )
      : h("p", { class: "muted" }, t("trust.under_review")),
  );
}

/** The me page's section: my change requests with their decisions, and the way to ask for one. */
export async function changeRequestsSection(profile) {
  if (!profile) return null;
  const locked = new Set(profile.locked_fields || []);
  let failure = null;
  const page = await api.get("/api/v1/me/change-requests?limit=50").catch((error) => {
    if (error.status !== 404) failure = error; // the rest of the me page still shows
    return { items: [] };
  });
  const items = page.items || [];
  if (failure) {
    return h("section", { "aria-labelledby": "changes-h" }, h("h3", { id: "changes-h" }, t("trust.changes_title")), h("p", { class: "note error" }, problemText(failure)));
  }
  if (!items.length && !DECISION_FACTS.some((x) => locked.has(x))) return null;
  const pending = items.some((r) => r.status === CHANGE_REQUEST.SUBMITTED);
  return h(
    "section",
    { "aria-labelledby": "changes-h" },
    h("h3", { id: "changes-h" }, t("trust.changes_title")),
    items.length ? items.map(changeCard) : h("p", { class: "card muted" }, t("trust.no_changes")),
    pending
      ? h("p", { class: "muted" }, t("trust.one_at_a_time"))
      : DECISION_FACTS.some((x) => locked.has(x))
        ? h("p", {}, h("a", { class: "button primary", href: "#/me/change" }, t("trust.request_change")))
        : null,
  );
}

// --- the change request form (#/me/change) -----------------------------------------------------------------

export async function changeRequestPage(main) {
  const [profile, page] = await Promise.all([api.get("/api/v1/me/profile"), api.get("/api/v1/me/change-requests?limit=50")]);
  const open = (page.items || []).find((r) => r.status === CHANGE_REQUEST.SUBMITTED);
  if (open) {
    mount(
      main,
      h("h2", {}, t("trust.change_title")),
      h("p", { class: "note" }, t("trust.one_at_a_time")),
      changeCard(open),
      h("p", {}, h("a", { href: "#/me" }, "← " + t("nav.me"))),
    );
    return;
  }
  if (!DECISION_FACTS.some((x) => (profile.locked_fields || []).includes(x))) {
    mount(
      main,
      h("h2", {}, t("trust.change_title")),
      h("p", { class: "note" }, t("trust.not_locked"), " ", h("a", { href: "#/me" }, t("trust.edit_profile"))),
    );
    return;
  }
  const p = profile;
  const education = p.education || {};
  const employer = p.employer || {};
  const input = (name, attrs = {}) => h("input", { name, ...attrs });
  const f = {
    degree: select({ name: "degree" }, DEGREES.map((x) => [x, label("degree", x)]), education.degree),
    school: input("school", { required: true, maxlength: "200", value: education.school }),
    graduated_on: input("graduated_on", { type: "date", required: true, value: education.graduated_on }),
    title: select({ name: "title" }, [["", t("me.no_title")], ...TITLES.map((x) => [x, label("title", x)])], p.title || ""),
    employer_name: input("employer_name", { required: true, maxlength: "200", autocomplete: "organization", value: employer.name }),
    credit_code: input("credit_code", { required: true, minlength: "18", maxlength: "18", autocomplete: "off", value: employer.credit_code }),
    employer_region: select({ name: "employer_region" }, REGIONS.map((r) => [r, label("region", r)]), employer.region_code),
    region_code: select({ name: "region_code" }, REGIONS.map((r) => [r, label("region", r)]), p.region_code),
    social_insurance_months: input("social_insurance_months", { type: "number", min: "0", max: "600", required: true, value: p.social_insurance_months ?? 0 }),
    owns_home: input("owns_home_in_city", { type: "checkbox", checked: Boolean(p.owns_home_in_city) }),
  };
  const reason = h("textarea", { name: "reason", required: true, maxlength: "2000" });
  const rows = h("div");
  const addRow = () => rows.append(documentRow());
  const add = h("button", { type: "button", onclick: addRow }, t("trust.add_document"));
  const submit = h("button", { type: "submit", class: "primary" }, t("trust.submit"));
  const error = h("p", { class: "note error", role: "alert", hidden: true });
  const provenance = p.provenance || {};
  const legend = (fact) => h("legend", {}, label("fact", fact), " ", provenanceBadge(provenance[fact]));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "change-h" },
    h("h2", { id: "change-h" }, t("trust.change_title")),
    h("p", { class: "muted" }, t("trust.change_intro")),
    h("fieldset", {}, legend("education"), field(t("profile.degree"), f.degree), field(t("profile.school"), f.school), field(t("profile.graduated_on"), f.graduated_on)),
    h("fieldset", {}, legend("title"), field(t("profile.title"), f.title)),
    h(
      "fieldset",
      {},
      legend("employer"),
      field(t("profile.employer"), f.employer_name, t("me.employer_consent")),
      field(t("profile.credit_code"), f.credit_code, t("me.credit_hint")),
      field(t("profile.employer_region"), f.employer_region),
    ),
    h("fieldset", {}, legend("region_code"), field(t("profile.region"), f.region_code)),
    h("fieldset", {}, legend("social_insurance_months"), field(t("profile.social_insurance_months"), f.social_insurance_months)),
    h("fieldset", {}, legend("owns_home_in_city"), h("label", {}, f.owns_home, " ", t("profile.owns_home"))),
    field(t("trust.reason"), reason, t("trust.reason_hint")),
    h("fieldset", {}, h("legend", {}, t("trust.documents")), h("p", { class: "hint" }, t("trust.documents_hint")), rows, add),
    error,
    h("div", { class: "actions" }, submit, h("a", { href: "#/me" }, t("common.cancel"))),
  );
  const proposed = () => ({
    education: { degree: f.degree.value, school: f.school.value.trim(), graduated_on: f.graduated_on.value },
    title: f.title.value || null,
    employer: { name: f.employer_name.value.trim(), credit_code: f.credit_code.value.trim().toUpperCase(), region_code: f.employer_region.value },
    region_code: f.region_code.value,
    social_insurance_months: Number(f.social_insurance_months.value),
    owns_home_in_city: f.owns_home.checked,
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!form.reportValidity()) return;
    const wanted = proposed();
    const changes = {};
    for (const fact of DECISION_FACTS) {
      if (!sameValue(wanted[fact], p[fact])) changes[fact] = wanted[fact];
    }
    if (!Object.keys(changes).length) {
      error.hidden = false;
      error.textContent = t("trust.nothing_changed");
      return;
    }
    const rowsEls = [...rows.querySelectorAll(".evidence-row")];
    if (rowsEls.some((row) => row.uploading)) {
      error.hidden = false;
      error.textContent = t("trust.still_uploading");
      return;
    }
    const evidence = rowsEls.map((row) => row.documentId).filter(Boolean).map((id) => ({ document_id: id }));
    busy(submit, async () => {
      try {
        const body = { changes, reason: reason.value.trim() };
        if (evidence.length) body.evidence = evidence;
        await api.post("/api/v1/me/change-requests", body);
        announce(t("trust.sent"), "ok");
        go("me");
      } catch (e) {
        error.hidden = false;
        error.textContent = problemLines(e);
        showError(e);
      }
    });
  });
  mount(main, form);
}

function problemLines(error) {
  const parts = [error.message];
  for (const item of error.fieldErrors || []) {
    const fact = String(item.field).split(".").find((part) => DECISION_FACTS.includes(part) || IDENTITY_FACTS.includes(part));
    parts.push(`${fact ? label("fact", fact) : item.field}: ${item.message}`);
  }
  return parts.filter(Boolean).join(" — ");
}

function sameValue(a, b) {
  const norm = (v) => (v === undefined || v === "" ? null : v);
  if (a && typeof a === "object") {
    if (!b || typeof b !== "object") return false;
    return Object.keys(a).every((k) => norm(a[k]) === norm(b[k]));
  }
  return norm(a) === norm(b);
}

/** One evidence file: chosen, checked here (type, size), uploaded to /me/documents at once. */
function documentRow() {
  const kind = select({ name: "document_kind" }, DOCUMENT_KINDS.map((k) => [k, label("document_kind", k)]), "other");
  const file = h("input", { type: "file", name: "document", accept: ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png" });
  const status = h("p", { class: "digest", "aria-live": "polite", "data-testid": "document-status" });
  const remove = h("button", { type: "button", class: "link" }, t("trust.remove_document"));
  const row = h("div", { class: "evidence-row" }, field(t("trust.document_kind"), kind), field(t("trust.document_file"), file, t("trust.document_hint")), status, remove);
  row.documentId = null;
  row.uploading = false;
  remove.addEventListener("click", () => row.remove());
  const upload = async () => {
    row.documentId = null;
    status.textContent = "";
    status.classList.remove("bad");
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    if (chosen.size > MAX_DOCUMENT_BYTES || (chosen.type && !DOCUMENT_TYPES.includes(chosen.type))) {
      status.classList.add("bad");
      status.textContent = t("trust.document_refused");
      return;
    }
    const data = new FormData();
    data.append("file", chosen, chosen.name);
    data.append("kind", kind.value);
    row.uploading = true;
    status.textContent = t("trust.uploading");
    try {
      const stored = await api.request("/api/v1/me/documents", { method: "POST", multipart: data });
      row.documentId = stored.id;
      kind.disabled = true; // the kind was sent with the file; another kind is another upload
      status.textContent = t("trust.uploaded", { size: Math.max(1, Math.round(stored.size / 1024)), sha: String(stored.sha256 || "").slice(0, 16) });
    } catch (error) {
      status.classList.add("bad");
      status.textContent = problemLines(error);
    } finally {
      row.uploading = false;
    }
  };
  file.addEventListener("change", upload);
  return row;
}
