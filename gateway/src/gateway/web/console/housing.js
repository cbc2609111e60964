// Housing officers: projects and their units, allocation rounds (open → closed → drawn), the ranked results,
// and the seed check anyone can repeat: sha256(seed bytes) must equal the commitment published at closing.

import { query } from "../common/api.js";
import { label, t } from "../common/i18n.js";
import {
  announce,
  busy,
  cityInputValue,
  deadlineBadge,
  field,
  fmtDateTime,
  fmtMoney,
  fromCityInput,
  h,
  hexToBytes,
  mount,
  select,
  sha256Hex,
  shortId,
  showError,
  table,
} from "../common/ui.js";
import { facts } from "./reviews.js";
import { api, go } from "./session.js";
import { ROUND, UNIT } from "../common/states.js";

const SUPPLY = ["government", "park", "enterprise"];
const UNIT_TYPES = ["studio", "1BR", "2BR", "3BR"];
const REGIONS = ["330402", "330411", "330421", "330424", "330481", "330482", "330483", "330502"];

export async function housingPage(main) {
  const [projects, rounds] = await Promise.all([
    api.get("/api/v1/housing/projects?limit=200"),
    api.get("/api/v1/housing/rounds?limit=50"),
  ]);
  const projectRows = projects.items.map((p) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/housing/projects/${p.id}` }, p.name)),
      h("td", {}, label("region", p.region_code)),
      h("td", {}, label("supply", p.supply_model)),
      h("td", {}, p.available_units),
      h("td", {}, Object.entries(p.available_by_type || {}).map(([k, v]) => `${label("unit_type", k)} ${v}`).join(" · ")),
    ),
  );
  const roundRows = rounds.items.map((r) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/housing/rounds/${r.id}` }, r.name)),
      h("td", {}, h("span", { class: "badge" }, label("round_status", r.status))),
      h("td", {}, r.unit_count),
      h("td", {}, r.application_count),
      h("td", {}, r.status === ROUND.OPEN ? deadlineBadge(r.closes_at, 24) : fmtDateTime(r.closes_at)),
    ),
  );
  mount(
    main,
    h("h1", {}, t("housing.title")),
    h(
      "section",
      { "aria-labelledby": "rounds-h" },
      h("h2", { id: "rounds-h" }, t("housing.rounds")),
      roundRows.length
        ? table([t("housing.round_name"), t("common.status"), t("housing.units"), t("housing.applications"), t("housing.closes_at")], roundRows)
        : h("p", { class: "card" }, t("housing.no_rounds")),
    ),
    h(
      "section",
      { "aria-labelledby": "projects-h" },
      h("h2", { id: "projects-h" }, t("housing.projects")),
      projectRows.length
        ? table([t("housing.project_name"), t("common.region"), t("housing.supply_model"), t("housing.available"), t("housing.by_type")], projectRows)
        : h("p", { class: "card" }, t("housing.no_projects")),
    ),
    h("div", { class: "grid" }, projectForm(), await roundForm(projects.items)),
  );
}

function projectForm() {
  const name = h("input", { name: "name", required: true, maxlength: "200" });
  const region = select({ name: "region_code" }, REGIONS.map((r) => [r, label("region", r)]), "330402");
  const supply = select({ name: "supply_model" }, SUPPLY.map((s) => [s, label("supply", s)]), "government");
  const address = h("input", { name: "address", required: true, maxlength: "300" });
  const submit = h("button", { type: "submit", class: "primary" }, t("housing.create_project"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-project-h" },
    h("h2", { id: "new-project-h" }, t("housing.new_project")),
    field(t("housing.project_name"), name),
    field(t("common.region"), region),
    field(t("housing.supply_model"), supply),
    field(t("housing.address"), address),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        const project = await api.post("/api/v1/housing/projects", {
          name: name.value.trim(),
          region_code: region.value,
          supply_model: supply.value,
          address: address.value.trim(),
        });
        announce(t("housing.project_created"), "ok");
        go(`housing/projects/${project.id}`);
      } catch (error) {
        showError(error);
      }
    });
  });
  return form;
}

async function roundForm(projects) {
  const units = [];
  for (const p of projects.slice(0, 20)) {
    const page = await api.get(`/api/v1/housing/projects/${p.id}/units${query({ status: UNIT.AVAILABLE, limit: 200 })}`);
    for (const u of page.items) units.push({ ...u, project: p.name });
  }
  const name = h("input", { name: "round_name", required: true, maxlength: "200" });
  const inAWeek = new Date(Date.now() + 7 * 86400000);
  const closes = h("input", { name: "closes_at", type: "datetime-local", required: true, value: cityInputValue(inAWeek) });
  const boxes = units.map((u) =>
    h(
      "label",
      {},
      h("input", { type: "checkbox", name: "unit", value: u.id, checked: true }),
      `${u.project} ${u.number} · ${label("unit_type", u.unit_type)} · ${fmtMoney(u.monthly_rent_fen)}`,
    ),
  );
  const submit = h("button", { type: "submit", class: "primary", disabled: !units.length }, t("housing.open_round"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-round-h" },
    h("h2", { id: "new-round-h" }, t("housing.new_round")),
    field(t("housing.round_name"), name),
    field(t("housing.closes_at"), closes),
    h(
      "fieldset",
      {},
      h("legend", {}, t("housing.units")),
      units.length ? h("div", { class: "choices" }, boxes) : h("p", { class: "muted" }, t("housing.no_units")),
    ),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const unitIds = [...form.querySelectorAll('input[name="unit"]:checked')].map((b) => b.value);
    busy(submit, async () => {
      try {
        const round = await api.post("/api/v1/housing/rounds", {
          name: name.value.trim(),
          unit_ids: unitIds,
          closes_at: fromCityInput(closes.value),
        });
        announce(t("housing.round_opened"), "ok");
        go(`housing/rounds/${round.id}`);
      } catch (error) {
        showError(error);
      }
    });
  });
  return form;
}

export async function projectPage(main, id) {
  const project = await api.get(`/api/v1/housing/projects/${encodeURIComponent(id)}`);
  const units = await api.get(`/api/v1/housing/projects/${encodeURIComponent(id)}/units?limit=200`);
  const rows = units.items.map((u) =>
    h(
      "tr",
      {},
      h("td", {}, u.number),
      h("td", {}, label("unit_type", u.unit_type)),
      h("td", {}, `${u.area_m2} m²`),
      h("td", {}, fmtMoney(u.monthly_rent_fen)),
      h("td", {}, label("unit_status", u.status)),
      h("td", {}, u.round_id ? h("a", { href: `#/housing/rounds/${u.round_id}` }, shortId(u.round_id)) : "—"),
    ),
  );
  const number = h("input", { name: "number", required: true, maxlength: "40" });
  const type = select({ name: "unit_type" }, UNIT_TYPES.map((u) => [u, label("unit_type", u)]), "1BR");
  const area = h("input", { name: "area_m2", type: "number", min: "1", step: "0.1", required: true, value: "45" });
  const rent = h("input", { name: "rent", type: "number", min: "0", step: "0.01", required: true, value: "1800" });
  const submit = h("button", { type: "submit", class: "primary" }, t("housing.add_unit"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "add-unit-h" },
    h("h2", { id: "add-unit-h" }, t("housing.add_unit")),
    field(t("housing.unit_number"), number),
    field(t("housing.unit_type"), type),
    field(t("housing.area"), area),
    field(t("housing.rent_yuan"), rent),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await api.post(`/api/v1/housing/projects/${project.id}/units`, {
          units: [
            {
              number: number.value.trim(),
              unit_type: type.value,
              area_m2: Number(area.value),
              monthly_rent_fen: Math.round(Number(rent.value) * 100),
            },
          ],
        });
        announce(t("housing.unit_added"), "ok");
        await projectPage(main, id);
      } catch (error) {
        showError(error);
      }
    });
  });
  mount(
    main,
    h("p", {}, h("a", { href: "#/housing" }, "← " + t("housing.title"))),
    h("h1", {}, project.name),
    h(
      "div",
      { class: "case-layout" },
      h(
        "div",
        {},
        h(
          "section",
          { class: "card" },
          facts([
            [t("common.region"), label("region", project.region_code)],
            [t("housing.supply_model"), label("supply", project.supply_model)],
            [t("housing.address"), project.address],
            [t("housing.available"), project.available_units],
          ]),
        ),
        rows.length
          ? table([t("housing.unit_number"), t("housing.unit_type"), t("housing.area"), t("housing.rent"), t("common.status"), t("housing.round")], rows)
          : h("p", { class: "card" }, t("housing.no_units")),
      ),
      form,
    ),
  );
}

export async function roundPage(main, id) {
  const round = await api.get(`/api/v1/housing/rounds/${encodeURIComponent(id)}`);
  const reload = () => roundPage(main, id);
  const act = (action, doneKey) => (event) =>
    busy(event.currentTarget, async () => {
      try {
        await api.post(`/api/v1/housing/rounds/${round.id}/${action}`);
        announce(t(doneKey), "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    });
  const actions = [];
  if (round.status === ROUND.OPEN) actions.push(h("button", { type: "button", class: "primary", onclick: act("close", "housing.closed") }, t("housing.close")));
  if (round.status === ROUND.CLOSED) actions.push(h("button", { type: "button", class: "primary", onclick: act("draw", "housing.drawn") }, t("housing.draw")));

  const check = h("p", { class: "seed-check", "aria-live": "polite", "data-testid": "seed-check" });
  let results = null;
  if (round.seed) {
    results = await api.get(`/api/v1/housing/rounds/${round.id}/results?limit=1000`);
    verifySeed(round.seed, round.seed_commitment, check);
  }
  mount(
    main,
    h("p", {}, h("a", { href: "#/housing" }, "← " + t("housing.title"))),
    h("h1", {}, round.name),
    h(
      "section",
      { class: "card", "aria-labelledby": "round-h" },
      h("h2", { id: "round-h" }, t("housing.round")),
      facts([
        [t("common.status"), h("span", { class: "badge", "data-testid": "round-status" }, label("round_status", round.status))],
        [t("housing.closes_at"), round.status === ROUND.OPEN ? deadlineBadge(round.closes_at, 24) : fmtDateTime(round.closes_at)],
        [t("housing.units"), round.unit_count],
        [t("housing.applications"), round.application_count],
        [t("housing.tier_quotas"), Object.keys(round.tier_quotas || {}).length ? Object.entries(round.tier_quotas).map(([tier, n]) => `${label("tier", tier)}: ${n}`).join(" · ") : "—"],
        [t("housing.commitment"), h("span", { class: "mono", "data-testid": "commitment" }, round.seed_commitment || t("housing.after_close"))],
        [t("housing.seed"), h("span", { class: "mono", "data-testid": "seed" }, round.seed || t("housing.after_draw"))],
      ]),
      round.seed ? check : null,
      actions.length ? h("div", { class: "actions" }, actions) : null,
    ),
    results
      ? h(
          "section",
          { "aria-labelledby": "results-h" },
          h("h2", { id: "results-h" }, t("housing.results")),
          table(
            [t("housing.rank"), t("housing.pseudonym"), t("housing.tier"), t("housing.points"), t("housing.lottery"), t("housing.selected"), t("common.status")],
            results.items.map((row) =>
              h(
                "tr",
                {},
                h("td", {}, row.rank),
                h("td", { class: "mono" }, row.application_pseudonym),
                h("td", {}, label("tier", row.tier)),
                h("td", {}, row.points),
                h("td", { class: "mono", title: row.lottery_number }, row.lottery_number.slice(0, 16) + "…"),
                h("td", {}, row.selected ? t("common.yes") : t("common.no")),
                h("td", {}, label("application_status", row.status)),
              ),
            ),
          ),
        )
      : null,
  );
}

/** Recompute the commitment in this browser: SHA-256 over the seed's bytes (hex-decoded). */
async function verifySeed(seed, commitment, out) {
  try {
    const digest = await sha256Hex(hexToBytes(seed));
    const ok = digest === String(commitment).toLowerCase();
    out.className = `seed-check ${ok ? "ok" : "bad"}`;
    out.textContent = ok ? t("housing.seed_ok", { digest }) : t("housing.seed_bad", { digest });
  } catch (error) {
    out.className = "seed-check bad";
    out.textContent = String(error.message || error);
  }
}
