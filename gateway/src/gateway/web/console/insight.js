// 统计 (insight): the city's talent statistics for leaders, auditors and admins (GET /api/v1/insight/…).
// Every figure comes from the insight service already disclosure-controlled: a withheld count arrives as null
// and is marked 不公布 / "withheld" (a share, amount or percentile that cannot be published as "—"), with a
// legend. Not "<5": the service also withholds neighbours of a small cell (complementary suppression) so that
// totals cannot give it away, and never says which is which — a withheld cell may well hold 5 or more.
// Charts are Apache ECharts (vendored under ./vendor/echarts, loaded only when this page opens), drawn on a
// canvas with canvas-drawn tooltips, so the page's CSP (no inline styles or scripts) holds.

import { query } from "../common/api.js";
import { label, lang, t } from "../common/i18n.js";
import { busy, fmtMoney, h, mount, problemText, select, table } from "../common/ui.js";
import { api } from "./session.js";

const INSIGHT = "/api/v1/insight";
const TIERS = ["A", "B", "C", "D", "E"];
const FIRST_YEAR = 2024;
// Measures that are not counts: withheld ones show "—" (the count of their row says why).
const NOT_A_COUNT = /share|rate|occupancy|p50|p90|_fen$|amount|days|hours|percent|value|target|weight|contribution/;
// The daily series the page charts, in this order (the first the service knows is shown first).
const SERIES = ["certified", "claims_submitted", "verifications"];

let echartsModule = null;
async function echarts() {
  echartsModule ??= await import("./vendor/echarts/echarts.esm.min.js");
  return echartsModule;
}

/** The dashboard, with its filters (region, year) kept in the hash's query: #/insight?region=330402&year=2026. */
export async function insightPage(main) {
  const filters = currentFilters();
  const [summary, tables, lib] = await Promise.all([
    api.get(`${INSIGHT}/summary${query(filters)}`),
    api.get(`${INSIGHT}/tables`).catch(() => []),
    echarts(),
  ]);
  const series = await firstSeries(filters);
  mount(
    main,
    h("h1", {}, t("insight.title")),
    h("p", { class: "muted" }, t("insight.intro")),
    filterBar(summary, filters),
    legend(),
    indexSection(summary.index),
    headlines(summary),
    h(
      "div",
      { class: "grid insight-charts" },
      chartCard(lib, "tiers", t("insight.by_tier"), barOption(tierEntries(summary))),
      chartCard(lib, "regions", t("insight.by_region"), barOption(regionEntries(summary))),
      chartCard(lib, "claims", t("insight.claims_by_status"), pieOption(statusEntries(summary))),
      series ? chartCard(lib, "series", t(`insight.series.${series.metric}`), lineOption(series.points)) : null,
    ),
    section(t("insight.talents"), [
      countTable(t("insight.by_tier"), t("insight.tier_column"), tierEntries(summary), "talents-by-tier"),
      countTable(t("insight.by_region"), t("common.region"), regionEntries(summary), "talents-by-region"),
    ]),
    section(t("insight.claims"), [
      countTable(t("insight.claims_by_status"), t("common.status"), statusEntries(summary), "claims-by-status"),
      budgetsTable(summary.budgets),
    ]),
    section(t("insight.reviews"), [reviewsTable(summary.reviews)]),
    section(t("insight.housing"), [facts(summary.housing, "housing")]),
    section(t("insight.verifications"), [facts(summary.verifications, "verifications")]),
    downloads(Array.isArray(tables) ? tables : tables.items || []),
  );
}

function currentFilters() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  return { region: params.get("region") || "", year: params.get("year") || "" };
}

function filterBar(summary, filters) {
  const known = new Set([...Object.keys(summary.talents?.by_region || {}), ...regionCodes()]);
  const region = select(
    { id: "insight-region", name: "region" },
    [["", t("insight.all_regions")], ...[...known].sort().map((code) => [code, regionName(code)])],
    filters.region,
  );
  const thisYear = new Date().getFullYear();
  const years = [];
  for (let y = thisYear; y >= FIRST_YEAR; y--) years.push([String(y), String(y)]);
  const year = select({ id: "insight-year", name: "year" }, [["", t("insight.all_years")], ...years], filters.year);
  const apply = () => {
    location.hash = `#/insight${query({ region: region.value, year: year.value })}`;
  };
  region.addEventListener("change", apply);
  year.addEventListener("change", apply);
  return h(
    "div",
    { class: "toolbar" },
    h("div", { class: "field" }, h("label", { for: region.id }, t("common.region")), region),
    h("div", { class: "field" }, h("label", { for: year.id }, t("insight.year")), year),
  );
}

function legend() {
  return h(
    "p",
    { class: "note", "data-testid": "insight-legend" },
    h("span", { class: "suppressed" }, t("insight.withheld")),
    t("insight.legend_small"),
    " ",
    h("span", { class: "suppressed" }, "—"),
    t("insight.legend_withheld"),
  );
}

// --- numbers and their names ------------------------------------------------------------------------------

const numberFormat = () => new Intl.NumberFormat(lang() === "en" ? "en-GB" : "zh-CN", { maximumFractionDigits: 1 });

/** A published value: a count, a share (0..1 → %), an amount in fen (→ ¥), or the sign of a withheld cell. */
function cell(value, key = "count") {
  if (value === null) {
    const small = !NOT_A_COUNT.test(key);
    return h(
      "span",
      { class: "suppressed", title: t(small ? "insight.legend_small" : "insight.legend_withheld") },
      small ? t("insight.withheld") : "—",
    );
  }
  if (value === undefined) return "—";
  if (typeof value === "boolean") return t(value ? "common.yes" : "common.no");
  if (typeof value !== "number") return label("insight.value", value);
  if (key.endsWith("_fen")) return fmtMoney(value);
  if (/share|rate|occupancy/.test(key) && value <= 1) return `${numberFormat().format(value * 100)}%`;
  return numberFormat().format(value);
}

function regionCodes() {
  // The region names the console knows (its i18n catalogue): only the city's own divisions are offered.
  return ["330402", "330411", "330421", "330424", "330481", "330482", "330483"];
}

function regionName(code) {
  const name = label("region", code);
  return name === code ? code : `${name} (${code})`;
}

function fieldName(group, key) {
  const specific = t(`insight.field.${group}.${key}`);
  if (specific !== `insight.field.${group}.${key}`) return specific;
  return label("insight.field", key);
}

function tierEntries(summary) {
  const byTier = summary.talents?.by_tier || {};
  const keys = [...new Set([...TIERS.filter((k) => k in byTier), ...Object.keys(byTier)])];
  return keys.map((k) => [label("insight.tier", k), byTier[k], k]);
}

function regionEntries(summary) {
  return Object.entries(summary.talents?.by_region || {}).map(([code, n]) => [label("region", code), n, code]);
}

function statusEntries(summary) {
  return Object.entries(summary.claims?.by_status || {}).map(([s, n]) => [label("claim_status", s), n, s]);
}

// --- sections ------------------------------------------------------------------------------------------------

function section(title, children) {
  return h("section", { class: "card" }, h("h2", {}, title), children);
}

function headlines(summary) {
  const housing = summary.housing || {};
  // The share of all reviews decided on time is one of the index's inputs (published figures only).
  const onTime = (summary.index?.indicators || []).find((i) => i.source === "reviews_on_time_share");
  const items = [
    ["talents_total", t("insight.talents_total"), summary.talents?.total, "count"],
    ["straight_through_share", t("insight.straight_through_share"), summary.claims?.straight_through_share, "share"],
    ["on_time_share", t("insight.on_time_share"), onTime ? onTime.value : undefined, "share"],
    ["occupancy", t("insight.occupancy"), housing.occupancy, "occupancy"],
  ];
  return h(
    "div",
    { class: "grid insight-headlines" },
    items.map(([id, title, value, key]) =>
      h(
        "div",
        { class: "card headline", "data-testid": `headline-${id}` },
        h("div", { class: "muted" }, title),
        h("div", { class: "big" }, cell(value, key)),
      ),
    ),
  );
}

function indexSection(index) {
  if (!index) return null;
  const rows = (index.indicators || []).map((i) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, indicatorName(i)),
      h("td", { class: "num" }, indicatorNumber(i, i.value)),
      h("td", { class: "num" }, indicatorTarget(i)),
      h("td", { class: "num" }, cell(i.weight, "weight_share")),
      h("td", { class: "num" }, cell(i.contribution, "contribution")),
    ),
  );
  return h(
    "section",
    { class: "card", "data-testid": "insight-index" },
    h("h2", {}, t("insight.index")),
    h(
      "p",
      {},
      h("span", { class: "big", "data-testid": "index-value" }, cell(index.value, "value")),
      " / 100 ",
      h("span", { class: "muted" }, t("insight.index_version", { version: index.version ?? "—" })),
    ),
    table(
      [t("insight.indicator"), t("insight.indicator_value"), t("insight.target"), t("insight.weight"), t("insight.contribution")],
      rows,
    ),
  );
}

/** An indicator's value in its own unit: a share or growth as %, a count as a number. */
function indicatorNumber(indicator, value) {
  const unit = /share|growth|rate|occupancy|execution/.test(indicator.source || indicator.key) ? "share" : "count_value";
  return cell(value, unit);
}

function indicatorTarget(indicator) {
  const norm = indicator.normalisation || {};
  if (indicator.target !== undefined) return indicatorNumber(indicator, indicator.target);
  if (norm.target !== undefined) return indicatorNumber(indicator, norm.target);
  if (norm.min !== undefined) return [indicatorNumber(indicator, norm.min), " – ", indicatorNumber(indicator, norm.max)];
  return "—";
}

function indicatorName(indicator) {
  if (indicator.name_zh || indicator.name_en) return lang() === "en" ? indicator.name_en || indicator.name_zh : indicator.name_zh;
  const name = indicator.name;
  if (name && typeof name === "object") return name[lang()] || name["zh-CN"] || name.zh || name.en;
  const known = t(`insight.indicator_name.${indicator.key}`);
  if (known !== `insight.indicator_name.${indicator.key}`) return known;
  return name || indicator.key;
}

function countTable(caption, column, entries, testid) {
  return h(
    "div",
    { "data-testid": testid },
    table(
      [column, t("insight.count")],
      entries.map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", { class: "num" }, cell(value)))),
      caption,
    ),
  );
}

function budgetsTable(budgets) {
  if (!Array.isArray(budgets) || !budgets.length) return h("p", { class: "muted" }, t("insight.no_budgets"));
  const keys = [...new Set(budgets.flatMap((b) => Object.keys(b)))].filter((k) => !["policy", "policy_code", "year"].includes(k));
  return table(
    [t("insight.policy"), t("insight.year"), ...keys.map((k) => fieldName("budgets", k))],
    budgets.map((b) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, label("policy", b.policy_code ?? b.policy)),
        h("td", {}, b.year ?? "—"),
        keys.map((k) => h("td", { class: "num" }, cell(b[k], k))),
      ),
    ),
    t("insight.budgets"),
  );
}

/** Review stages decided, per kind (certification, claim) and stage: how many, on time, p50 and p90 hours. */
function reviewsTable(reviews) {
  const rows = Object.entries(reviews || {}).flatMap(([kind, stages]) =>
    Object.entries(stages || {}).map(([stage, figures]) => ({ kind, stage, ...figures })),
  );
  if (!rows.length) return h("p", { class: "muted", "data-testid": "insight-reviews" }, t("insight.no_reviews"));
  const measures = ["decided", "on_time", "on_time_share", "p50_hours", "p90_hours"];
  return h(
    "div",
    { "data-testid": "insight-reviews" },
    table(
      [fieldName("reviews", "kind"), fieldName("reviews", "stage"), ...measures.map((m) => fieldName("reviews", m))],
      rows.map((r) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, label("insight.value", r.kind)),
          h("td", {}, label("stage", r.stage)),
          measures.map((m) => h("td", { class: "num" }, cell(r[m], m))),
        ),
      ),
    ),
  );
}

/** A section's figures: flat values as a list, nested groups ({scene: n}) and lists of rows as tables. */
function facts(data, group) {
  if (!data || typeof data !== "object") return h("p", { class: "muted" }, "—");
  const flat = Object.entries(data).filter(([, v]) => v === null || typeof v !== "object");
  const nested = Object.entries(data).filter(([, v]) => v !== null && typeof v === "object");
  return h(
    "div",
    { "data-testid": `insight-${group}` },
    flat.length
      ? h(
          "dl",
          { class: "facts" },
          flat.map(([k, v]) => [h("dt", {}, fieldName(group, k)), h("dd", {}, cell(v, k))]),
        )
      : null,
    nested.map(([k, v]) => (Array.isArray(v) ? rowsTable(group, k, v) : mapTable(group, k, v))),
  );
}

function mapTable(group, key, map) {
  const nestedValues = Object.values(map).some((v) => v !== null && typeof v === "object");
  if (nestedValues) return rowsTable(group, key, Object.entries(map).map(([name, row]) => ({ [key]: name, ...row })));
  return table(
    [fieldName(group, `${key}_key`), t("insight.count")],
    Object.entries(map).map(([name, value]) =>
      h("tr", {}, h("th", { scope: "row" }, valueName(group, key, name)), h("td", { class: "num" }, cell(value, key))),
    ),
    fieldName(group, key),
  );
}

function rowsTable(group, key, rows) {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return table(
    columns.map((c) => fieldName(group, c)),
    rows.map((r) =>
      h(
        "tr",
        {},
        columns.map((c) =>
          typeof r[c] === "string" ? h("td", {}, valueName(group, c, r[c])) : h("td", { class: "num" }, cell(r[c], c)),
        ),
      ),
    ),
    fieldName(group, key),
  );
}

/** A dimension's value in words: a region, tier, policy, stage, scene… (the value itself when unknown). */
function valueName(group, dimension, value) {
  if (/region/.test(dimension)) return label("region", value);
  if (/tier/.test(dimension)) return label("insight.tier", value);
  if (/policy/.test(dimension)) return label("policy", value);
  if (/stage/.test(dimension)) return label("stage", value);
  if (/^status$/.test(dimension) && group === "claims") return label("claim_status", value);
  return label("insight.value", value);
}

// --- charts -------------------------------------------------------------------------------------------------

function chartCard(lib, id, title, option) {
  const box = h("div", { class: "chart", role: "img", "aria-label": title, "data-testid": `chart-${id}` });
  let chart = null;
  // The page is built off-screen and mounted when ready: the chart starts once its box has a size, follows
  // the box when the window changes, and is released when the page is left.
  const observer = new ResizeObserver(() => {
    if (!box.isConnected) {
      if (chart) observer.disconnect();
      chart?.dispose();
      chart = null;
      return;
    }
    if (!box.clientWidth) return;
    if (!chart) {
      chart = lib.init(box, null, { renderer: "canvas", locale: lang() === "en" ? "EN" : "ZH" });
      chart.setOption(option);
    } else chart.resize();
  });
  observer.observe(box);
  return h("figure", { class: "card chart-card" }, h("figcaption", {}, title), box);
}

const TOOLTIP = { trigger: "item", renderMode: "richText" };

function barOption(entries) {
  return {
    animation: false,
    tooltip: TOOLTIP,
    grid: { left: 40, right: 16, top: 16, bottom: 40 },
    xAxis: { type: "category", data: entries.map(([name]) => name), axisLabel: { interval: 0, rotate: entries.length > 5 ? 30 : 0 } },
    yAxis: { type: "value", minInterval: 1 },
    // A suppressed count is a gap, never a bar of 0.
    series: [{ type: "bar", data: entries.map(([, value]) => (value === null ? "-" : value)) }],
  };
}

function pieOption(entries) {
  return {
    animation: false,
    tooltip: TOOLTIP,
    series: [
      {
        type: "pie",
        radius: ["35%", "65%"],
        data: entries.filter(([, value]) => value !== null && value > 0).map(([name, value]) => ({ name, value })),
      },
    ],
  };
}

function lineOption(points) {
  return {
    animation: false,
    tooltip: { ...TOOLTIP, trigger: "axis" },
    grid: { left: 40, right: 16, top: 16, bottom: 40 },
    xAxis: { type: "category", data: points.map((p) => p.date ?? p.day) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "line", connectNulls: false, data: points.map((p) => (p.count ?? p.value) ?? "-") }],
  };
}

async function firstSeries(filters) {
  for (const metric of SERIES) {
    try {
      const answer = await api.get(`${INSIGHT}/series/${metric}${query(filters)}`);
      const points = Array.isArray(answer) ? answer : answer.points || answer.items || [];
      return { metric, points };
    } catch (error) {
      if (error.status !== 404 && error.status !== 422) throw error;
    }
  }
  return null;
}

// --- CSV downloads (with the bearer token, so a fetch and a blob: URL, not a plain link) ---------------------

function downloads(names) {
  if (!names.length) return null;
  const note = h("p", { class: "note", role: "status", "data-testid": "csv-note", hidden: true });
  return section(t("insight.downloads"), [
    h("p", { class: "muted" }, t("insight.downloads_intro")),
    h(
      "div",
      { class: "actions" },
      names.map((entry) => {
        const name = typeof entry === "string" ? entry : entry.name;
        const button = h("button", { type: "button", "data-table": name }, `${label("insight.table", name)} (CSV)`);
        button.addEventListener("click", () => busy(button, () => download(name, note)));
        return button;
      }),
    ),
    note,
  ]);
}

async function download(name, note) {
  note.hidden = false;
  try {
    const blob = await api.request(`${INSIGHT}/${encodeURIComponent(name)}.csv${query(currentFilters())}`, { as: "blob" });
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: `${name}.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    note.className = "note ok";
    note.textContent = t("insight.downloaded", { table: label("insight.table", name) });
  } catch (error) {
    note.className = "note error";
    note.textContent = problemText(error);
  }
}
