// Demand declarations (人才需求申报) in words, the same in the console (the employer declares) and the app
// (talents browse the open ones): the categories and salary bands come from GET /api/v1/demands/options, so
// the pages keep no copy of either list.

import { lang } from "./i18n.js";

/** A catalogue entry as [code, words]: a plain string is its own words; an object has code and labels. */
function entry(item) {
  if (item && typeof item === "object") {
    const words = lang() === "en" ? item.label_en || item.label_zh : item.label_zh || item.label_en;
    return [item.code, words || item.code];
  }
  return [String(item), String(item)];
}

/** The shortage categories as [code, words] pairs, for a <select>. */
export function categoryChoices(options) {
  return ((options && options.shortage_categories) || []).map(entry);
}

/** The salary bands as [code, words] pairs, for a <select>. */
export function salaryBandChoices(options) {
  return ((options && options.salary_bands) || []).map(entry);
}

function wordsFor(choices, code) {
  if (code === null || code === undefined || code === "") return "—";
  const found = choices.find(([value]) => value === code);
  return found ? found[1] : String(code);
}

/** A demand's shortage category in the reader's language. */
export function categoryText(options, code) {
  return wordsFor(categoryChoices(options), code);
}

/** A demand's salary band in the reader's language ("—" for none). */
export function salaryBandText(options, code) {
  return wordsFor(salaryBandChoices(options), code);
}
