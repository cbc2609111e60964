// Named officers (首问负责制) and the officials' inbox: who owns a case (the first reviewer who opened or
// decided it; the talent sees the same name and office phone), a city approver's control to hand a case to
// another official, and the official's own inbox (escalations, deadlines near, the daily digest).

import { t } from "../common/i18n.js";
import { announce, busy, field, fmtDateTime, h, mount, problemText, table } from "../common/ui.js";
import { api } from "./session.js";
import { pagedRows } from "./staff.js";

const INBOX = "/api/v1/officials/inbox";

/** The owner of a case as a facts row: name · office phone, or a dash before anyone opened it. */
export function ownerFact(c) {
  const o = c.officer;
  return [
    t("officer.owner"),
    h("span", { "data-testid": "case-officer" }, o && o.display_name ? `${o.display_name}${o.office_phone ? ` · ${o.office_phone}` : ""}` : "—"),
  ];
}

/** A city approver hands the case to another official (kind: "claims" | "certifications"); null for others. */
export function reassignForm(kind, id, reload) {
  if (!api.hasRole("city_approver")) return null;
  const officerId = h("input", { name: "officer_id", required: true, maxlength: "64", autocomplete: "off" });
  const name = h("input", { name: "display_name", required: true, maxlength: "100" });
  const phone = h("input", { name: "office_phone", maxlength: "32", inputmode: "tel", pattern: "[0-9+\\- ]*" });
  const submit = h("button", { type: "submit" }, t("officer.reassign"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "reassign-h", "data-testid": "reassign-form" },
    h("h2", { id: "reassign-h" }, t("officer.reassign_title")),
    field(t("officer.officer_id"), officerId, t("officer.officer_id_hint")),
    field(t("officer.display_name"), name),
    field(t("officer.office_phone"), phone),
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await api.post(`/api/v1/reviews/${kind}/${encodeURIComponent(id)}/officer`, {
          officer_id: officerId.value.trim(),
          display_name: name.value.trim(),
          office_phone: phone.value.trim(),
        });
        announce(t("officer.reassigned"), "ok");
        await reload();
      } catch (error) {
        announce(problemText(error), "error");
      }
    });
  });
  return form;
}

/** The official's own inbox, newest first; each unread message can be marked read. */
export async function officialInboxPage(main) {
  const reload = () => officialInboxPage(main);
  const { rows, more } = await pagedRows(INBOX, {}, (m) => {
    const read = h("button", { type: "button" }, t("inbox.mark_read"));
    read.addEventListener("click", () =>
      busy(read, async () => {
        try {
          await api.post(`${INBOX}/${m.id}/read`);
          await reload();
        } catch (error) {
          announce(problemText(error), "error");
        }
      }),
    );
    return h(
      "tr",
      { "data-message": m.id, class: m.read_at ? "muted" : undefined },
      h("td", {}, fmtDateTime(m.created_at)),
      h("td", {}, h("strong", {}, m.title), h("div", {}, m.body)),
      h("td", {}, m.read_at ? t("inbox.read") : read),
    );
  });
  mount(
    main,
    h("h1", {}, t("inbox.title")),
    h("p", { class: "muted" }, t("inbox.intro")),
    rows.length
      ? h("section", {}, table([t("inbox.at"), t("inbox.message"), ""], rows), more)
      : h("p", { class: "card" }, t("inbox.empty")),
  );
}
