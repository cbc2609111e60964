// Benefits: the one-tap list (what I may claim now, and why not), and my claims with their progress
// 受理 → 初审 → 复审 → 公示 → 兑现, history, withdrawal and 补正 (resubmission after a return).

import { label, lang, t } from "../common/i18n.js";
import { announce, busy, deadlineBadge, field, fmtDateTime, fmtMoney, h, mount, officerLine, showError } from "../common/ui.js";
import { api } from "./session.js";
import { reviewReasonText } from "../common/reasons.js";
import { CLAIM, CLAIM_PATH, CLAIM_RESUBMITTABLE, CLAIM_REVIEW_ROLE, CLAIM_WITHDRAWABLE } from "../common/states.js";

// The steps a claim that goes all the way passes, from the services' transition table.
const STEPS = CLAIM_PATH;

export async function benefitsPage(main) {
  const [eligibility, claims, policies] = await Promise.all([
    api.get("/api/v1/me/eligibility"),
    api.get("/api/v1/me/claims?limit=100"),
    api.get("/api/v1/policies", { auth: false }).catch(() => ({ items: [] })),
  ]);
  const byCode = Object.fromEntries(policies.items.map((p) => [p.code, p]));
  const reload = () => benefitsPage(main);
  const eligible = eligibility.items.filter((e) => e.eligible && !e.claimed);
  const others = eligibility.items.filter((e) => !(e.eligible && !e.claimed));
  mount(
    main,
    h("h2", {}, t("benefits.title")),
    h(
      "section",
      { "aria-labelledby": "claims-h" },
      h("h3", { id: "claims-h" }, t("benefits.my_claims")),
      claims.items.length ? claims.items.map((c) => claimCard(c, reload)) : h("p", { class: "card muted" }, t("benefits.no_claims")),
    ),
    h(
      "section",
      { "aria-labelledby": "eligible-h" },
      h("h3", { id: "eligible-h" }, t("benefits.eligible")),
      eligible.length
        ? eligible.map((e) => eligibleCard(e, byCode[e.policy_code], reload))
        : h("p", { class: "card muted" }, t("benefits.nothing_now")),
    ),
    others.length
      ? h(
          "details",
          { class: "card" },
          h("summary", {}, t("benefits.not_eligible", { n: others.length })),
          others.map((e) =>
            h(
              "div",
              {},
              h("strong", {}, policyName(e)),
              e.claimed ? h("span", { class: "badge ok" }, " " + t("benefits.claimed")) : null,
              h("ul", { class: "reasons" }, (e.reasons || []).map((r) => h("li", {}, reasonText(r)))),
            ),
          ),
        )
      : null,
  );
}

function policyName(item) {
  const name = label("policy", item.policy_code);
  return name === item.policy_code && item.policy_name ? item.policy_name : name;
}

function reasonText(reason) {
  // The service words its reasons in English, with specifics (dates, tiers); in Chinese, a sentence per code.
  if (lang() === "en") return reason.message;
  const key = `reason.${reason.code}`;
  const text = t(key);
  return text === key ? reason.message : text;
}

function eligibleCard(item, policy, reload) {
  const amount = policy && policy.amount ? policy.amount : {};
  const inputs = {};
  const extra = [];
  if (amount.basis === "entered_by_talent") {
    inputs.amount_fen = h("input", { type: "number", min: "1", step: "0.01", required: true, inputmode: "decimal" });
    extra.push(field(t("benefits.amount_yuan"), inputs.amount_fen));
  }
  if (amount.per === "month") {
    const max = amount.max_months_per_claim || 12;
    inputs.months = h("input", { type: "number", min: "1", max: String(max), value: String(max), required: true });
    extra.push(field(t("benefits.months"), inputs.months, t("benefits.months_hint", { max })));
  }
  const submit = h("button", { type: "submit", class: "primary" }, t("benefits.claim"));
  const form = h(
    "form",
    { class: "card", "data-policy": item.policy_code },
    h(
      "div",
      { class: "item-head" },
      h("h4", {}, policyName(item)),
      item.amount_fen != null ? h("span", { class: "amount" }, fmtMoney(item.amount_fen)) : null,
    ),
    // The catalogue's descriptions are written in English; Chinese readers have the policy's name.
    policy && policy.description && lang() === "en" ? h("p", { class: "muted" }, policy.description) : null,
    extra,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const details = {};
    if (inputs.amount_fen) details.amount_fen = Math.round(Number(inputs.amount_fen.value) * 100);
    if (inputs.months) details.months = Number(inputs.months.value);
    busy(submit, async () => {
      try {
        const claim = await api.post(
          "/api/v1/me/claims",
          { policy_code: item.policy_code, details },
          { headers: { "Idempotency-Key": crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) } },
        );
        announce(t("benefits.claimed_now", { status: label("claim_status", claim.status) }), claim.status === CLAIM.REJECTED ? "error" : "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    });
  });
  return form;
}

function claimCard(c, reload) {
  const reached = STEPS.indexOf(c.status);
  const progress = !STEPS.includes(c.status)
    ? null
    : h(
        "ol",
        { class: "progress", "aria-label": t("benefits.progress") },
        STEPS.map((step, i) =>
          h(
            "li",
            {
              class: i < reached || (i === reached && step === CLAIM.DISBURSED) ? "done" : undefined,
              "aria-current": i === reached && step !== CLAIM.DISBURSED ? "step" : undefined,
            },
            label("claim_step", step),
          ),
        ),
      );
  const actions = [];
  if (CLAIM_WITHDRAWABLE.includes(c.status)) {
    const confirm = h("button", { type: "button", class: "danger", hidden: true }, t("benefits.withdraw_confirm"));
    const withdraw = h("button", { type: "button" }, t("benefits.withdraw"));
    withdraw.addEventListener("click", () => {
      withdraw.hidden = true;
      confirm.hidden = false;
      confirm.focus();
    });
    confirm.addEventListener("click", () =>
      busy(confirm, async () => {
        try {
          await api.post(`/api/v1/me/claims/${c.id}/withdraw`);
          announce(t("benefits.withdrawn"), "ok");
          await reload();
        } catch (error) {
          showError(error);
        }
      }),
    );
    actions.push(withdraw, confirm);
  }
  return h(
    "article",
    { class: "card", "data-claim": c.id, "data-status": c.status },
    h(
      "div",
      { class: "item-head" },
      h("h4", {}, label("policy", c.policy_code), c.auto ? h("span", { class: "badge ok" }, " " + t("benefits.auto")) : null),
      h("span", { class: "amount" }, fmtMoney(c.amount_fen)),
    ),
    h("p", {}, t("common.status"), ": ", h("strong", { "data-testid": "claim-status" }, label("claim_status", c.status))),
    officerLine(c.officer, t("common.officer")),
    // What appealed and stopped mean for the talent (复议 pending; ended by a fact, not a rejection).
    c.status === CLAIM.APPEALED || c.status === CLAIM.STOPPED
      ? h("p", { class: "note", "data-testid": "status-meaning" }, t(`benefits.meaning_${c.status}`))
      : null,
    progress,
    howDecided(c),
    c.stage_due_at && CLAIM_REVIEW_ROLE[c.status]
      ? h("p", { class: "muted" }, t("benefits.stage_due"), " ", deadlineBadge(c.stage_due_at, 24))
      : null,
    c.publicized_until && c.status === CLAIM.PUBLICIZED
      ? h("p", { class: "muted" }, t("benefits.publicized_until", { until: fmtDateTime(c.publicized_until) }))
      : null,
    c.payment_reference ? h("p", {}, t("benefits.paid", { ref: c.payment_reference, at: fmtDateTime(c.disbursed_at) })) : null,
    (c.reasons || []).length ? h("ul", { class: "reasons" }, c.reasons.map((r) => h("li", {}, reasonText(r)))) : null,
    CLAIM_RESUBMITTABLE.includes(c.status) ? resubmitForm(c, reload) : null,
    appealForm(c, reload),
    h(
      "details",
      {},
      h("summary", {}, t("benefits.history")),
      h(
        "ol",
        { class: "timeline" },
        (c.history || []).map((e) =>
          h(
            "li",
            {},
            h("strong", {}, historyTitle(e)),
            h("div", { class: "muted" }, fmtDateTime(e.at)),
            e.reason ? h("div", {}, e.reason) : null,
          ),
        ),
      ),
    ),
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );
}

/** A history entry's title: the status it led to, or for a step that leaves the status where it was (the first
 * of two city approvals stays 初审通过 until the second) what happened. */
function historyTitle(entry) {
  const key = `claim_action.${entry.action}`;
  const text = t(key);
  return entry.from_status === entry.to_status && text !== key ? text : label("claim_status", entry.to_status);
}

/** Straight through (免申即享: approved with no one's review), or for a claim in review why a person looks at
 * it, in plain and calm words (a sample for quality checks, the employer's answer, a pending change request…). */
function howDecided(c) {
  if (c.straight_through) return h("p", { class: "note", "data-testid": "straight-through" }, t("benefits.straight_through"));
  const reasons = CLAIM_REVIEW_ROLE[c.status] ? c.manual_review_reasons || [] : [];
  if (!reasons.length) return null;
  return h(
    "div",
    { class: "note", "data-testid": "review-reasons" },
    h("p", {}, t("benefits.why_reviewed")),
    h("ul", {}, reasons.map((code) => h("li", { "data-reason": code }, reviewReasonText(code)))),
  );
}

// 复议: within 15 days of an officer's rejection (not the automatic checks'), once (benefits.appeals).
const APPEAL_DAYS = 15;

/** Until when the claim's rejection may be appealed, or null. */
function appealableUntil(c) {
  if (c.status !== CLAIM.REJECTED) return null;
  const history = c.history || [];
  if (history.some((e) => e.action === "appealed")) return null;
  const rejection = [...history].reverse().find((e) => e.to_status === CLAIM.REJECTED);
  if (!rejection || rejection.actor === "system") return null;
  const until = new Date(new Date(rejection.at).getTime() + APPEAL_DAYS * 24 * 3600 * 1000);
  return until > new Date() ? until : null;
}

function appealForm(c, reload) {
  const until = appealableUntil(c);
  if (!until) return null;
  const reason = h("textarea", { name: "appeal_reason", required: true, maxlength: "2000" });
  const submit = h("button", { type: "submit", class: "primary" }, t("benefits.appeal"));
  const form = h(
    "form",
    { "data-testid": "appeal-form" },
    field(t("benefits.appeal_reason"), reason, t("benefits.appeal_hint", { until: fmtDateTime(until.toISOString()) })),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await api.post(
          `/api/v1/me/claims/${c.id}/appeal`,
          { reason: reason.value.trim() },
          { headers: { "Idempotency-Key": crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) } },
        );
        announce(t("benefits.appealed"), "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    });
  });
  return form;
}

function resubmitForm(c, reload) {
  const note = h("textarea", { name: "note", required: true, maxlength: "2000" });
  const submit = h("button", { type: "submit", class: "primary" }, t("benefits.resubmit"));
  const form = h("form", {}, field(t("benefits.resubmit_note"), note, t("benefits.resubmit_hint")), h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await api.post(`/api/v1/me/claims/${c.id}/resubmit`, { note: note.value.trim() });
        announce(t("benefits.resubmitted"), "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    });
  });
  return form;
}
