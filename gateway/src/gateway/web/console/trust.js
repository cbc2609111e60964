// Partner cities (互认城市) for administrators: the cities whose talent codes this city recognises. Each has a
// key-set URL, the key set last fetched or pasted (public EC P-256 signing keys only) and a tier map (their tier
// → ours). Saving without pasting a key set has the applicant fetch it from the URL. The applicant answers these
// (/api/v1/admin/trust/cities); a refused change shows the problem's text.

import { t } from "../common/i18n.js";
import { announce, busy, field, fmtDateTime, h, mount, problemText, table } from "../common/ui.js";
import { api } from "./session.js";

const BASE = "/api/v1/admin/trust/cities";
const TIERS = ["A", "B", "C", "D", "E"];
const CITY_CODE = "[0-9]{6}";

function tierMapText(map) {
  return Object.entries(map)
    .map(([theirs, ours]) => `${theirs}→${ours}`)
    .join(" ");
}

export async function trustPage(main) {
  const cities = await api.get(BASE);
  const reload = () => trustPage(main);
  const rows = cities.map((c) =>
    h(
      "tr",
      { "data-city": c.city_code },
      h("td", {}, h("code", {}, c.city_code)),
      h("td", {}, c.name),
      h("td", {}, h("code", { class: "wrap" }, c.jwks_url)),
      h("td", { "data-testid": "tier-map" }, tierMapText(c.tier_map)),
      h("td", {}, String(c.jwks.keys.length)),
      h("td", {}, c.fetched_at ? fmtDateTime(c.fetched_at) : t("trust.pasted")),
      h("td", {}, removeButton(c, reload)),
    ),
  );
  mount(
    main,
    h("h1", {}, t("trust.title")),
    h("p", { class: "muted" }, t("trust.intro")),
    h(
      "div",
      { class: "case-layout" },
      h(
        "section",
        { "aria-labelledby": "trust-list-h" },
        h("h2", { id: "trust-list-h" }, t("trust.list")),
        rows.length
          ? table(
              [t("trust.city_code"), t("trust.name"), t("trust.jwks_url"), t("trust.tier_map"), t("trust.keys"), t("trust.fetched_at"), ""],
              rows,
            )
          : h("p", { class: "card" }, t("trust.none")),
      ),
      cityForm(cities, reload),
    ),
  );
}

function removeButton(city, reload) {
  const button = h("button", { type: "button", "data-testid": "remove-city" }, t("trust.remove"));
  // Two steps: the first click asks, the second removes (the city's codes stop being recognised at once).
  button.addEventListener("click", () => {
    if (!button.dataset.armed) {
      button.dataset.armed = "1";
      button.textContent = t("trust.remove_confirm");
      return;
    }
    busy(button, async () => {
      try {
        await api.request(`${BASE}/${encodeURIComponent(city.city_code)}`, { method: "DELETE" });
        announce(t("trust.removed", { name: city.name }), "ok");
        await reload();
      } catch (error) {
        announce(problemText(error), "error");
      }
    });
  });
  return button;
}

function tierMapEditor(current) {
  // One row per partner tier: which of our tiers it counts as, or "not recognised" (left out of the map).
  const selects = TIERS.map((theirs) => {
    const select = h(
      "select",
      { name: `tier_${theirs}`, "aria-label": t("trust.their_tier", { tier: theirs }) },
      h("option", { value: "" }, t("trust.not_recognised")),
      ...TIERS.map((ours) => h("option", { value: ours, selected: current[theirs] === ours ? true : undefined }, ours)),
    );
    return [theirs, select];
  });
  const editor = h(
    "fieldset",
    { class: "tier-map" },
    h("legend", {}, t("trust.tier_map")),
    ...selects.map(([theirs, select]) => h("label", {}, `${t("trust.their_tier", { tier: theirs })} → `, select)),
  );
  const value = () => Object.fromEntries(selects.filter(([, s]) => s.value).map(([theirs, s]) => [theirs, s.value]));
  return { editor, value };
}

function cityForm(cities, reload) {
  const cityCode = h("input", { name: "city_code", required: true, pattern: CITY_CODE, maxlength: "6", inputmode: "numeric", autocomplete: "off" });
  const name = h("input", { name: "name", required: true, maxlength: "100", autocomplete: "off" });
  const jwksUrl = h("input", { name: "jwks_url", type: "url", required: true, maxlength: "500", autocomplete: "off", spellcheck: "false" });
  const jwks = h("textarea", { name: "jwks", rows: "5", spellcheck: "false", placeholder: '{"keys": [...]}' });
  let tiers = tierMapEditor({ A: "A", B: "B", C: "C", D: "D", E: "E" });
  const tierSlot = h("div", {}, tiers.editor);
  // Choosing a listed city's code fills the form with what is stored, to update it.
  cityCode.addEventListener("change", () => {
    const known = cities.find((c) => c.city_code === cityCode.value.trim());
    if (!known) return;
    name.value = known.name;
    jwksUrl.value = known.jwks_url;
    tiers = tierMapEditor(known.tier_map);
    mount(tierSlot, tiers.editor);
  });
  const submit = h("button", { type: "submit", class: "primary" }, t("trust.save"));
  const problem = h("p", { class: "note error", role: "alert", hidden: true, "data-testid": "trust-problem" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "trust-form-h" },
    h("h2", { id: "trust-form-h" }, t("trust.form_title")),
    field(t("trust.city_code"), cityCode, t("trust.city_code_hint")),
    field(t("trust.name"), name),
    field(t("trust.jwks_url"), jwksUrl),
    field(t("trust.jwks"), jwks, t("trust.jwks_hint")),
    tierSlot,
    problem,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    if (!form.reportValidity()) return;
    const body = { name: name.value.trim(), jwks_url: jwksUrl.value.trim(), tier_map: tiers.value() };
    if (jwks.value.trim()) {
      try {
        body.jwks = JSON.parse(jwks.value);
      } catch {
        problem.hidden = false;
        problem.textContent = t("trust.jwks_not_json");
        return;
      }
    }
    busy(submit, async () => {
      try {
        const saved = await api.put(`${BASE}/${encodeURIComponent(cityCode.value.trim())}`, body);
        announce(t("trust.saved", { name: saved.name }), "ok");
        await reload();
      } catch (error) {
        problem.hidden = false;
        problem.textContent = problemText(error);
      }
    });
  });
  return form;
}
