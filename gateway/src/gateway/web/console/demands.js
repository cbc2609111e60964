// The employer's demand declarations (人才需求申报): open posts with a count, a shortage category and
// optionally a degree and a salary band (both lists from GET /api/v1/demands/options); its own declarations,
// open and closed, each closable once filled or withdrawn. Open ones are what talents see in the app's jobs page.

import { label, t } from "../common/i18n.js";
import { categoryChoices, categoryText, salaryBandChoices, salaryBandText } from "../common/demands.js";
import { announce, busy, field, fmtDateTime, h, mount, problemText, select, table } from "../common/ui.js";
import { api } from "./session.js";
import { DEMAND, DEMAND_CLOSABLE } from "../common/states.js";
import { idempotencyKey, pagedRows, twoStepButton } from "./staff.js";

const DEGREES = ["bachelor", "master", "doctor"];
const TONE = { [DEMAND.OPEN]: "ok", [DEMAND.CLOSED]: "self" };

export async function demandsPage(main) {
  const options = await api.get("/api/v1/demands/options", { auth: false });
  const reload = () => demandsPage(main);
  const { rows, more } = await pagedRows("/api/v1/employer/demands", {}, (d) => demandRow(d, options, reload));
  mount(
    main,
    h("h1", {}, t("demands.title")),
    h("p", { class: "muted" }, t("demands.intro")),
    h(
      "div",
      { class: "case-layout" },
      h(
        "section",
        { "aria-labelledby": "own-demands-h" },
        h("h2", { id: "own-demands-h" }, t("demands.own")),
        rows.length
          ? table(
              [t("demands.post"), t("demands.count"), t("demands.category"), t("profile.degree"), t("demands.salary_band"), t("common.status"), t("demands.declared_at"), ""],
              rows,
            )
          : h("p", { class: "card" }, t("demands.none")),
        more,
      ),
      declareForm(options, reload),
    ),
  );
}

function demandRow(d, options, reload) {
  const problem = h("span", { class: "note error", role: "alert", hidden: true });
  const close = twoStepButton(t("demands.close"), t("demands.close_confirm"), async () => {
    problem.hidden = true;
    try {
      await api.request(`/api/v1/employer/demands/${encodeURIComponent(d.id)}`, { method: "DELETE" });
      announce(t("demands.closed"), "ok");
      await reload();
    } catch (error) {
      problem.hidden = false;
      problem.textContent = problemText(error);
    }
  });
  return h(
    "tr",
    { "data-demand": d.id },
    h("td", {}, h("strong", {}, d.title)),
    h("td", {}, d.count),
    h("td", {}, categoryText(options, d.shortage_category)),
    h("td", {}, d.degree ? label("degree", d.degree) : t("demands.any_degree")),
    h("td", {}, salaryBandText(options, d.salary_band)),
    h("td", {}, h("span", { class: `badge ${TONE[d.status] || "warn"}`, "data-testid": "demand-status" }, label("demand_status", d.status))),
    h("td", {}, fmtDateTime(d.declared_at), d.closed_at ? h("div", { class: "muted" }, t("demands.closed_at", { at: fmtDateTime(d.closed_at) })) : null),
    h("td", {}, DEMAND_CLOSABLE.includes(d.status) ? [close, problem] : null),
  );
}

function declareForm(options, reload) {
  const title = h("input", { name: "title", required: true, maxlength: "100", autocomplete: "off" });
  const count = h("input", { name: "count", type: "number", min: "1", max: "10000", required: true, value: "1", inputmode: "numeric" });
  const category = select({ name: "shortage_category", required: true }, categoryChoices(options));
  const degree = select({ name: "degree" }, [["", t("demands.any_degree")], ...DEGREES.map((x) => [x, label("degree", x)])], "");
  const band = select({ name: "salary_band" }, [["", t("demands.no_band")], ...salaryBandChoices(options)], "");
  const submit = h("button", { type: "submit", class: "primary" }, t("demands.declare"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "demand-problem" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "declare-h" },
    h("h2", { id: "declare-h" }, t("demands.declare_title")),
    field(t("demands.post"), title, t("demands.post_hint")),
    field(t("demands.count"), count),
    field(t("demands.category"), category),
    field(t("profile.degree"), degree),
    field(t("demands.salary_band"), band),
    problem,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    if (!form.reportValidity()) return;
    const body = { title: title.value.trim(), count: Number(count.value), shortage_category: category.value };
    if (degree.value) body.degree = degree.value;
    if (band.value) body.salary_band = band.value;
    busy(submit, async () => {
      try {
        await api.post("/api/v1/employer/demands", body, { headers: { "Idempotency-Key": idempotencyKey() } });
        announce(t("demands.declared"), "ok");
        await reload();
      } catch (error) {
        problem.hidden = false;
        problem.textContent = problemText(error);
      }
    });
  });
  return form;
}
