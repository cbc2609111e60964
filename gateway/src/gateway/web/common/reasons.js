// Why a reviewer decides a claim (benefits' manual_review_reasons and straight_through_blockers), in words.
// The console says it in short labels, the app in plain sentences: each front end has its own "review_reason"
// group, and `fact_not_confirmed:<fact>` names the fact with the shared fact labels.
import { label, t } from "./i18n.js";

/** One reason code in the reader's language, from the label group of the front end (`review_reason`). */
export function reviewReasonText(code, group = "review_reason") {
  const [kind, fact] = String(code).split(":", 2);
  if (kind === "fact_not_confirmed" && fact) return t(`${group}.fact_not_confirmed`, { fact: label("fact", fact) });
  return label(group, code);
}
