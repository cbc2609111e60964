// Talent apartments: my lease, my offers (accept or decline before the deadline), the open rounds to apply
// to, and my applications with their rank.

import { label, t } from "../common/i18n.js";
import { announce, busy, deadlineBadge, field, fmtDate, fmtDateTime, fmtMoney, h, mount, showError } from "../common/ui.js";
import { api } from "./session.js";
import { LEASE, OFFER } from "../common/states.js";

export async function housingPage(main) {
  const [mine, rounds, projects] = await Promise.all([
    api.get("/api/v1/me/housing"),
    api.get("/api/v1/housing/rounds?status=open&limit=50", { auth: false }),
    api.get("/api/v1/housing/projects?limit=200", { auth: false }),
  ]);
  const reload = () => housingPage(main);
  const applied = new Map(mine.applications.map((a) => [a.round_id, a]));
  const openOffers = mine.offers.filter((o) => o.status === OFFER.OPEN);
  const pastOffers = mine.offers.filter((o) => o.status !== OFFER.OPEN);
  mount(
    main,
    h("h2", {}, t("housing.title")),
    mine.lease ? leaseCard(mine.lease, reload) : null,
    openOffers.length
      ? h(
          "section",
          { "aria-labelledby": "offers-h" },
          h("h3", { id: "offers-h" }, t("housing.offers")),
          openOffers.map((o) => offerCard(o, reload)),
        )
      : null,
    h(
      "section",
      { "aria-labelledby": "rounds-h" },
      h("h3", { id: "rounds-h" }, t("housing.open_rounds")),
      rounds.items.length
        ? rounds.items.map((r) => roundCard(r, applied.get(r.id), projects.items, reload))
        : h("p", { class: "card muted" }, t("housing.no_rounds")),
    ),
    mine.applications.length
      ? h(
          "section",
          { "aria-labelledby": "apps-h" },
          h("h3", { id: "apps-h" }, t("housing.my_applications")),
          mine.applications.map((a) =>
            h(
              "article",
              { class: "card", "data-application": a.id },
              h("p", {}, t("housing.application_line", { pseudonym: a.application_pseudonym, tier: a.tier, points: a.points })),
              h(
                "p",
                {},
                t("common.status"),
                ": ",
                h("strong", {}, label("application_status", a.status)),
                a.rank ? ` · ${t("housing.rank", { rank: a.rank })}` : "",
              ),
              a.status_reason ? h("p", { class: "muted" }, a.status_reason) : null,
            ),
          ),
        )
      : null,
    pastOffers.length
      ? h(
          "details",
          { class: "card" },
          h("summary", {}, t("housing.past_offers", { n: pastOffers.length })),
          h("ul", {}, pastOffers.map((o) => h("li", {}, `${o.unit_number} · ${label("offer_status", o.status)} · ${fmtDateTime(o.made_at)}`))),
        )
      : null,
  );
}

function leaseCard(lease, reload) {
  const moveOut = h("button", { type: "button" }, t("housing.move_out"));
  const confirm = h("button", { type: "button", class: "danger", hidden: true }, t("housing.move_out_confirm"));
  moveOut.addEventListener("click", () => {
    moveOut.hidden = true;
    confirm.hidden = false;
    confirm.focus();
  });
  confirm.addEventListener("click", () =>
    busy(confirm, async () => {
      try {
        await api.post("/api/v1/me/housing/lease/move-out", {});
        announce(t("housing.moved_out"), "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    }),
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "lease-h", "data-testid": "lease" },
    h("h3", { id: "lease-h" }, t("housing.lease")),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("common.status")),
      h("dd", {}, label("lease_status", lease.status)),
      h("dt", {}, t("housing.period")),
      h("dd", {}, `${fmtDate(lease.starts_on)} – ${fmtDate(lease.ends_on)}`),
      h("dt", {}, t("housing.rent")),
      h("dd", {}, t("housing.rent_line", { rent: fmtMoney(lease.monthly_rent_fen), list: fmtMoney(lease.list_rent_fen) })),
      h("dt", {}, t("housing.renewable")),
      h("dd", {}, lease.renewable ? t("common.yes") : t("common.no")),
    ),
    lease.status === LEASE.ACTIVE ? h("div", { class: "actions" }, moveOut, confirm) : null,
  );
}

function offerCard(offer, reload) {
  const act = (action, doneKey) => (event) =>
    busy(event.currentTarget, async () => {
      try {
        await api.post(`/api/v1/me/housing/offers/${offer.id}/${action}`);
        announce(t(doneKey), "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    });
  const accept = h("button", { type: "button", class: "primary", onclick: act("accept", "housing.accepted") }, t("housing.accept"));
  const decline = h("button", { type: "button" }, t("housing.decline"));
  const confirm = h(
    "button",
    { type: "button", class: "danger", hidden: true, onclick: act("decline", "housing.declined") },
    t("housing.decline_confirm"),
  );
  decline.addEventListener("click", () => {
    decline.hidden = true;
    confirm.hidden = false;
    confirm.focus();
  });
  return h(
    "article",
    { class: "card", "data-offer": offer.id },
    h(
      "div",
      { class: "item-head" },
      h("h4", {}, t("housing.offer_title", { number: offer.unit_number, type: label("unit_type", offer.unit_type) })),
      h("span", { class: "amount" }, t("housing.per_month", { rent: fmtMoney(offer.monthly_rent_fen) })),
    ),
    h("p", { class: "muted" }, t("housing.list_rent", { list: fmtMoney(offer.list_rent_fen) })),
    h("p", {}, t("housing.answer_by", { at: fmtDateTime(offer.expires_at) }), " ", deadlineBadge(offer.expires_at, 24)),
    h("p", { class: "hint" }, t("housing.decline_warning")),
    h("div", { class: "actions" }, accept, decline, confirm),
  );
}

function roundCard(round, application, projects, reload) {
  const head = h(
    "div",
    { class: "item-head" },
    h("h4", {}, round.name),
    h("span", {}, t("housing.closes"), " ", deadlineBadge(round.closes_at, 24)),
  );
  const facts = h("p", { class: "muted" }, t("housing.round_facts", { units: round.unit_count, applications: round.application_count }));
  if (application) {
    return h(
      "article",
      { class: "card", "data-round": round.id },
      head,
      facts,
      h("p", { class: "note ok" }, t("housing.applied", { status: label("application_status", application.status) })),
    );
  }
  const boxes = projects.map((p) =>
    h("label", {}, h("input", { type: "checkbox", name: "project", value: p.id }), `${p.name} (${label("region", p.region_code)})`),
  );
  const size = h("input", { type: "number", name: "household_size", min: "1", max: "12", value: "1", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("housing.apply"));
  const form = h(
    "form",
    { class: "card", "data-round": round.id },
    head,
    facts,
    projects.length
      ? h("fieldset", {}, h("legend", {}, t("housing.preferred")), h("div", { class: "choices" }, boxes))
      : null,
    field(t("housing.household_size"), size),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const preferred = [...form.querySelectorAll('input[name="project"]:checked')].map((b) => b.value);
    busy(submit, async () => {
      try {
        await api.post(`/api/v1/housing/rounds/${round.id}/applications`, {
          preferred_project_ids: preferred,
          household_size: Number(size.value),
        });
        announce(t("housing.applied_now"), "ok");
        await reload();
      } catch (error) {
        showError(error);
      }
    });
  });
  return form;
}
