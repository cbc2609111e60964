// A talent's decision facts (education, title, insurance months, employer, region, home) in words, shown the
// same way in the app's change requests and the console's change-request cases.
import { label, t } from "./i18n.js";
import { fmtDate } from "./ui.js";

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
