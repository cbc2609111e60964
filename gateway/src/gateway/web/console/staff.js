// The employer's (用人单位) own pages, for accounts of role `employer`: its staff — the talents who named its
// unified social credit code in their profile, which is their consent — with an attestation (在职核验) of
// employment and insured months per talent, revocable, and a recommendation (举荐) for the
// `employer_recommendation` certification route; and the list of its recommendations, with withdrawal.
//
// Also the cards the reviewers' case pages show (reviews.js, changes.js): the recommendation a certification
// cites and the talent's standing attestation, a blocking one flagged.
//
// The administrators' page of employer accounts is employers.js; demand declarations are demands.js.

import { query } from "../common/api.js";
import { label, t } from "../common/i18n.js";
import { announce, busy, cityInputValue, field, fmtDate, fmtDateTime, h, mount, problemText, select, shortId, table } from "../common/ui.js";
import { api, go } from "./session.js";
import { ATTESTATION, ATTESTATION_OUTCOME, ATTESTATION_REVOCABLE, RECOMMENDATION, RECOMMENDATION_WITHDRAWABLE } from "../common/states.js";

const TIERS = ["E", "D", "C", "B", "A"];
const OUTCOMES = Object.values(ATTESTATION_OUTCOME);
const PAGE_SIZE = 50;
// Presentation only: how a status badge is coloured.
const TONE = {
  [ATTESTATION_OUTCOME.CONFIRMED]: "ok",
  [ATTESTATION_OUTCOME.DISPUTED]: "bad",
  [ATTESTATION.STANDING]: "ok",
  [ATTESTATION.SUPERSEDED]: "self",
  [ATTESTATION.REVOKED]: "self",
  [ATTESTATION.LAPSED]: "self",
  [RECOMMENDATION.FILED]: "warn",
  [RECOMMENDATION.CITED]: "ok",
  [RECOMMENDATION.WITHDRAWN]: "self",
};

/** One key per submission: when the API client sends the POST again (after refreshing an expired token), the
 * service answers the first one's result instead of creating a second thing. */
export function idempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

function badge(group, value, testid) {
  return h("span", { class: `badge ${TONE[value] || "warn"}`, "data-testid": testid }, label(group, value));
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

/** Decision facts by name ("employer", "social_insurance_months") as words, or a dash for none. */
function factList(names, testid) {
  if (!names || !names.length) return h("span", { class: "muted", "data-testid": testid }, t("staff.none"));
  return h("ul", { class: "plain", "data-testid": testid }, names.map((fact) => h("li", { "data-fact": fact }, label("fact", fact))));
}

/**
 * A button for an action that cannot be undone: the first click asks (the button says what a second click
 * does), the second acts. In the page rather than window.confirm, so keyboard and screen-reader users meet
 * the question where they are.
 */
export function twoStepButton(text, confirmText, action) {
  const button = h("button", { type: "button", class: "danger" }, text);
  button.addEventListener("click", () => {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = confirmText;
      return;
    }
    busy(button, action);
  });
  return button;
}

/** A list that pages on with a "more" button while the service says there is a next page. */
export async function pagedRows(path, params, toRow) {
  const first = [];
  const more = h("button", { type: "button", hidden: true }, t("common.more"));
  let cursor = null;
  const load = async () => {
    const page = await api.get(`${path}${query({ ...params, limit: PAGE_SIZE, cursor })}`);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    return page.items.map(toRow);
  };
  first.push(...(await load()));
  more.addEventListener("click", () =>
    busy(more, async () => {
      try {
        const rows = await load();
        more.closest("section, div.view, main")?.querySelector("tbody")?.append(...rows);
      } catch (error) {
        announce(problemText(error), "error");
      }
    }),
  );
  return { rows: first, more };
}

// --- staff ------------------------------------------------------------------------------------------------

export async function staffPage(main) {
  const { rows, more } = await pagedRows("/api/v1/employer/staff", {}, (m) =>
    h(
      "tr",
      { "data-talent": m.talent_id },
      h("td", {}, h("a", { href: `#/staff/${m.talent_id}` }, m.name || "—")),
      h("td", { class: "mono" }, m.id_number_masked || "—"),
      h("td", {}, m.tier ? label("tier", m.tier) : "—"),
      h("td", {}, label("talent_status", m.status)),
      h("td", {}, fmtDate(m.certified_until)),
      h("td", {}, m.points ?? "—"),
      h("td", {}, attestationState(m.attestation)),
      h("td", {}, h("button", { type: "button", onclick: () => go(`staff/${m.talent_id}`) }, t("common.open"))),
    ),
  );
  mount(
    main,
    h("h1", {}, t("staff.staff_title", { name: api.claims.employer_name || "" })),
    h("p", { class: "muted" }, t("staff.staff_intro")),
    rows.length
      ? table(
          [
            t("profile.name"),
            t("profile.id_number"),
            t("changes.tier"),
            t("changes.talent_status"),
            t("staff.certified_until"),
            t("changes.points"),
            t("staff.attestation"),
            "",
          ],
          rows,
          t("staff.staff_caption"),
        )
      : h("p", { class: "card" }, t("staff.no_staff")),
    more,
  );
}

/** The attestation column: none yet, or the outcome, flagged when it blocks (a dispute or a mismatch). */
function attestationState(summary) {
  if (!summary) return h("span", { class: "muted", "data-testid": "attestation-state" }, t("staff.not_attested"));
  return h(
    "span",
    { "data-testid": "attestation-state" },
    badge("attestation_outcome", summary.outcome),
    summary.blocking ? [" ", h("span", { class: "badge bad" }, t("staff.blocking"))] : null,
    summary.mismatched_facts && summary.mismatched_facts.length
      ? h("div", { class: "muted" }, t("staff.differs", { facts: summary.mismatched_facts.map((f) => label("fact", f)).join(t("staff.separator")) }))
      : null,
  );
}

/** One talent of the staff: who, the standing attestation (or the one just made), and the two forms. */
export async function staffMemberPage(main, talentId, fresh = null) {
  const m = await api.get(`/api/v1/employer/staff/${encodeURIComponent(talentId)}`);
  const reload = (attestation) => staffMemberPage(main, talentId, attestation);
  const standing = fresh && m.attestation && fresh.id === m.attestation.id ? fresh : m.attestation;
  mount(
    main,
    h("p", {}, h("a", { href: "#/staff" }, "← " + t("nav.staff"))),
    h("h1", {}, m.name || shortId(m.talent_id)),
    h(
      "div",
      { class: "case-layout" },
      h(
        "div",
        {},
        h(
          "section",
          { class: "card", "aria-labelledby": "member-h" },
          h("h2", { id: "member-h" }, t("staff.member")),
          facts([
            [t("profile.name"), m.name],
            [t("profile.id_number"), h("span", { class: "mono" }, m.id_number_masked || "—")],
            [t("changes.tier"), m.tier ? label("tier", m.tier) : "—"],
            [t("changes.talent_status"), label("talent_status", m.status)],
            [t("staff.certified_until"), fmtDate(m.certified_until)],
            [t("changes.points"), m.points ?? "—"],
          ]),
        ),
        standingCard(standing, reload),
      ),
      h("div", {}, attestationForm(m, reload), recommendationForm(m)),
    ),
  );
}

/** The standing attestation, with what it attested, what differs, and a revoke button. */
function standingCard(a, reload) {
  if (!a) {
    return h(
      "section",
      { class: "card", "aria-labelledby": "standing-h", "data-testid": "standing-attestation" },
      h("h2", { id: "standing-h" }, t("staff.standing")),
      h("p", { class: "muted" }, t("staff.not_attested_long")),
    );
  }
  const problem = h("p", { class: "note error", role: "alert", hidden: true });
  const revoke = twoStepButton(t("staff.revoke"), t("staff.revoke_confirm"), async () => {
    problem.hidden = true;
    try {
      await api.request(`/api/v1/employer/attestations/${encodeURIComponent(a.id)}`, { method: "DELETE" });
      announce(t("staff.revoked"), "ok");
      await reload(null);
    } catch (error) {
      problem.hidden = false;
      problem.textContent = problemText(error);
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "standing-h", "data-testid": "standing-attestation", "data-attestation": a.id },
    h("h2", { id: "standing-h" }, t("staff.standing")),
    a.blocking ? h("p", { class: "note error", "data-testid": "attestation-blocking" }, t("staff.blocking_note")) : null,
    facts([
      [t("staff.outcome"), badge("attestation_outcome", a.outcome, "attestation-outcome")],
      a.attested_facts ? [t("staff.attested_facts"), factList(a.attested_facts, "attested-facts")] : null,
      [t("staff.mismatched_facts"), factList(a.mismatched_facts, "mismatched-facts")],
      a.employed_since ? [t("staff.employed_since"), fmtDate(a.employed_since)] : null,
      a.position !== undefined ? [t("staff.position"), a.position || "—"] : null,
      a.social_insurance_months !== undefined ? [t("fact.social_insurance_months"), a.social_insurance_months] : null,
      a.note ? [t("staff.note"), a.note] : null,
      [t("staff.attested_at"), fmtDateTime(a.attested_at)],
    ].filter(Boolean)),
    problem,
    // The staff view's summary is this employer's standing attestation (no status); a full one says its own.
    !a.status || ATTESTATION_REVOCABLE.includes(a.status) ? h("div", { class: "actions" }, revoke) : null,
  );
}

function attestationForm(m, reload) {
  // Not in the future (the service refuses it too); "sv" formats a local date as YYYY-MM-DD.
  const employedSince = h("input", { name: "employed_since", type: "date", required: true, max: cityInputValue(new Date()).slice(0, 10) });
  const position = h("input", { name: "position", maxlength: "100", autocomplete: "off" });
  const months = h("input", { name: "social_insurance_months", type: "number", min: "0", max: "600", required: true, inputmode: "numeric" });
  const radio = `outcome-${shortId(m.talent_id)}`;
  const outcomes = OUTCOMES.map((o, i) =>
    h("label", {}, h("input", { type: "radio", name: radio, value: o, required: true, checked: i === 0 }), label("attestation_outcome", o)),
  );
  const note = h("textarea", { name: "note", maxlength: "2000" });
  const submit = h("button", { type: "submit", class: "primary" }, t("staff.attest"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "attestation-problem" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "attest-h" },
    h("h2", { id: "attest-h" }, t("staff.attest_title")),
    h("p", { class: "muted" }, t("staff.attest_intro")),
    field(t("staff.employed_since"), employedSince),
    field(t("staff.position"), position),
    field(t("staff.months"), months, t("staff.months_hint")),
    h("fieldset", {}, h("legend", {}, t("staff.outcome")), h("div", { class: "choices" }, outcomes)),
    field(t("staff.note"), note, t("staff.note_hint")),
    problem,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    if (!form.reportValidity()) return;
    const body = {
      talent_id: m.talent_id,
      employed_since: employedSince.value,
      social_insurance_months: Number(months.value),
      outcome: form.querySelector(`input[name="${radio}"]:checked`).value,
    };
    if (position.value.trim()) body.position = position.value.trim();
    if (note.value.trim()) body.note = note.value.trim();
    busy(submit, async () => {
      try {
        const made = await api.post("/api/v1/employer/attestations", body, { headers: { "Idempotency-Key": idempotencyKey() } });
        announce(t("staff.attested", { outcome: label("attestation_outcome", made.outcome) }), made.blocking ? "error" : "ok");
        await reload(made);
      } catch (error) {
        problem.hidden = false;
        problem.textContent = problemText(error);
      }
    });
  });
  return form;
}

function recommendationForm(m) {
  const tier = select({ name: "claimed_tier" }, TIERS.map((x) => [x, label("tier", x)]), m.tier || "E");
  const reason = h("textarea", { name: "reason", required: true, maxlength: "2000" });
  const submit = h("button", { type: "submit", class: "primary" }, t("staff.recommend"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "recommendation-problem" });
  const result = h("div", { "data-testid": "recommendation-result" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "recommend-h" },
    h("h2", { id: "recommend-h" }, t("staff.recommend_title")),
    h("p", { class: "muted" }, t("staff.recommend_intro")),
    field(t("certs.claimed_tier"), tier),
    field(t("staff.recommend_reason"), reason, t("staff.recommend_reason_hint")),
    problem,
    result,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    if (!reason.value.trim()) {
      reason.setCustomValidity(t("decision.reason_required"));
      reason.reportValidity();
      return;
    }
    busy(submit, async () => {
      try {
        const filed = await api.post(
          "/api/v1/employer/recommendations",
          { talent_id: m.talent_id, claimed_tier: tier.value, reason: reason.value.trim() },
          { headers: { "Idempotency-Key": idempotencyKey() } },
        );
        reason.value = "";
        mount(
          result,
          h(
            "p",
            { class: "note ok", "data-recommendation": filed.id },
            t("staff.recommended", { tier: label("tier", filed.claimed_tier) }),
            " ",
            h("a", { href: "#/recommendations" }, t("nav.recommendations")),
          ),
        );
        announce(t("staff.recommended", { tier: label("tier", filed.claimed_tier) }), "ok");
      } catch (error) {
        problem.hidden = false;
        problem.textContent = problemText(error);
      }
    });
  });
  reason.addEventListener("input", () => reason.setCustomValidity(""));
  return form;
}

// --- recommendations --------------------------------------------------------------------------------------

export async function recommendationsPage(main) {
  // A recommendation names its talent by id: the staff list's first page gives the names this employer may see
  // anyway (a talent further on shows by id, a link to their page all the same).
  const staff = await api.get(`/api/v1/employer/staff${query({ limit: 200 })}`).catch(() => ({ items: [] }));
  const names = Object.fromEntries(staff.items.map((m) => [m.talent_id, m.name]));
  const reload = () => recommendationsPage(main);
  const { rows, more } = await pagedRows("/api/v1/employer/recommendations", {}, (r) => recommendationRow(r, names, reload));
  mount(
    main,
    h("h1", {}, t("staff.recommendations_title")),
    h("p", { class: "muted" }, t("staff.recommendations_intro")),
    rows.length
      ? table(
          [t("staff.talent"), t("certs.claimed_tier"), t("staff.recommend_reason"), t("common.status"), t("staff.filed_at"), t("staff.certification"), ""],
          rows,
        )
      : h("p", { class: "card" }, t("staff.no_recommendations")),
    more,
  );
}

function recommendationRow(r, names, reload) {
  const problem = h("span", { class: "note error", role: "alert", hidden: true });
  const withdraw = twoStepButton(t("staff.withdraw"), t("staff.withdraw_confirm"), async () => {
    problem.hidden = true;
    try {
      await api.request(`/api/v1/employer/recommendations/${encodeURIComponent(r.id)}`, { method: "DELETE" });
      announce(t("staff.withdrawn"), "ok");
      await reload();
    } catch (error) {
      // 409: a certification cites it already, so it stands.
      problem.hidden = false;
      problem.textContent = problemText(error);
    }
  });
  return h(
    "tr",
    { "data-recommendation": r.id },
    h("td", {}, h("a", { href: `#/staff/${r.talent_id}`, class: names[r.talent_id] ? undefined : "mono" }, names[r.talent_id] || shortId(r.talent_id))),
    h("td", {}, label("tier", r.claimed_tier)),
    h("td", {}, r.reason),
    h("td", {}, badge("recommendation_status", r.status, "recommendation-status")),
    h("td", {}, fmtDateTime(r.filed_at)),
    h("td", { class: "mono" }, r.certification_id ? shortId(r.certification_id) : "—"),
    h("td", {}, RECOMMENDATION_WITHDRAWABLE.includes(r.status) ? [withdraw, problem] : null),
  );
}

// --- what the reviewers see -------------------------------------------------------------------------------

/** The recommendation a certification on the employer_recommendation route cites (null: nothing to show). */
export function recommendationCard(r) {
  if (!r) return null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "recommendation-h", "data-testid": "recommendation", "data-recommendation": r.id },
    h("h2", { id: "recommendation-h" }, t("staff.recommendation_card")),
    facts([
      [t("staff.employer"), employerText(r)],
      [t("certs.claimed_tier"), label("tier", r.claimed_tier)],
      [t("staff.recommend_reason"), r.reason],
      [t("staff.filed_at"), fmtDateTime(r.filed_at)],
      [t("common.status"), badge("recommendation_status", r.status)],
    ]),
  );
}

/** The talent's standing attestation by the employer: outcome, what it attested and what differs, a blocking
 * one (a dispute, or months other than the profile's) flagged so that no reviewer misses it. */
export function attestationCard(a) {
  if (!a) return null;
  return h(
    "section",
    {
      class: `card${a.blocking ? " blocking" : ""}`,
      "aria-labelledby": "attestation-h",
      "data-testid": "attestation",
      "data-attestation": a.id,
    },
    h("h2", { id: "attestation-h" }, t("staff.attestation_card")),
    a.blocking ? h("p", { class: "note error", role: "note", "data-testid": "attestation-blocking" }, t("staff.blocking_reviewer")) : null,
    facts([
      [t("staff.employer"), employerText(a)],
      [t("staff.outcome"), badge("attestation_outcome", a.outcome, "attestation-outcome")],
      [t("staff.attested_facts"), factList(a.attested_facts, "attested-facts")],
      [t("staff.mismatched_facts"), factList(a.mismatched_facts, "mismatched-facts")],
      [t("staff.employed_since"), fmtDate(a.employed_since)],
      [t("staff.position"), a.position || "—"],
      [t("fact.social_insurance_months"), a.social_insurance_months ?? "—"],
      a.note ? [t("staff.note"), a.note] : null,
      [t("common.status"), badge("attestation_status", a.status)],
      [t("staff.attested_at"), fmtDateTime(a.attested_at)],
    ].filter(Boolean)),
  );
}

function employerText(x) {
  return h("span", {}, x.employer_name || "—", " ", h("span", { class: "mono muted" }, x.employer_credit_code || ""));
}
