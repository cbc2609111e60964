// The talent's side of employers (用人单位): what the employer the talent named attested about them (in-post
// employment and local social-insurance months), explained in plain words on the me page; and, on the
// certification form, the employer's recommendations (举荐) the `employer_recommendation` route cites.

import { label, t } from "../common/i18n.js";
import { fmtDate, fmtDateTime, h, problemText } from "../common/ui.js";
import { api } from "./session.js";
import { ATTESTATION, ATTESTATION_OUTCOME, RECOMMENDATION_CITABLE } from "../common/states.js";

export const RECOMMENDATION_ROUTE = "employer_recommendation";
// Presentation only: how a badge is coloured.
const TONE = { [ATTESTATION_OUTCOME.CONFIRMED]: "ok", [ATTESTATION_OUTCOME.DISPUTED]: "bad" };

function factWords(names) {
  return (names || []).map((fact) => label("fact", fact)).join(t("employer.separator"));
}

/** One attestation: who, the outcome, what it confirmed, what differs, and the employer's note on a dispute. */
function attestationCard(a) {
  const standing = a.status === ATTESTATION.STANDING;
  return h(
    "article",
    { class: `card${a.blocking && standing ? " blocking" : ""}`, "data-attestation": a.id },
    h(
      "div",
      { class: "item-head" },
      h("h4", {}, a.employer_name || a.employer_credit_code),
      h("strong", { class: `badge ${TONE[a.outcome] || "warn"}`, "data-testid": "attestation-outcome" }, label("attestation_outcome", a.outcome)),
    ),
    h(
      "p",
      { class: "muted" },
      t("employer.attested_at", { at: fmtDateTime(a.attested_at) }),
      " · ",
      h("span", { "data-testid": "attestation-status" }, label("attestation_status", a.status)),
      a.withdrawn_at ? ` · ${t("employer.withdrawn_at", { at: fmtDateTime(a.withdrawn_at) })}` : "",
    ),
    a.attested_facts && a.attested_facts.length
      ? h("p", { "data-testid": "attested-facts" }, t("employer.confirmed_facts", { facts: factWords(a.attested_facts) }))
      : null,
    a.mismatched_facts && a.mismatched_facts.length
      ? h(
          "p",
          { class: "note error", "data-testid": "mismatched-facts" },
          t("employer.mismatch", { facts: factWords(a.mismatched_facts) }),
          a.social_insurance_months !== undefined && a.mismatched_facts.includes("social_insurance_months")
            ? ` ${t("employer.their_months", { n: a.social_insurance_months })}`
            : "",
        )
      : null,
    a.outcome === ATTESTATION_OUTCOME.DISPUTED
      ? h(
          "p",
          { class: "note error", "data-testid": "dispute" },
          t("employer.disputed"),
          a.note ? h("span", {}, " ", t("employer.their_note"), " ", h("q", { "data-testid": "employer-note" }, a.note)) : null,
        )
      : null,
    a.employed_since ? h("p", { class: "muted" }, t("employer.employed_since", { date: fmtDate(a.employed_since) }), a.position ? ` · ${a.position}` : "") : null,
  );
}

/** The me page's section: the employer's attestations, newest first, with what they mean for the talent. */
export async function attestationsSection(profile) {
  if (!profile) return null;
  let failure = null;
  const page = await api.get("/api/v1/me/attestations?limit=50").catch((error) => {
    if (error.status !== 404) failure = error; // the rest of the me page still shows
    return { items: [] };
  });
  const items = page.items || [];
  if (!items.length && !failure && !(profile.employer && profile.employer.credit_code)) return null;
  return h(
    "section",
    { "aria-labelledby": "attestations-h", "data-testid": "attestations" },
    h("h3", { id: "attestations-h" }, t("employer.title")),
    h("p", { class: "muted" }, t("employer.explain")),
    failure
      ? h("p", { class: "note error" }, problemText(failure))
      : items.length
        ? items.map(attestationCard)
        : h("p", { class: "card muted" }, t("employer.none")),
  );
}

/**
 * The recommendation picker of the certification form: the talent's citable (filed) recommendations, or a note
 * that the employer must file one first. `value()` is the chosen id, or null; `onChosen(r)` runs with the
 * recommendation chosen (the form takes its claimed tier).
 */
export function recommendationPicker(onChosen) {
  const control = h("select", { name: "recommendation_id", required: true });
  const hint = h("small", { class: "hint", id: "recommendation-hint" }, t("employer.pick_hint"));
  const labelEl = h("label", {}, t("employer.recommendation"));
  const none = h("p", { class: "note", role: "note", hidden: true, "data-testid": "no-recommendation" }, t("employer.file_first"));
  const wrapper = h("div", { class: "field", "data-testid": "recommendation-picker" }, labelEl, control, hint);
  const element = h("div", {}, wrapper, none);
  control.id = "recommendation-id";
  labelEl.setAttribute("for", control.id);
  control.setAttribute("aria-describedby", hint.id);
  let byId = {};
  let loaded = null;
  const choose = () => onChosen && byId[control.value] && onChosen(byId[control.value]);
  control.addEventListener("change", choose);
  const load = async () => {
    const page = await api.get("/api/v1/me/recommendations?limit=100");
    const citable = (page.items || []).filter((r) => RECOMMENDATION_CITABLE.includes(r.status));
    byId = Object.fromEntries(citable.map((r) => [r.id, r]));
    control.replaceChildren(
      ...citable.map((r) =>
        h("option", { value: r.id }, `${r.employer_name || r.employer_credit_code} · ${label("tier", r.claimed_tier)} · ${fmtDate(r.filed_at)}`),
      ),
    );
    wrapper.hidden = !citable.length;
    control.disabled = !citable.length;
    none.hidden = Boolean(citable.length);
    choose();
  };
  return {
    element,
    /** Load (once) and show the picker. */
    async show() {
      element.hidden = false;
      if (!loaded) loaded = load().catch((error) => {
        loaded = null;
        wrapper.hidden = true;
        none.hidden = false;
        none.textContent = problemText(error);
      });
      await loaded;
    },
    hide() {
      element.hidden = true;
    },
    value() {
      return element.hidden || control.disabled ? null : control.value || null;
    },
    /** True when the route needs a recommendation and none can be cited. */
    missing() {
      return !element.hidden && (control.disabled || !control.value);
    },
  };
}
