// The audit log for auditors: read-only, one tab per service (GET /api/v1/audit/<service>), newest first.
// A service that has no audit endpoint yet says so instead of breaking the page.

import { query } from "../common/api.js";
import { label, t } from "../common/i18n.js";
import { fmtDateTime, h, mount, problemText, select, table } from "../common/ui.js";
import { api } from "./session.js";

// The gateway keeps its own log: who registered, added users to or disabled an employer.
const SERVICES = ["applicant", "benefits", "housing", "notify", "gateway"];
const TIME_KEYS = ["at", "occurred_at", "created_at", "recorded_at", "time"];

export async function auditPage(main, service = "applicant", cursor = "") {
  const choose = select({ name: "service" }, SERVICES.map((s) => [s, label("service", s)]), service);
  choose.addEventListener("change", () => auditPage(main, choose.value));
  let body;
  let next = null;
  try {
    const page = await api.get(`/api/v1/audit/${service}${query({ limit: 100, cursor })}`);
    const items = Array.isArray(page) ? page : page.items || [];
    next = page.next_cursor || null;
    body = items.length ? auditTable(items) : h("p", { class: "card" }, t("audit.empty"));
  } catch (error) {
    body = h(
      "p",
      { class: "note" },
      error.status === 404 ? t("audit.unavailable", { service: label("service", service) }) : problemText(error),
    );
  }
  const field = h("div", { class: "field" }, h("label", { for: "audit-service" }, t("audit.service")), choose);
  choose.id = "audit-service";
  mount(
    main,
    h("h1", {}, t("audit.title")),
    h("p", { class: "muted" }, t("audit.intro")),
    h("div", { class: "toolbar" }, field),
    body,
    next
      ? h("div", { class: "actions" }, h("button", { type: "button", onclick: () => auditPage(main, service, next) }, t("common.more")))
      : null,
  );
}

function auditTable(items) {
  // Columns: the time first, then every other key the entries carry (services word their records differently).
  const keys = [...new Set(items.flatMap((i) => Object.keys(i)))];
  const timeKey = TIME_KEYS.find((k) => keys.includes(k));
  const rest = keys.filter((k) => k !== timeKey && k !== "id");
  const columns = timeKey ? [timeKey, ...rest] : rest;
  return table(
    columns.map((c) => label("audit_field", c)),
    items.map((item) =>
      h(
        "tr",
        {},
        columns.map((c) => h("td", { class: typeof item[c] === "object" ? "" : undefined }, cell(c, item[c], c === timeKey))),
      ),
    ),
  );
}

function cell(key, value, isTime) {
  if (value === null || value === undefined) return "—";
  if (isTime) return fmtDateTime(value);
  if (typeof value === "object") return h("pre", { class: "json" }, JSON.stringify(value, null, 1));
  return String(value);
}
