// Review queues and case pages: certifications (认定) and claims (申领), decisions with a required reason,
// 公示 (public notice) with objections, and disbursement (兑现) for finance officers.

import { query } from "../common/api.js";
import { label, t } from "../common/i18n.js";
import {
  announce,
  busy,
  deadlineBadge,
  field,
  fmtDate,
  fmtDateTime,
  fmtMoney,
  h,
  mount,
  select,
  shortId,
  showError,
  table,
  urgency,
} from "../common/ui.js";
import { api, go } from "./session.js";
import { provenanceCard } from "./changes.js";
import { attestationCard, recommendationCard } from "./staff.js";
import { reviewReasonText } from "../common/reasons.js";
import { viewButton } from "./documents.js";
import { ownerFact, reassignForm } from "./officers.js";
import { CERTIFICATION, CERTIFICATION_REVIEW_ROLE, CERTIFICATION_STATUSES, CLAIM, CLAIM_LISTED, CLAIM_OPEN, CLAIM_RESUBMITTABLE, CLAIM_REVIEW_ROLE } from "../common/states.js";

const CERT_FILTERS = ["pending", ...CERTIFICATION_STATUSES];
const CLAIM_FILTERS = ["", ...CLAIM_LISTED];
// How a status badge is coloured (presentation, not flow): good news, bad news, anything else is waiting.
const GOOD = new Set([CERTIFICATION.CERTIFIED, CLAIM.DISBURSED, CLAIM.PUBLICIZED, CLAIM.CITY_APPROVED]);
const BAD = new Set([CLAIM.REJECTED, CLAIM.WITHDRAWN, CLAIM.STOPPED, CERTIFICATION.REJECTED]);
const STAGE_DAYS = 5; // default working days per review stage (docs/domain.md), for certifications without a due date

// --- certifications ---------------------------------------------------------------------------------

export async function certificationQueue(main, status = "pending", overdue = false) {
  const filter = select(
    { name: "status" },
    CERT_FILTERS.map((s) => [s, label("cert_filter", s)]),
    status,
  );
  // Only the certifications escalated because their stage's deadline passed (?overdue=true).
  const overdueOnly = h("input", { type: "checkbox", name: "overdue", checked: overdue });
  const reload = () => certificationQueue(main, filter.value, overdueOnly.checked);
  filter.addEventListener("change", reload);
  overdueOnly.addEventListener("change", reload);
  const params = { status, limit: 100, ...(overdue ? { overdue: "true" } : {}) };
  const page = await api.get(`/api/v1/reviews/certifications${query(params)}`);
  // The escalated ones first (their deadline has passed), then first come, first reviewed.
  const items = [...page.items].sort((a, b) => Number(Boolean(b.escalated)) - Number(Boolean(a.escalated)));
  const rows = items.map((c) => {
    const due = c.stage_due_at || addWorkingDays(c.updated_at, STAGE_DAYS);
    const open = () => go(`certifications/${c.id}`);
    return h(
      "tr",
      { class: isOpen(c.status) ? urgency(due, 48) : "", "data-escalated": c.escalated ? "true" : null },
      h("td", {}, h("a", { href: `#/certifications/${c.id}` }, shortId(c.id))),
      h("td", {}, c.applicant ? c.applicant.name : "—"),
      h("td", {}, label("route", c.route)),
      h("td", {}, c.claimed_tier),
      h("td", {}, label("region", c.region_code)),
      h("td", {}, h("span", { class: `badge ${statusTone(c.status)}` }, label("cert_status", c.status))),
      h("td", {}, fmtDateTime(c.submitted_at)),
      h("td", {}, isOpen(c.status) ? stageDeadline(c, due) : "—"),
      h("td", {}, h("button", { type: "button", onclick: open }, t("common.open"))),
    );
  });
  mount(
    main,
    h("h1", {}, t("certs.title")),
    h("p", { class: "muted" }, t(api.hasRole("county_reviewer") ? "certs.intro_county" : "certs.intro_city")),
    h("div", { class: "toolbar" }, field(t("common.status"), filter), field(t("certs.overdue_only"), overdueOnly)),
    rows.length
      ? table(
          [
            t("common.id"),
            t("certs.applicant"),
            t("certs.route"),
            t("certs.claimed_tier"),
            t("common.region"),
            t("common.status"),
            t("common.submitted"),
            t("common.deadline"),
            "",
          ],
          rows,
          t("certs.queue_caption", { n: rows.length }),
        )
      : h("p", { class: "card" }, t("common.empty_queue")),
  );
}

export async function certificationCase(main, id) {
  const c = await api.get(`/api/v1/reviews/certifications/${encodeURIComponent(id)}`);
  const due = c.stage_due_at || addWorkingDays(c.updated_at, STAGE_DAYS);
  const applicant = c.applicant || {};
  const tier = select({ name: "tier" }, ["A", "B", "C", "D", "E"].map((x) => [x, label("tier", x)]), c.tier || c.claimed_tier);
  const form = decisionForm(async (decision, reason) => {
    const body = { decision, reason };
    if (decision === "approve") body.tier = tier.value;
    const updated = await api.post(`/api/v1/reviews/certifications/${c.id}/decisions`, body);
    announce(t("decision.done", { status: label("cert_status", updated.status) }), "ok");
    await certificationCase(main, id);
  }, field(t("certs.grant_tier"), tier));
  mount(
    main,
    h("p", {}, h("a", { href: "#/certifications" }, "← " + t("certs.title"))),
    h("h1", {}, t("certs.case_title", { id: shortId(c.id) })),
    h(
      "div",
      { class: "case-layout" },
      h(
        "div",
        {},
        h(
          "section",
          { class: "card", "aria-labelledby": "applicant-h" },
          h("h2", { id: "applicant-h" }, t("certs.applicant")),
          facts([
            [t("profile.name"), applicant.name],
            [t("profile.id_type"), label("id_type", applicant.id_type)],
            [t("profile.id_number"), h("span", { class: "mono", "data-testid": "masked-id" }, applicant.id_number_masked || "—")],
            [t("profile.birth_date"), fmtDate(applicant.birth_date)],
            [t("profile.degree"), label("degree", applicant.degree)],
            [t("profile.title"), label("title", applicant.title)],
            [t("profile.employer"), applicant.employer_name],
            [t("common.region"), label("region", c.region_code)],
          ]),
        ),
        provenanceCard(c.provenance || applicant.provenance),
        recommendationCard(c.recommendation),
        attestationCard(c.attestation),
        h(
          "section",
          { class: "card", "aria-labelledby": "request-h" },
          h("h2", { id: "request-h" }, t("certs.request")),
          facts([
            [t("common.status"), h("span", { class: `badge ${statusTone(c.status)}` }, label("cert_status", c.status))],
            [t("certs.route"), label("route", c.route)],
            [t("certs.claimed_tier"), label("tier", c.claimed_tier)],
            [t("certs.programme_code"), c.programme_code || "—"],
            [t("common.submitted"), fmtDateTime(c.submitted_at)],
            [t("certs.round"), c.round],
            [t("certs.city_approvals"), c.city_approvals_needed],
            [t("common.deadline"), isOpen(c.status) ? stageDeadline(c, due) : "—"],
            ownerFact(c),
          ]),
        ),
        h(
          "section",
          { class: "card", "aria-labelledby": "evidence-h" },
          h("h2", { id: "evidence-h" }, t("certs.evidence")),
          table(
            [t("certs.evidence_kind"), t("certs.evidence_reference"), "SHA-256", t("certs.evidence_document")],
            (c.evidence || []).map((e) =>
              h(
                "tr",
                { "data-evidence": e.document_id || e.reference },
                h("td", {}, label("evidence", e.kind)),
                h("td", {}, e.reference),
                h("td", { class: "mono" }, e.sha256),
                h("td", {}, e.document_id ? [documentLabel(e), " ", viewButton(e, label("evidence", e.kind))] : "—"),
              ),
            ),
          ),
        ),
        history(
          (c.decisions || []).map((d) => ({
            at: d.decided_at,
            title: `${label("stage", d.stage)} · ${label("decision", d.decision)}${d.tier ? ` · ${label("tier", d.tier)}` : ""}`,
            actor: d.decided_by,
            reason: d.reason,
          })),
        ),
      ),
      h(
        "div",
        {},
        isOpen(c.status) ? form : h("p", { class: "card" }, t("decision.closed")),
        reassignForm("certifications", c.id, () => certificationCase(main, id)),
      ),
    ),
  );
}

/** A cited document's type and size, e.g. "PDF · 240 KB". */
function documentLabel(e) {
  const kind = { "application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG" }[e.content_type] || "—";
  if (e.size === undefined || e.size === null) return kind;
  const size = e.size < 1024 * 1024 ? `${Math.max(1, Math.round(e.size / 1024))} KB` : `${(e.size / 1024 / 1024).toFixed(1)} MB`;
  return `${kind} · ${size}`;
}

// --- claims -----------------------------------------------------------------------------------------

/** 复议: the appealed claims, for a city approver who did not decide them before. */
export function appealsQueue(main) {
  return claimQueue(main, CLAIM.APPEALED, null, "claims.intro_appeals");
}

export async function claimQueue(main, status = "", outcomes = null, introKey = null) {
  const filter = select(
    { name: "status" },
    CLAIM_FILTERS.map((s) => [s, s ? label("claim_status", s) : t("claims.filter_mine")]),
    status,
  );
  filter.addEventListener("change", () => claimQueue(main, filter.value).catch(showError));
  const page = await api.get(`/api/v1/reviews/claims${query({ status, limit: 100 })}`);
  // Reviewers pick claims with the checkboxes and decide them together (each is still decided on its own).
  const batchable = api.hasRole("county_reviewer", "city_approver");
  const picks = new Map();
  const rows = page.items.map((c) =>
    h(
      "tr",
      { class: c.stage_due_at ? urgency(c.stage_due_at, 48) : "", "data-claim": c.id },
      batchable ? h("td", {}, pickBox(picks, c)) : null,
      h("td", {}, h("a", { href: `#/claims/${c.id}` }, shortId(c.id))),
      h("td", {}, label("policy", c.policy_code), routeBadges(c)),
      h("td", {}, fmtMoney(c.amount_fen)),
      h("td", { class: "mono" }, shortId(c.talent_id)),
      h("td", {}, label("region", c.region_code)),
      h("td", {}, h("span", { class: `badge ${statusTone(c.status)}` }, label("claim_status", c.status)), reviewReasons(c)),
      h("td", {}, fmtDateTime(c.submitted_at)),
      h("td", {}, deadlineBadge(c.stage_due_at, 48)),
      h("td", {}, h("button", { type: "button", onclick: () => go(`claims/${c.id}`) }, t("common.open"))),
    ),
  );
  const intro =
    introKey ||
    (api.hasRole("finance_officer")
      ? "claims.intro_finance"
      : api.hasRole("county_reviewer")
        ? "claims.intro_county"
        : "claims.intro_city");
  const all = h("input", { type: "checkbox", name: "pick-all", "aria-label": t("batch.pick_all") });
  all.addEventListener("change", () => {
    for (const box of main.querySelectorAll('input[name="pick"]')) {
      box.checked = all.checked;
      box.dispatchEvent(new Event("change"));
    }
  });
  const reload = (results) => claimQueue(main, status, results, introKey);
  mount(
    main,
    h("h1", {}, t(introKey ? "claims.appeals_title" : "claims.title")),
    h("p", { class: "muted" }, t(intro)),
    h("div", { class: "toolbar" }, field(t("common.status"), filter)),
    outcomes ? batchOutcomes(outcomes) : null,
    batchable && rows.length ? batchForm(picks, reload) : null,
    rows.length
      ? table(
          [
            ...(batchable ? [all] : []),
            t("common.id"),
            t("claims.policy"),
            t("claims.amount"),
            t("claims.talent"),
            t("common.region"),
            t("common.status"),
            t("common.submitted"),
            t("common.deadline"),
            "",
          ],
          rows,
          t("claims.queue_caption", { n: rows.length }),
        )
      : h("p", { class: "card" }, t("common.empty_queue")),
  );
}

export async function claimCase(main, id) {
  const c = await api.get(`/api/v1/reviews/claims/${encodeURIComponent(id)}`);
  const reload = () => claimCase(main, id);
  const side = [];
  const reviewer = api.hasRole("county_reviewer", "city_approver");
  const decidable = Boolean(CLAIM_REVIEW_ROLE[c.status]) && api.hasRole(CLAIM_REVIEW_ROLE[c.status]);
  if (reviewer && decidable) {
    const amount = h("input", { name: "amount", type: "number", min: "0", step: "0.01", inputmode: "decimal" });
    const amountField = c.amount_fen == null ? field(t("claims.amount_entered"), amount, t("claims.amount_hint")) : null;
    side.push(
      decisionForm(async (decision, reason) => {
        const body = { decision, reason };
        if (amountField && amount.value) body.amount_fen = Math.round(Number(amount.value) * 100);
        const updated = await api.post(`/api/v1/reviews/claims/${c.id}/decisions`, body);
        announce(t("decision.done", { status: label("claim_status", updated.status) }), "ok");
        await reload();
      }, amountField, c.status === CLAIM.APPEALED ? appealChoices() : {}),
    );
  } else if (api.hasRole("finance_officer") && c.status === CLAIM.PUBLICIZED) {
    side.push(disbursementForm(c, reload));
  } else {
    side.push(h("p", { class: "card" }, t(isClaimOpen(c.status) ? "decision.not_your_stage" : "decision.closed")));
  }
  if (c.status === CLAIM.PUBLICIZED) side.push(objectionForm(c.id, reload));
  side.push(reassignForm("claims", c.id, reload));
  mount(
    main,
    h("p", {}, h("a", { href: "#/claims" }, "← " + t("claims.title"))),
    h("h1", {}, t("claims.case_title", { policy: label("policy", c.policy_code), id: shortId(c.id) })),
    h(
      "div",
      { class: "case-layout" },
      h(
        "div",
        {},
        h(
          "section",
          { class: "card", "aria-labelledby": "claim-h" },
          h("h2", { id: "claim-h" }, t("claims.facts")),
          facts([
            [t("common.status"), h("span", { class: `badge ${statusTone(c.status)}`, "data-testid": "claim-status" }, label("claim_status", c.status))],
            [t("claims.policy"), `${label("policy", c.policy_code)} (v${c.policy_version})`],
            [t("claims.amount"), fmtMoney(c.amount_fen)],
            [t("claims.talent"), h("span", { class: "mono" }, c.talent_id)],
            [t("common.region"), label("region", c.region_code)],
            [t("claims.auto"), c.auto ? t("common.yes") : t("common.no")],
            [t("claims.route"), routeBadges(c) || t("claims.route_reviewed")],
            inReview(c) ? [t("claims.review_reasons"), reviewReasons(c) || "—"] : null,
            [t("claims.blockers"), reasonList(c.straight_through_blockers, "blockers") || t("claims.no_blockers")],
            [
              t("claims.employment_attestation"),
              h("span", { "data-testid": "employment-attestation" }, c.employment_attestation ? label("attestation_outcome", c.employment_attestation) : t("claims.no_attestation")),
            ],
            ownerFact(c),
            [t("common.submitted"), fmtDateTime(c.submitted_at)],
            [t("common.deadline"), deadlineBadge(c.stage_due_at, 48)],
            [t("claims.publicized_until"), c.publicized_until ? fmtDateTime(c.publicized_until) : "—"],
            [t("claims.payment_reference"), c.payment_reference || "—"],
            [t("claims.details"), Object.keys(c.details || {}).length ? h("pre", { class: "json" }, JSON.stringify(c.details, null, 2)) : "—"],
          ]),
          (c.reasons || []).length
            ? h("ul", {}, c.reasons.map((r) => h("li", {}, r.message)))
            : null,
        ),
        history(
          (c.history || []).map((e) => ({
            at: e.at,
            // A step that keeps the status (the first of two city approvals, an escalation) is named by itself.
            title:
              e.from_status === e.to_status
                ? label("action", e.action)
                : `${label("action", e.action)}: ${label("claim_status", e.from_status)} → ${label("claim_status", e.to_status)}`,
            actor: e.actor,
            reason: e.reason || (e.reasons || []).map((r) => r.message).join("; "),
          })),
        ),
      ),
      h("div", {}, side),
    ),
  );
}

/** How the claim is decided: straight through (免申即享, no reviewer) or drawn for the sampled review (抽检). */
function routeBadges(c) {
  const badges = [];
  if (c.straight_through) badges.push(h("span", { class: "badge ok", "data-testid": "straight-through" }, t("claims.straight_through")));
  else if (c.auto) badges.push(h("span", { class: "badge ok" }, t("claims.auto")));
  if (c.sampled) badges.push(h("span", { class: "badge warn", "data-testid": "sampled" }, t("claims.sampled")));
  return badges.length ? h("span", { class: "route-badges" }, badges.flatMap((b) => [" ", b])) : null;
}

function inReview(c) {
  return Boolean(CLAIM_REVIEW_ROLE[c.status]);
}

/** Why a person decides a claim waiting in review (sampled, employment disputed, a fact not confirmed…). */
function reviewReasons(c) {
  return inReview(c) ? reasonList(c.manual_review_reasons, "review-reasons") : null;
}

function reasonList(codes, testid) {
  if (!(codes || []).length) return null;
  return h(
    "ul",
    { class: "review-reasons", "data-testid": testid },
    codes.map((code) => h("li", { "data-reason": code }, reviewReasonText(code))),
  );
}

/** 复议: approve overturns the rejection, reject upholds it; an appeal is not returned. */
function appealChoices() {
  return {
    choices: ["approve", "reject"],
    words: { approve: t("appeal.overturn"), reject: t("appeal.uphold") },
    title: t("appeal.title"),
  };
}

function pickBox(picks, c) {
  const box = h("input", { type: "checkbox", name: "pick", value: c.id, "aria-label": t("batch.pick", { id: shortId(c.id) }) });
  box.addEventListener("change", () => (box.checked ? picks.set(c.id, c) : picks.delete(c.id)));
  return box;
}

/** One decision and one reason for the picked claims; the answer lists each claim's outcome. */
function batchForm(picks, reload) {
  const form = decisionForm(
    async (decision, reason) => {
      if (!picks.size) {
        announce(t("batch.none_picked"), "error");
        return;
      }
      const ids = [...picks.keys()].slice(0, 500);
      const answer = await api.post("/api/v1/reviews/claims/batch-decisions", { claim_ids: ids, decision, reason });
      const decided = answer.items.filter((i) => i.outcome === "decided").length;
      announce(t("batch.done", { decided, refused: answer.items.length - decided }), decided ? "ok" : "error");
      await reload(answer.items);
    },
    null,
    { title: t("batch.title"), submit: t("batch.submit") },
  );
  form.dataset.testid = "batch-form";
  return form;
}

function batchOutcomes(items) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "outcomes-h", "data-testid": "batch-outcomes" },
    h("h2", { id: "outcomes-h" }, t("batch.outcomes")),
    h(
      "ul",
      {},
      items.map((i) =>
        h(
          "li",
          { "data-outcome": i.outcome, "data-claim": i.claim_id },
          h("a", { href: `#/claims/${i.claim_id}` }, shortId(i.claim_id)),
          " · ",
          i.outcome === "decided"
            ? h("span", { class: "badge ok" }, `${t("batch.decided")}: ${label("claim_status", i.status)}`)
            : h("span", { class: "badge bad" }, `${t("batch.refused")}: ${i.problem ? i.problem.detail : ""}`),
        ),
      ),
    ),
  );
}

function disbursementForm(c, reload) {
  const reference = h("input", {
    name: "payment_reference",
    required: true,
    minlength: "3",
    maxlength: "64",
    pattern: "[A-Za-z0-9][A-Za-z0-9_\\-./:]*",
    autocomplete: "off",
  });
  const submit = h("button", { type: "submit", class: "primary", disabled: !c.publicity_ended }, t("disburse.submit"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "disburse-h" },
    h("h2", { id: "disburse-h" }, t("disburse.title")),
    c.publicity_ended ? null : h("p", { class: "note" }, t("disburse.wait", { until: fmtDateTime(c.publicized_until) })),
    field(t("claims.payment_reference"), reference, t("disburse.hint")),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await api.post(`/api/v1/reviews/claims/${c.id}/disbursement`, { payment_reference: reference.value.trim() });
        announce(t("disburse.done"), "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    });
  });
  return form;
}

function objectionForm(claimId, reload) {
  const reason = h("textarea", { name: "objection", required: true, maxlength: "2000" });
  const submit = h("button", { type: "submit" }, t("publicity.object"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": `object-${claimId}` },
    h("h2", { id: `object-${claimId}` }, t("publicity.object_title")),
    field(t("decision.reason"), reason, t("publicity.object_hint")),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await api.post(`/api/v1/claims/${claimId}/objections`, { reason: reason.value.trim() });
        announce(t("publicity.objected"), "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    });
  });
  return form;
}

// --- 公示 ------------------------------------------------------------------------------------------

export async function publicityPage(main) {
  // The 公示 list as citizens read it: masked name (张*伟), employer, policy, amount, objection deadline.
  const page = await api.get("/api/v1/publicity?limit=200", { auth: false });
  const detail = h("div");
  const rows = page.items.map((n) =>
    h(
      "tr",
      { "data-claim": n.claim_id },
      h("td", { "data-testid": "name-masked" }, n.name_masked || "—"),
      h("td", {}, n.employer || "—"),
      h("td", {}, label("policy", n.policy_code)),
      h("td", {}, fmtMoney(n.amount_fen)),
      h("td", {}, deadlineBadge(n.objections_until, 24)),
      h(
        "td",
        {},
        api.hasRole("county_reviewer", "city_approver", "finance_officer")
          ? h("a", { href: `#/claims/${n.claim_id}` }, t("common.open"))
          : null,
        " ",
        h(
          "button",
          { type: "button", onclick: () => mount(detail, objectionForm(n.claim_id, () => publicityPage(main))) },
          t("publicity.object"),
        ),
      ),
    ),
  );
  mount(
    main,
    h("h1", {}, t("publicity.title")),
    h("p", { class: "muted" }, t("publicity.intro")),
    rows.length
      ? table([t("publicity.name"), t("publicity.employer"), t("claims.policy"), t("claims.amount"), t("publicity.until"), ""], rows)
      : h("p", { class: "card" }, t("publicity.empty")),
    detail,
  );
}

// --- shared pieces ----------------------------------------------------------------------------------

/** Approve / reject / return with a reason that is always required (it is the case's record).
 * `options`: other choices and words (an appeal is overturned or upheld, never returned), a title and a button. */
function decisionForm(onDecide, extra, options = {}) {
  const name = `decision-${Math.random().toString(36).slice(2, 7)}`;
  const words = options.words || {};
  const choices = (options.choices || ["approve", "reject", "return"]).map((d, i) =>
    h("label", {}, h("input", { type: "radio", name, value: d, required: true, checked: i === 0 }), words[d] || label("decision", d)),
  );
  const reason = h("textarea", { name: "reason", required: true, maxlength: "2000" });
  const submit = h("button", { type: "submit", class: "primary" }, options.submit || t("decision.submit"));
  const headingId = `${name}-h`;
  const form = h(
    "form",
    { class: "card", "aria-labelledby": headingId },
    h("h2", { id: headingId }, options.title || t("decision.title")),
    h("fieldset", {}, h("legend", {}, t("decision.decision")), h("div", { class: "choices" }, choices)),
    extra,
    field(t("decision.reason"), reason, t("decision.reason_hint")),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const decision = form.querySelector(`input[name="${name}"]:checked`).value;
    if (!reason.value.trim()) {
      reason.setCustomValidity(t("decision.reason_required"));
      reason.reportValidity();
      return;
    }
    busy(submit, async () => {
      try {
        await onDecide(decision, reason.value.trim());
      } catch (error) {
        showError(error);
      }
    });
  });
  reason.addEventListener("input", () => reason.setCustomValidity(""));
  return form;
}

function history(entries) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "history-h" },
    h("h2", { id: "history-h" }, t("common.history")),
    entries.length
      ? h(
          "ol",
          { class: "timeline" },
          entries.map((e) =>
            h(
              "li",
              {},
              h("strong", {}, e.title),
              h("div", { class: "muted" }, `${fmtDateTime(e.at)} · ${e.actor || "—"}`),
              e.reason ? h("div", {}, e.reason) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, t("common.no_history")),
  );
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

function isOpen(status) {
  return status in CERTIFICATION_REVIEW_ROLE;
}

/** A review stage's due date, the time left (or overdue), and the "escalated" badge once its deadline passed. */
function stageDeadline(c, due) {
  return h(
    "span",
    { class: "stage-deadline" },
    h("span", { class: "due-date" }, fmtDateTime(due)),
    " ",
    deadlineBadge(due, 48),
    c.escalated
      ? [" ", h("span", { class: "badge bad", "data-testid": "escalated", title: t("certs.escalated_hint") }, t("certs.escalated"))]
      : null,
  );
}

function isClaimOpen(status) {
  return CLAIM_OPEN.includes(status) && !CLAIM_RESUBMITTABLE.includes(status);
}

function statusTone(status) {
  if (GOOD.has(status)) return "ok";
  if (BAD.has(status)) return "bad";
  return "warn";
}

/** A date a number of working days (Mon–Fri) after another. */
function addWorkingDays(from, days) {
  if (!from) return null;
  const date = new Date(from);
  let left = days;
  while (left > 0) {
    date.setDate(date.getDate() + 1);
    if (date.getDay() !== 0 && date.getDay() !== 6) left -= 1;
  }
  return date.toISOString();
}

export { facts };
