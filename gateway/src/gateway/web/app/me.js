// Me: the profile (identity number only ever shown masked), my certifications with their decisions,
// and a new certification whose evidence files are hashed in this browser (SHA-256 via SubtleCrypto): the
// file itself never leaves the device, only its name and digest do.

import { label, lang, t } from "../common/i18n.js";
import { announce, busy, field, fmtDateTime, h, mount, officerLine, select, sha256Hex, showError } from "../common/ui.js";
import { api, go } from "./session.js";
import { CERTIFICATION } from "../common/states.js";
import { applyTrust, changeRequestsSection, keepLocked, showLockedRefusal } from "./facts.js";
import { RECOMMENDATION_ROUTE, attestationsSection, recommendationPicker } from "./employer.js";

const REGIONS = ["330402", "330411", "330421", "330424", "330481", "330482", "330483", "330502"];
const ROUTES = ["degree", "title", "programme", "employer_recommendation", "expert_recommendation", "case_by_case"];
const EVIDENCE = ["diploma", "title_certificate", "programme_certificate", "employment_contract", "recommendation", "other"];

export async function mePage(main) {
  const notFound = (error) => {
    if (error.status === 404) return null;
    throw error;
  };
  const [profile, certifications] = await Promise.all([
    api.get("/api/v1/me/profile").catch(notFound),
    api.get("/api/v1/me/certifications?limit=50").catch(notFound),
  ]);
  const certs = certifications ? certifications.items : [];
  const [changes, attestations] = await Promise.all([changeRequestsSection(profile), attestationsSection(profile)]);
  mount(
    main,
    h("h2", {}, t("me.title")),
    h(
      "section",
      { "aria-labelledby": "certs-h" },
      h("h3", { id: "certs-h" }, t("me.certifications")),
      certs.length ? certs.map(certificationCard) : h("p", { class: "card muted" }, t("me.no_certifications")),
      profile ? h("p", {}, h("a", { class: "button primary", href: "#/me/certify" }, t("me.new_certification"))) : null,
    ),
    changes,
    attestations,
    profileForm(profile, () => mePage(main)),
    h("p", {}, h("a", { href: "#/jobs" }, t("jobs.browse"))),
  );
}

function certificationCard(c) {
  return h(
    "article",
    { class: "card", "data-certification": c.id },
    h(
      "div",
      { class: "item-head" },
      h("h4", {}, `${label("route", c.route)} · ${label("tier", c.claimed_tier)}`),
      h("strong", { "data-testid": "certification-status" }, label("cert_status", c.status)),
    ),
    h("p", { class: "muted" }, t("me.submitted_at", { at: fmtDateTime(c.submitted_at) })),
    officerLine(c.officer, t("common.officer")),
    c.certified_until ? h("p", {}, t("me.valid_until", { date: c.certified_until })) : null,
    h("ul", {}, (c.evidence || []).map((e) => h("li", {}, `${label("evidence", e.kind)}: ${e.reference} `, h("span", { class: "digest" }, e.sha256.slice(0, 16) + "…")))),
    (c.decisions || []).length
      ? h(
          "ol",
          { class: "timeline" },
          c.decisions.map((d) =>
            h("li", {}, h("strong", {}, `${label("stage", d.stage)} · ${label("decision", d.decision)}`), h("div", { class: "muted" }, fmtDateTime(d.decided_at)), d.reason ? h("div", {}, d.reason) : null),
          ),
        )
      : null,
    c.status === CERTIFICATION.RETURNED ? h("p", {}, h("a", { class: "button primary", href: `#/me/certify?resubmit=${c.id}` }, t("me.resubmit"))) : null,
  );
}

function profileForm(profile, reload) {
  const p = profile || {};
  const education = p.education || {};
  const employer = p.employer || {};
  const input = (name, attrs = {}) => h("input", { name, ...attrs });
  const f = {
    name: input("name", { required: true, maxlength: "100", autocomplete: "name", value: p.name }),
    id_type: select({ name: "id_type" }, ["resident_id", "foreign_permanent_id", "passport"].map((x) => [x, label("id_type", x)]), p.id_type),
    id_number: input("id_number", { required: true, maxlength: "30", autocomplete: "off", placeholder: p.id_number_masked }),
    birth_date: input("birth_date", { type: "date", required: true, value: p.birth_date }),
    email: input("email", { type: "email", autocomplete: "email", value: p.email }),
    locale: select({ name: "locale" }, [["zh-CN", "中文"], ["en", "English"]], p.locale || lang()),
    region_code: select({ name: "region_code" }, REGIONS.map((r) => [r, label("region", r)]), p.region_code),
    degree: select({ name: "degree" }, ["bachelor", "master", "doctor"].map((x) => [x, label("degree", x)]), education.degree || "master"),
    school: input("school", { required: true, maxlength: "200", value: education.school }),
    graduated_on: input("graduated_on", { type: "date", required: true, value: education.graduated_on }),
    title: select({ name: "title" }, [["", t("me.no_title")], ...["senior", "deputy_senior", "intermediate"].map((x) => [x, label("title", x)])], p.title || ""),
    employer_name: input("employer_name", { required: true, maxlength: "200", autocomplete: "organization", value: employer.name }),
    credit_code: input("credit_code", { required: true, minlength: "18", maxlength: "18", value: employer.credit_code, autocomplete: "off" }),
    employer_region: select({ name: "employer_region" }, REGIONS.map((r) => [r, label("region", r)]), employer.region_code),
    social_insurance_months: input("social_insurance_months", { type: "number", min: "0", max: "600", required: true, value: p.social_insurance_months ?? 0 }),
    owns_home: input("owns_home_in_city", { type: "checkbox", checked: Boolean(p.owns_home_in_city) }),
  };
  const submit = h("button", { type: "submit", class: "primary" }, t("me.save"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "profile-h", novalidate: undefined },
    h("h3", { id: "profile-h" }, t("me.profile")),
    profile ? h("p", { class: "muted" }, t("me.masked", { masked: p.id_number_masked })) : h("p", { class: "note" }, t("me.first_profile")),
    h(
      "fieldset",
      {},
      h("legend", {}, t("me.identity")),
      field(t("profile.name"), f.name),
      field(t("profile.id_type"), f.id_type),
      field(t("profile.id_number"), f.id_number, profile ? t("me.id_reenter") : t("me.id_hint")),
      field(t("profile.birth_date"), f.birth_date),
      field(t("profile.email"), f.email),
      field(t("profile.locale"), f.locale),
      field(t("profile.region"), f.region_code),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, t("me.education")),
      field(t("profile.degree"), f.degree),
      field(t("profile.school"), f.school),
      field(t("profile.graduated_on"), f.graduated_on),
      field(t("profile.title"), f.title),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, t("me.work")),
      field(t("profile.employer"), f.employer_name, t("me.employer_consent")),
      field(t("profile.credit_code"), f.credit_code, t("me.credit_hint")),
      field(t("profile.employer_region"), f.employer_region),
      field(t("profile.social_insurance_months"), f.social_insurance_months),
      h("label", {}, f.owns_home, " ", t("profile.owns_home")),
    ),
    h("div", { class: "actions" }, submit),
  );
  applyTrust(form, profile, f);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const body = keepLocked(profile, {
      name: f.name.value.trim(),
      id_type: f.id_type.value,
      id_number: f.id_number.value.trim(),
      birth_date: f.birth_date.value,
      email: f.email.value.trim() || null,
      locale: f.locale.value,
      region_code: f.region_code.value,
      education: { degree: f.degree.value, school: f.school.value.trim(), graduated_on: f.graduated_on.value },
      title: f.title.value || null,
      employer: { name: f.employer_name.value.trim(), credit_code: f.credit_code.value.trim().toUpperCase(), region_code: f.employer_region.value },
      social_insurance_months: Number(f.social_insurance_months.value),
      owns_home_in_city: f.owns_home.checked,
    });
    busy(submit, async () => {
      try {
        const saved = await api.put("/api/v1/me/profile", body);
        announce(t("me.saved", { masked: saved.id_number_masked }), "ok");
        // A new language in the profile is the app's language from now on (the picker's change re-renders).
        const picker = document.getElementById("lang");
        if (saved.locale && saved.locale !== lang() && picker) {
          picker.value = saved.locale;
          picker.dispatchEvent(new Event("change"));
        } else await reload();
      } catch (error) {
        if (!showLockedRefusal(form, error)) showError(error);
      }
    });
  });
  return form;
}

/** A new certification, or (with ?resubmit=ID) a returned one sent back with corrected evidence. */
export async function certifyPage(main) {
  const resubmitId = new URLSearchParams(location.hash.split("?")[1] || "").get("resubmit");
  const route = select({ name: "route" }, ROUTES.map((r) => [r, label("route", r)]), "degree");
  const tier = select({ name: "claimed_tier" }, ["E", "D", "C", "B", "A"].map((x) => [x, label("tier", x)]), "E");
  const programme = h("input", { name: "programme_code", maxlength: "64" });
  const programmeField = field(t("me.programme_code"), programme);
  const note = h("textarea", { name: "note", maxlength: "2000" });
  const rows = h("div");
  const addRow = () => rows.append(evidenceRow());
  addRow();
  const add = h("button", { type: "button", onclick: addRow }, t("me.add_evidence"));
  const submit = h("button", { type: "submit", class: "primary" }, t(resubmitId ? "me.resubmit" : "me.submit_certification"));
  // The employer_recommendation route cites a recommendation the employer filed; the tier is the one it claims.
  const picker = recommendationPicker((r) => {
    tier.value = r.claimed_tier;
  });
  picker.hide();
  const syncProgramme = () => {
    programmeField.hidden = route.value !== "programme";
    if (route.value === RECOMMENDATION_ROUTE) picker.show();
    else picker.hide();
  };
  route.addEventListener("change", syncProgramme);
  syncProgramme();
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "certify-h" },
    h("h2", { id: "certify-h" }, t(resubmitId ? "me.resubmit_title" : "me.certify_title")),
    h("p", { class: "muted" }, t("me.certify_intro")),
    resubmitId ? field(t("me.resubmit_note"), note) : [field(t("certs.route"), route), picker.element, field(t("certs.claimed_tier"), tier), programmeField],
    h("fieldset", {}, h("legend", {}, t("me.evidence")), rows, add),
    h("div", { class: "actions" }, submit, h("a", { href: "#/me" }, t("common.cancel"))),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!resubmitId && picker.missing()) {
      announce(t("employer.file_first"), "error");
      return;
    }
    const evidence = [...rows.querySelectorAll(".evidence-row")].map((row) => row.evidence).filter(Boolean);
    if (!evidence.length) {
      announce(t("me.evidence_required"), "error");
      return;
    }
    busy(submit, async () => {
      try {
        if (resubmitId) {
          await api.post(`/api/v1/me/certifications/${resubmitId}/resubmit`, { evidence, note: note.value.trim() });
        } else {
          const body = { route: route.value, claimed_tier: tier.value, evidence };
          if (route.value === "programme" && programme.value.trim()) body.programme_code = programme.value.trim();
          if (route.value === RECOMMENDATION_ROUTE) body.recommendation_id = picker.value();
          await api.post("/api/v1/me/certifications", body);
        }
        announce(t("me.certification_sent"), "ok");
        go("me");
      } catch (error) {
        showError(error);
      }
    });
  });
  mount(main, form);
}

function evidenceRow() {
  const kind = select({ name: "kind" }, EVIDENCE.map((k) => [k, label("evidence", k)]), "diploma");
  const file = h("input", { type: "file", name: "file", accept: ".pdf,.jpg,.jpeg,.png", required: true });
  const digest = h("p", { class: "digest", "aria-live": "polite", "data-testid": "evidence-sha256" });
  const row = h("div", { class: "evidence-row" }, field(t("me.evidence_kind"), kind), field(t("me.evidence_file"), file, t("me.evidence_hint")), digest);
  row.evidence = null;
  const update = () => {
    if (row.evidence) row.evidence.kind = kind.value;
  };
  kind.addEventListener("change", update);
  file.addEventListener("change", async () => {
    row.evidence = null;
    digest.textContent = "";
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    try {
      const sha256 = await sha256Hex(await chosen.arrayBuffer());
      row.evidence = { kind: kind.value, reference: chosen.name.slice(0, 500), sha256 };
      digest.textContent = `SHA-256 ${sha256}`;
    } catch (error) {
      showError(error);
    }
  });
  return row;
}
