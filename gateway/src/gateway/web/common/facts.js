// A talent's decision facts (education, title, insurance months, employer, region, home) in words, shown the
// same way in the app's change requests and the console's change-request cases.
import { label, t } from "./i18n.js";
import { fmtDate, h } from "./ui.js";

/** The value of one decision fact in the reader's language; `noTitle` is what "no professional title" reads as. */
export function factText(fact, value, noTitle = "—") {
  if (value === undefined) return "—";
  switch (fact) {
    case "education":
      return value
        ? [label("degree", value.degree), value.school, value.graduated_on ? fmtDate(value.graduated_on) : null].filter(Boolean).join(" · ")
        : "—";
    case "employer":
      return value ? [value.name, value.credit_code, value.region_code ? label("region", value.region_code) : null].filter(Boolean).join(" · ") : "—";
    case "title":
      return value ? label("title", value) : noTitle;
    case "region_code":
      return label("region", value);
    case "owns_home_in_city":
      return value ? t("common.yes") : t("common.no");
    default:
      return value === null ? "—" : String(value);
  }
}

/** The facts a change request changes, each "fact: before → after" (`noTitle` and `to` in the page's words). */
export function changedFacts(request, noTitle, to) {
  const changes = request.changes || {};
  const before = request.before || {};
  return h(
    "ul",
    { class: "changes" },
    Object.keys(changes).map((fact) =>
      h(
        "li",
        { "data-fact": fact },
        h("strong", {}, label("fact", fact)),
        ": ",
        h("span", { class: "before" }, factText(fact, before[fact], noTitle)),
        h("span", { "aria-hidden": "true" }, " → "),
        h("span", { class: "sr-only" }, ` ${to} `),
        h("span", { class: "after" }, factText(fact, changes[fact], noTitle)),
      ),
    ),
  );
}
