// Jobs (人才需求): the posts employers declared and keep open, public (GET /api/v1/demands needs no token, so
// the page shows signed in or not), filtered by shortage category, region and degree.

import { query } from "../common/api.js";
import { categoryChoices, categoryText, salaryBandText } from "../common/demands.js";
import { label, t } from "../common/i18n.js";
import { busy, field, fmtDate, h, mount, problemText, select } from "../common/ui.js";
import { api } from "./session.js";

const REGIONS = ["330402", "330411", "330421", "330424", "330481", "330482", "330483", "330502"];
const DEGREES = ["bachelor", "master", "doctor"];
const PAGE_SIZE = 20;

export async function jobsPage(main) {
  const options = await api.get("/api/v1/demands/options", { auth: false });
  const filters = {
    shortage_category: select({ name: "shortage_category" }, [["", t("jobs.all")], ...categoryChoices(options)], ""),
    region_code: select({ name: "region_code" }, [["", t("jobs.all")], ...REGIONS.map((r) => [r, label("region", r)])], ""),
    degree: select({ name: "degree" }, [["", t("jobs.all")], ...DEGREES.map((x) => [x, label("degree", x)])], ""),
  };
  const list = h("div", { "aria-live": "polite", "data-testid": "jobs" });
  const more = h("button", { type: "button", hidden: true }, t("jobs.more"));
  let cursor = null;
  const params = () => Object.fromEntries(Object.entries(filters).map(([name, control]) => [name, control.value]));
  const load = async (fresh) => {
    if (fresh) cursor = null;
    try {
      const page = await api.get(`/api/v1/demands${query({ ...params(), limit: PAGE_SIZE, cursor })}`, { auth: false });
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const cards = page.items.map((d) => demandCard(d, options));
      if (fresh) mount(list, cards.length ? cards : h("p", { class: "card muted" }, t("jobs.none")));
      else list.append(...cards);
    } catch (error) {
      mount(list, h("p", { class: "note error", role: "alert" }, problemText(error)));
    }
  };
  for (const control of Object.values(filters)) control.addEventListener("change", () => load(true));
  more.addEventListener("click", () => busy(more, () => load(false)));
  await load(true);
  mount(
    main,
    h("h2", {}, t("jobs.title")),
    h("p", { class: "muted" }, t("jobs.intro")),
    h(
      "div",
      { class: "card" },
      field(t("jobs.category"), filters.shortage_category),
      field(t("jobs.region"), filters.region_code),
      field(t("jobs.degree"), filters.degree),
    ),
    list,
    more,
    api.signedIn ? null : h("p", {}, h("a", { href: "#/signin" }, t("jobs.sign_in"))),
  );
}

function demandCard(d, options) {
  return h(
    "article",
    { class: "card", "data-demand": d.id },
    h("div", { class: "item-head" }, h("h4", {}, d.title), h("strong", {}, t("jobs.openings", { n: d.count }))),
    h("p", {}, d.employer_name, " · ", label("region", d.region_code)),
    h(
      "p",
      { class: "muted" },
      [
        categoryText(options, d.shortage_category),
        d.degree ? t("jobs.degree_at_least", { degree: label("degree", d.degree) }) : null,
        d.salary_band ? salaryBandText(options, d.salary_band) : null,
        t("jobs.declared", { date: fmtDate(d.declared_at) }),
      ]
        .filter(Boolean)
        .join(" · "),
    ),
  );
}
