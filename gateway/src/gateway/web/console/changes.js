// Change requests (变更申请) for county reviewers: a certified (or pending) talent asks to change locked decision
// facts (education, title, employer, region, insured months, home ownership); the county reviewer of the
// talent's region sees what changes (before → after), the points it would give, the evidence files and where
// each fact came from (provenance), and approves or rejects with a reason.
//
// Also the provenance card the certification case page shows (reviews.js).

import { query } from "../common/api.js";
import { changedFacts, factText } from "../common/facts.js";
import { label, t } from "../common/i18n.js";
import { announce, busy, field, fmtDate, fmtDateTime, h, mount, problemText, select, shortId, table } from "../common/ui.js";
import { CHANGE_REQUEST, FACT_SOURCE } from "../common/states.js";
import { openDocument } from "./documents.js";
import { api, go } from "./session.js";
import { attestationCard } from "./staff.js";

const DECISION_FACTS = ["education", "title", "social_insurance_months", "employer", "region_code", "owns_home_in_city"];
const SOURCE_TONE = {
  [FACT_SOURCE.SELF_DECLARED]: "self",
  [FACT_SOURCE.OFFICER_CONFIRMED]: "ok",
  [FACT_SOURCE.EMPLOYER_ATTESTED]: "ok",
};
const STATUS_TONE = { [CHANGE_REQUEST.APPROVED]: "ok", [CHANGE_REQUEST.REJECTED]: "bad" };

// --- the queue ------------------------------------------------------------------------------------------

// "pending": what waits for the caller's decision; then every status, for the requests already decided.
const FILTERS = ["pending", ...Object.values(CHANGE_REQUEST).filter((s) => s !== CHANGE_REQUEST.SUBMITTED)];

export async function changeRequestQueue(main, status = "pending") {
  const filter = select({ name: "status" }, FILTERS.map((s) => [s, label("change_filter", s)]), status);
  filter.addEventListener("change", () => changeRequestQueue(main, filter.value).catch((error) => announce(problemText(error), "error")));
  const page = await api.get(`/api/v1/reviews/change-requests${query({ status, limit: 100 })}`);
  const rows = page.items.map((r) =>
    h(
      "tr",
      { "data-change-request": r.id },
      h("td", {}, h("a", { href: `#/change-requests/${r.id}` }, shortId(r.id))),
      h("td", {}, applicantCell(r.applicant)),
      h("td", {}, label("region", r.region_code)),
      h("td", {}, changedFacts(r, t("changes.no_title"), t("changes.to"))),
      h("td", { "data-testid": "points" }, pointsText(r)),
      h("td", {}, evidenceList(r.evidence)),
      h("td", {}, status === "pending" ? fmtDateTime(r.created_at) : statusBadge(r.status)),
      h("td", {}, h("button", { type: "button", onclick: () => go(`change-requests/${r.id}`) }, t("common.open"))),
    ),
  );
  mount(
    main,
    h("h1", {}, t("changes.title")),
    h("p", { class: "muted" }, t("changes.intro")),
    h("div", { class: "toolbar" }, field(t("common.status"), filter)),
    rows.length
      ? table(
          [
            t("common.id"),
            t("certs.applicant"),
            t("common.region"),
            t("changes.changes"),
            t("changes.points"),
            t("changes.evidence"),
            status === "pending" ? t("common.submitted") : t("common.status"),
            "",
          ],
          rows,
          t("changes.queue_caption", { n: rows.length }),
        )
      : h("p", { class: "card" }, t("common.empty_queue")),
  );
}

// --- one request ------------------------------------------------------------------------------------------

export async function changeRequestCase(main, id) {
  const r = await api.get(`/api/v1/reviews/change-requests/${encodeURIComponent(id)}`);
  const applicant = r.applicant || {};
  const open = r.status === CHANGE_REQUEST.SUBMITTED;
  const side = open
    ? decisionForm(r, async (updated) => {
        announce(t("changes.done", { status: label("change_status", updated.status) }), "ok");
        await changeRequestCase(main, id);
      })
    : h(
        "section",
        { class: "card", "aria-labelledby": "outcome-h" },
        h("h2", { id: "outcome-h" }, t("changes.outcome")),
        facts([
          [t("changes.decided_at"), fmtDateTime(r.decided_at)],
          [t("changes.decided_by"), r.decided_by || "—"],
          [t("decision.reason"), r.decision_reason || "—"],
        ]),
      );
  mount(
    main,
    h("p", {}, h("a", { href: "#/change-requests" }, "← " + t("changes.title"))),
    h("h1", {}, t("changes.case_title", { id: shortId(r.id) })),
    h(
      "div",
      { class: "case-layout" },
      h(
        "div",
        {},
        h(
          "section",
          { class: "card", "aria-labelledby": "cr-applicant-h" },
          h("h2", { id: "cr-applicant-h" }, t("certs.applicant")),
          facts([
            [t("profile.name"), applicant.name],
            [t("profile.id_number"), h("span", { class: "mono", "data-testid": "masked-id" }, applicant.id_number_masked || "—")],
            [t("changes.tier"), applicant.tier ? label("tier", applicant.tier) : "—"],
            [t("changes.talent_status"), label("talent_status", applicant.status)],
            [t("changes.points"), pointsText(r)],
            [t("common.region"), label("region", r.region_code)],
          ]),
        ),
        attestationCard(r.attestation),
        h(
          "section",
          { class: "card", "aria-labelledby": "cr-request-h" },
          h("h2", { id: "cr-request-h" }, t("changes.request")),
          facts([
            [t("common.status"), statusBadge(r.status)],
            [t("common.submitted"), fmtDateTime(r.created_at)],
            [t("changes.reason"), r.reason],
          ]),
          changeTable(r),
        ),
        h(
          "section",
          { class: "card", "aria-labelledby": "cr-evidence-h" },
          h("h2", { id: "cr-evidence-h" }, t("changes.evidence")),
          (r.evidence || []).length
            ? table(
                [t("certs.evidence_kind"), t("changes.file"), ""],
                r.evidence.map((e) =>
                  h(
                    "tr",
                    {},
                    h("td", {}, label("document_kind", e.kind)),
                    h("td", {}, `${e.content_type || ""} · ${size(e.size)}`),
                    h("td", {}, viewButton(e)),
                  ),
                ),
              )
            : h("p", { class: "muted" }, t("changes.no_evidence")),
        ),
      ),
      h("div", {}, side),
    ),
  );
}

/** Approve or reject, with a reason that is always required; a refusal (403: segregation of duties, 409: already
 * decided) is said in the form itself, next to the button, and announced. */
function decisionForm(r, onDecided) {
  const name = `cr-decision-${shortId(r.id)}`;
  const options = ["approve", "reject"].map((d, i) =>
    h("label", {}, h("input", { type: "radio", name, value: d, required: true, checked: i === 0 }), label("decision", d)),
  );
  const reason = h("textarea", { name: "reason", required: true, maxlength: "2000" });
  const submit = h("button", { type: "submit", class: "primary" }, t("decision.submit"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "decision-problem" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "cr-decide-h" },
    h("h2", { id: "cr-decide-h" }, t("decision.title")),
    r.points_after !== undefined && r.points_after !== null
      ? h("p", { class: "note" }, t("changes.points_hint", { before: r.applicant?.points ?? "—", after: r.points_after }))
      : null,
    h("fieldset", {}, h("legend", {}, t("decision.decision")), h("div", { class: "choices" }, options)),
    field(t("decision.reason"), reason, t("changes.reason_hint")),
    problem,
    h("div", { class: "actions" }, submit),
  );
  reason.addEventListener("input", () => reason.setCustomValidity(""));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    const decision = form.querySelector(`input[name="${name}"]:checked`).value;
    if (!reason.value.trim()) {
      reason.setCustomValidity(t("decision.reason_required"));
      reason.reportValidity();
      return;
    }
    busy(submit, async () => {
      try {
        const updated = await api.post(`/api/v1/reviews/change-requests/${encodeURIComponent(r.id)}/decisions`, {
          decision,
          reason: reason.value.trim(),
        });
        await onDecided(updated);
      } catch (error) {
        problem.hidden = false;
        problem.textContent = refusalText(error);
        announce(problem.textContent, "error");
      }
    });
  });
  return form;
}

function refusalText(error) {
  if (error && error.status === 403) return `${t("changes.refused_403")} ${problemText(error)}`;
  if (error && error.status === 409) return `${t("changes.refused_409")} ${problemText(error)}`;
  if (error && error.status === 404) return t("changes.refused_404");
  return problemText(error);
}

// --- pieces -----------------------------------------------------------------------------------------------

function applicantCell(applicant) {
  if (!applicant) return "—";
  return h(
    "div",
    {},
    h("strong", {}, applicant.name || "—"),
    h("div", { class: "mono muted" }, applicant.id_number_masked || ""),
    h("div", { class: "muted" }, [applicant.tier ? label("tier", applicant.tier) : null, label("talent_status", applicant.status)].filter(Boolean).join(" · ")),
  );
}

function pointsText(r) {
  const before = r.applicant ? r.applicant.points : undefined;
  if (r.points_after === undefined || r.points_after === null) return before ?? "—";
  if (before === undefined || before === null) return String(r.points_after);
  return `${before} → ${r.points_after}`;
}

/** The changed facts as "fact: before → after" lines. */
/** The changed facts as a table: fact, where its current value came from, before, after. */
function changeTable(r) {
  const changes = r.changes || {};
  const before = r.before || {};
  const provenance = r.provenance || {};
  return table(
    [t("changes.fact"), t("changes.provenance"), t("changes.before"), t("changes.after")],
    Object.keys(changes).map((fact) =>
      h(
        "tr",
        { "data-fact": fact },
        h("th", { scope: "row" }, label("fact", fact)),
        h("td", {}, provenanceBadge(provenance[fact])),
        h("td", { class: "before" }, factText(fact, before[fact], t("changes.no_title"))),
        h("td", { class: "after" }, h("strong", {}, factText(fact, changes[fact], t("changes.no_title")))),
      ),
    ),
    t("changes.changes"),
  );
}

function statusBadge(status) {
  return h("span", { class: `badge ${STATUS_TONE[status] || "warn"}`, "data-testid": "change-request-status" }, label("change_status", status));
}

/** A fact's provenance: 自述 / 已核验 / 单位核验, with who and when. */
export function provenanceBadge(entry) {
  const source = (entry && entry.source) || FACT_SOURCE.SELF_DECLARED;
  // Who confirmed it is an account id: its first characters say enough here, the whole id is in the title.
  const detail = [entry && entry.by ? t("changes.by", { by: shortId(entry.by) }) : null, entry && entry.at ? fmtDate(entry.at) : null].filter(Boolean);
  return h(
    "span",
    { class: "provenance-entry", "data-provenance": source, title: entry && entry.by ? entry.by : undefined },
    h("span", { class: `badge ${SOURCE_TONE[source] || "self"}` }, label("provenance", source)),
    detail.length ? h("span", { class: "muted" }, ` ${detail.join(" · ")}`) : null,
  );
}

/** The card of where each decision fact came from (the certification case page shows it too). */
export function provenanceCard(provenance) {
  if (!provenance || !Object.keys(provenance).length) return null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "provenance-h", "data-testid": "provenance" },
    h("h2", { id: "provenance-h" }, t("changes.provenance_title")),
    facts(DECISION_FACTS.filter((fact) => fact in provenance).map((fact) => [label("fact", fact), provenanceBadge(provenance[fact])])),
  );
}

function evidenceList(evidence) {
  if (!evidence || !evidence.length) return h("span", { class: "muted" }, "—");
  return h(
    "ul",
    { class: "plain" },
    evidence.map((e) => h("li", {}, label("document_kind", e.kind), " ", viewButton(e))),
  );
}

function viewButton(e) {
  const button = h("button", { type: "button", class: "link", "data-document": e.document_id }, t("changes.view"));
  button.setAttribute("aria-label", `${t("changes.view")}: ${label("document_kind", e.kind)}`);
  button.addEventListener("click", () =>
    busy(button, async () => {
      try {
        await viewDocument(e);
      } catch (error) {
        announce(problemText(error), "error");
      }
    }),
  );
  return button;
}

/** The console's document viewer (documents.js), titled with the evidence's kind. */
function viewDocument(e) {
  return openDocument(e.document_id, { title: label("document_kind", e.kind) });
}

function size(bytes) {
  if (bytes === undefined || bytes === null) return "—";
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}
