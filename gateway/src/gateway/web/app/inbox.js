// The inbox: every notification, newest first; opening one marks it read.

import { t } from "../common/i18n.js";
import { fmtDateTime, h, mount, showError } from "../common/ui.js";
import { api } from "./session.js";

export async function unreadCount() {
  const page = await api.get("/api/v1/me/inbox?unread=true&limit=200");
  return page.items.length;
}

export async function inboxPage(main) {
  const page = await api.get("/api/v1/me/inbox?limit=100");
  const items = page.items.map((n) => {
    const read = h(
      "button",
      { type: "button", class: "link", onclick: () => markRead(n, article, read) },
      t("inbox.mark_read"),
    );
    const article = h(
      "article",
      { class: `card${n.read_at ? "" : " unread"}`, "data-testid": "notification" },
      h(
        "div",
        { class: "item-head" },
        h("h3", {}, n.read_at ? null : h("span", { class: "sr-only" }, t("inbox.unread") + " "), n.title),
        h("time", { datetime: n.created_at, class: "muted" }, fmtDateTime(n.created_at)),
      ),
      h("p", {}, n.body),
      n.read_at ? null : read,
    );
    return article;
  });
  mount(
    main,
    h("h2", {}, t("inbox.title")),
    items.length ? items : h("p", { class: "card" }, t("inbox.empty")),
  );
}

async function markRead(notification, article, button) {
  try {
    await api.post(`/api/v1/me/inbox/${notification.id}/read`);
    article.classList.remove("unread");
    button.remove();
    const count = document.querySelector('[data-tab="inbox"] .count');
    if (count) {
      const left = Number(count.lastChild.textContent) - 1;
      if (left > 0) count.lastChild.textContent = String(left);
      else count.remove();
    }
  } catch (error) {
    showError(error);
  }
}
