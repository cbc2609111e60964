// Cross-city cost settlement (成本结算) for finance and admins: a month's statements per partner and issuing
// city — provisional figures while the month runs or before issue, then the issued statements with their
// SHA-256 — the issue button (once the month has ended), and the month as CSV (fetched with the bearer token).

import { label, t } from "../common/i18n.js";
import { announce, busy, field, fmtDateTime, fmtMoney, h, mount, problemText, table } from "../common/ui.js";
import { api, go } from "./session.js";
import { idempotencyKey } from "./staff.js";

const SETTLEMENTS = "/api/v1/settlements";

/** The month (YYYY-MM) `back` months before the current one, in city time (UTC+8, no daylight saving). */
function cityMonth(back = 0) {
  const city = new Date(Date.now() + 8 * 3600 * 1000);
  const d = new Date(Date.UTC(city.getUTCFullYear(), city.getUTCMonth() - back, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

export async function settlementsPage(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const month = /^\d{4}-\d{2}$/.test(params.get("month") || "") ? params.get("month") : cityMonth(1);
  const found = await api.get(`${SETTLEMENTS}?month=${month}`);
  const picker = h("input", { type: "month", name: "month", value: month, max: cityMonth(0), required: true });
  const show = h("button", { type: "submit" }, t("settlements.show"));
  const pick = h("form", { class: "card filters", role: "search" }, field(t("settlements.month"), picker), h("div", { class: "actions" }, show));
  pick.addEventListener("submit", (event) => {
    event.preventDefault();
    if (picker.value) go(`settlements?month=${picker.value}`);
  });
  const ended = month < cityMonth(0);
  mount(
    main,
    h("h1", {}, t("settlements.title")),
    h("p", { class: "muted" }, t("settlements.intro")),
    pick,
    h(
      "p",
      { "data-testid": "settlement-state" },
      found.provisional
        ? h("span", { class: "badge warn" }, t("settlements.provisional"))
        : h("span", { class: "badge ok" }, t("settlements.issued", { at: fmtDateTime(found.issued_at) })),
      " ",
      found.provisional ? t(ended ? "settlements.provisional_ended" : "settlements.provisional_running") : "",
    ),
    h("div", { class: "actions" }, found.provisional && ended && api.hasRole("finance_officer", "admin") ? issueButton(month) : null, csvButton(month, found.provisional)),
    found.items.length ? statementsTable(found.items) : h("p", { class: "card" }, t("settlements.none")),
  );
}

function statementsTable(items) {
  const rows = items.map((s) =>
    h(
      "tr",
      { "data-statement": `${s.partner}:${s.issuing_city}` },
      h("td", {}, s.partner, h("div", { class: "muted" }, label("usage_scene", s.partner_kind))),
      h("td", {}, label("region", s.issuing_city)),
      h("td", { "data-testid": "verifications" }, s.verifications),
      h("td", { "data-testid": "total" }, s.total_fen === null ? t("settlements.unpriced") : fmtMoney(s.total_fen)),
      h("td", {}, linesDetails(s)),
      h("td", { "data-testid": "sha256" }, s.sha256 ? h("code", { title: s.sha256 }, `${s.sha256.slice(0, 16)}…`) : "—"),
    ),
  );
  return table(
    [t("settlements.partner"), t("settlements.issuing_city"), t("settlements.verifications"), t("settlements.total"), t("settlements.lines"), "SHA-256"],
    rows,
  );
}

function linesDetails(statement) {
  const rows = statement.lines.map((line) =>
    h(
      "tr",
      {},
      h("td", {}, label("usage_scene", line.scene)),
      h("td", {}, label("usage_privilege", line.privilege), line.correction_of ? h("div", { class: "badge warn" }, t("settlements.correction_of", { month: line.correction_of })) : null),
      h("td", {}, line.count),
      h("td", {}, line.unit_price_fen === null ? t("settlements.unpriced") : fmtMoney(line.unit_price_fen)),
      h("td", {}, line.amount_fen === null ? "—" : fmtMoney(line.amount_fen)),
    ),
  );
  return h(
    "details",
    {},
    h("summary", {}, t("settlements.lines_count", { n: statement.lines.length, version: statement.prices_version })),
    table([t("settlements.scene"), t("settlements.privilege"), t("settlements.count"), t("settlements.unit_price"), t("settlements.amount")], rows),
  );
}

function issueButton(month) {
  const button = h("button", { type: "button", class: "primary" }, t("settlements.issue", { month }));
  button.addEventListener("click", () =>
    busy(button, async () => {
      try {
        // The key makes a resend (a double click, a token refresh) answer with the same statements.
        const issued = await api.post("/api/v1/finance/settlements", { month }, { headers: { "Idempotency-Key": idempotencyKey() } });
        announce(t("settlements.issued_ok", { n: issued.items.length, month }), "ok");
        go(`settlements?month=${month}`);
      } catch (error) {
        announce(problemText(error), "error");
      }
    }),
  );
  return button;
}

function csvButton(month, provisional) {
  const button = h("button", { type: "button" }, t("settlements.download"));
  button.addEventListener("click", () =>
    busy(button, async () => {
      try {
        const blob = await api.request(`${SETTLEMENTS}?month=${month}&format=csv`, { as: "blob" });
        const url = URL.createObjectURL(blob);
        const name = `settlements-${month}-${provisional ? "provisional" : "issued"}.csv`;
        const link = h("a", { href: url, download: name, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch (error) {
        announce(problemText(error), "error");
      }
    }),
  );
  return button;
}
