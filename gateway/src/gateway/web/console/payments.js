// Finance's payment batches (资金拨付): make a batch of every claim due for payment, download its bank file
// (checked here against the SHA-256 the batch recorded, before it goes to the bank), import the bank's
// result file and read what it changed line by line, and the budget reconciliation per policy and year.
// Auditors see the same pages without the buttons that change anything.

import { label, t } from "../common/i18n.js";
import { announce, busy, field, fmtDateTime, fmtMoney, h, mount, problemText, select, sha256Hex, table } from "../common/ui.js";
import { api, go } from "./session.js";
import { facts, idempotencyKey, pagedRows } from "./staff.js";

const BATCHES = "/api/v1/finance/payment-batches";
const TONE = { open: "warn", settled: "ok" };

function statusBadge(status, testid) {
  return h("span", { class: `badge ${TONE[status] || "warn"}`, "data-testid": testid }, label("payment_status", status));
}

function policyText(code) {
  return code ? label("policy", code) : t("payments.all_policies");
}

export async function paymentsPage(main) {
  const [policies, budgets] = await Promise.all([
    api.get("/api/v1/policies", { auth: false }),
    api.get("/api/v1/finance/budgets"),
  ]);
  const { rows, more } = await pagedRows(BATCHES, {}, batchRow);
  mount(
    main,
    h("h1", {}, t("payments.title")),
    h("p", { class: "muted" }, t("payments.intro")),
    api.hasRole("finance_officer") ? createForm(policies.items) : null,
    h(
      "section",
      { "aria-labelledby": "batches-h" },
      h("h2", { id: "batches-h" }, t("payments.batches")),
      rows.length
        ? table(
            [t("payments.created_at"), t("payments.policy"), t("payments.lines"), t("payments.total"), t("common.status"), t("payments.results"), ""],
            rows,
          )
        : h("p", { class: "card" }, t("payments.no_batches")),
      more,
    ),
    budgetSection(budgets.items),
  );
}

function batchRow(b) {
  return h(
    "tr",
    { "data-batch": b.id },
    h("td", {}, fmtDateTime(b.created_at)),
    h("td", {}, policyText(b.policy_code)),
    h("td", {}, b.lines),
    h("td", {}, fmtMoney(b.total_fen)),
    h("td", {}, statusBadge(b.status, "row-status")),
    h("td", {}, t("payments.paid_failed", { paid: b.paid, failed: b.failed })),
    h("td", {}, h("a", { href: `#/payments/${encodeURIComponent(b.id)}` }, t("payments.open"))),
  );
}

function createForm(policies) {
  const policy = select(
    { name: "policy_code" },
    [["", t("payments.all_policies")], ...policies.map((p) => [p.code, label("policy", p.code)])],
    "",
  );
  const submit = h("button", { type: "submit", class: "primary" }, t("payments.create"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "create-problem" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-batch-h" },
    h("h2", { id: "create-batch-h" }, t("payments.create_title")),
    h("p", { class: "muted" }, t("payments.create_intro")),
    field(t("payments.policy"), policy),
    problem,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    const body = policy.value ? { policy_code: policy.value } : {};
    busy(submit, async () => {
      try {
        // The key makes a resend (after a token refresh, a double click) answer with the same batch.
        const batch = await api.post(BATCHES, body, { headers: { "Idempotency-Key": idempotencyKey() } });
        announce(t("payments.created", { lines: batch.lines }), "ok");
        go(`payments/${encodeURIComponent(batch.id)}`);
      } catch (error) {
        problem.hidden = false;
        problem.textContent = problemText(error);
      }
    });
  });
  return form;
}

function budgetSection(items) {
  const rows = items.map((b) =>
    h(
      "tr",
      { "data-budget": `${b.policy_code}:${b.year}` },
      h("td", {}, label("policy", b.policy_code)),
      h("td", {}, b.year),
      h("td", {}, b.budget_fen === null ? t("payments.no_limit") : fmtMoney(b.budget_fen)),
      h("td", {}, fmtMoney(b.committed_fen), h("div", { class: "muted" }, t("payments.claims_count", { n: b.committed_count }))),
      h("td", { "data-testid": "paid" }, fmtMoney(b.paid_fen), h("div", { class: "muted" }, t("payments.claims_count", { n: b.paid_count }))),
      h("td", {}, fmtMoney(b.unpaid_fen)),
      h(
        "td",
        {},
        b.consistent
          ? h("span", { class: "badge ok", "data-testid": "consistent" }, t("payments.consistent"))
          : h("span", { class: "badge bad", "data-testid": "consistent", title: t("payments.inconsistent_hint", { claims: fmtMoney(b.claims_committed_fen) }) }, t("payments.inconsistent")),
      ),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "budgets-h" },
    h("h2", { id: "budgets-h" }, t("payments.budgets")),
    h("p", { class: "muted" }, t("payments.budgets_intro")),
    rows.length
      ? table(
          [t("payments.policy"), t("payments.year"), t("payments.budget"), t("payments.committed"), t("payments.paid"), t("payments.unpaid"), t("payments.check")],
          rows,
        )
      : h("p", { class: "card" }, t("payments.no_budgets")),
  );
}

/** One batch: its facts, the bank file to download, and (finance) the bank's result file to import. */
export async function paymentBatchPage(main, id, outcome = null) {
  const batch = await api.get(`${BATCHES}/${encodeURIComponent(id)}`);
  mount(
    main,
    h("p", {}, h("a", { href: "#/payments" }, t("payments.back"))),
    h("h1", { "data-testid": "batch-title" }, t("payments.batch_title", { at: fmtDateTime(batch.created_at) }), " ", statusBadge(batch.status, "batch-status")),
    h(
      "div",
      { class: "case-layout" },
      h(
        "section",
        { class: "card", "aria-labelledby": "batch-facts-h" },
        h("h2", { id: "batch-facts-h" }, t("payments.batch_facts")),
        facts([
          [t("payments.policy"), policyText(batch.policy_code)],
          [t("payments.lines"), String(batch.lines)],
          [t("payments.total"), fmtMoney(batch.total_fen)],
          [t("payments.results"), t("payments.paid_failed", { paid: batch.paid, failed: batch.failed })],
          [t("payments.sha256"), h("code", { "data-testid": "file-sha256" }, batch.file_sha256)],
          [t("payments.created_by"), batch.created_by],
          [t("payments.settled_at"), fmtDateTime(batch.settled_at)],
        ]),
        downloadButton(batch),
      ),
      api.hasRole("finance_officer") ? resultsForm(main, batch) : null,
    ),
    outcome ? outcomeSection(outcome) : null,
  );
}

function downloadButton(batch) {
  const button = h("button", { type: "button" }, t("payments.download"));
  const note = h("p", { class: "note", role: "status", "data-testid": "download-note", hidden: true });
  button.addEventListener("click", () =>
    busy(button, async () => {
      note.hidden = false;
      try {
        const blob = await api.request(`${BATCHES}/${encodeURIComponent(batch.id)}/file`, { as: "blob" });
        // The file the bank gets must be the file the batch recorded: checked before it is saved.
        const digest = await sha256Hex(await blob.arrayBuffer());
        if (digest !== batch.file_sha256) {
          note.className = "note error";
          note.textContent = t("payments.hash_mismatch");
          return;
        }
        const url = URL.createObjectURL(blob);
        const link = h("a", { href: url, download: `payment-batch-${batch.id}.csv`, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        note.className = "note ok";
        note.textContent = t("payments.hash_checked");
      } catch (error) {
        note.className = "note error";
        note.textContent = problemText(error);
      }
    }),
  );
  return h("div", { class: "actions" }, button, note);
}

function resultsForm(main, batch) {
  const file = h("input", { type: "file", name: "results", accept: ".csv,text/csv", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("payments.import"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "import-problem" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "import-h", "data-testid": "results-form" },
    h("h2", { id: "import-h" }, t("payments.import_title")),
    h("p", { class: "muted" }, t("payments.import_intro")),
    field(t("payments.result_file"), file, t("payments.result_file_hint")),
    problem,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    if (!form.reportValidity()) return;
    busy(submit, async () => {
      try {
        const outcome = await api.request(`${BATCHES}/${encodeURIComponent(batch.id)}/results`, {
          method: "POST",
          raw: file.files[0],
          headers: { "Content-Type": "text/csv" },
        });
        announce(t("payments.imported", outcome), "ok");
        await paymentBatchPage(main, batch.id, outcome);
      } catch (error) {
        problem.hidden = false;
        problem.textContent = problemText(error);
      }
    });
  });
  return form;
}

function outcomeSection(outcome) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "outcome-h", "data-testid": "import-outcome" },
    h("h2", { id: "outcome-h" }, t("payments.outcome")),
    h(
      "p",
      {},
      h("span", { class: "badge ok", "data-testid": "outcome-paid" }, t("payments.n_paid", { n: outcome.paid })),
      " ",
      h("span", { class: "badge warn", "data-testid": "outcome-failed" }, t("payments.n_failed", { n: outcome.failed })),
      " ",
      h("span", { class: "badge self", "data-testid": "outcome-ignored" }, t("payments.n_ignored", { n: outcome.ignored })),
    ),
    outcome.problems.length
      ? table(
          [t("payments.line"), t("payments.line_ref"), t("payments.problem")],
          outcome.problems.map((p) => h("tr", { "data-line": p.line }, h("td", {}, p.line), h("td", {}, h("code", {}, p.line_ref || "—")), h("td", {}, p.problem))),
          t("payments.problems"),
        )
      : h("p", { class: "muted" }, t("payments.no_problems")),
  );
}
