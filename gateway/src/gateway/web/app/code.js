// The talent code: status, tier and points, and the QR image of a short-lived signed code. The image is
// fetched with the bearer token (an <img src> cannot send one), shown from a blob: URL, and fetched again
// shortly before the code expires.

import { label, t } from "../common/i18n.js";
import { fmtDate, fmtRemaining, h, mount, problemText } from "../common/ui.js";
import { api, onLeave } from "./session.js";
import { TALENT } from "../common/states.js";

const REFRESH_BEFORE_MS = 30000;

export async function codePage(main) {
  const talent = await api.get("/api/v1/me/talent").catch((error) => {
    if (error.status === 404) return null;
    throw error;
  });
  const status = talent
    ? h(
        "div",
        { class: "status-line" },
        h("span", {}, t("code.status"), " ", h("strong", { "data-testid": "talent-status" }, label("talent_status", talent.status))),
        talent.tier ? h("span", {}, t("code.tier"), " ", h("strong", {}, label("tier", talent.tier))) : null,
        h("span", {}, t("code.points"), " ", h("strong", {}, talent.points)),
        talent.certified_until ? h("span", {}, t("code.until"), " ", fmtDate(talent.certified_until)) : null,
      )
    : null;
  const card = h("section", { class: "card code-card", "aria-labelledby": "code-h" }, h("h2", { id: "code-h" }, t("code.title")), status);
  mount(main, card);
  if (!talent || talent.status !== TALENT.CERTIFIED) {
    card.append(
      h("p", {}, t(talent ? "code.not_certified" : "code.no_profile")),
      h("a", { class: "button primary", href: talent ? "#/me/certify" : "#/me" }, t(talent ? "code.certify" : "code.fill_profile")),
    );
    return;
  }
  const img = h("img", { alt: t("code.qr_alt"), "data-testid": "qr", width: "288", height: "288" });
  const countdown = h("p", { class: "muted", "data-testid": "code-expiry" });
  const error = h("p", { class: "note error", role: "alert", hidden: true });
  const refreshButton = h("button", { type: "button" }, t("code.refresh"));
  card.append(img, countdown, error, h("div", { class: "actions", style: undefined }, refreshButton), h("p", { class: "hint" }, t("code.hint")));

  let objectUrl = null;
  let expiresAt = 0;
  let refreshTimer = null;
  const stop = () => {
    clearTimeout(refreshTimer);
    clearInterval(tick);
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  };
  const tick = setInterval(() => {
    if (expiresAt && !img.isConnected) stop(); // the page was left (or never shown: another came first)
    else if (expiresAt) countdown.textContent = t("code.expires", { left: fmtRemaining(expiresAt - Date.now()) });
  }, 1000);

  async function refresh() {
    clearTimeout(refreshTimer);
    try {
      // The JSON tells when codes issued now expire; the image that follows is at least as fresh.
      const info = await api.get("/api/v1/me/code");
      const blob = await api.request("/api/v1/me/code.svg", { as: "blob" });
      const next = URL.createObjectURL(blob);
      img.src = next;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = next;
      expiresAt = new Date(info.expires_at).getTime();
      img.dataset.expiresAt = info.expires_at;
      countdown.textContent = t("code.expires", { left: fmtRemaining(expiresAt - Date.now()) });
      error.hidden = true;
      refreshTimer = setTimeout(refresh, Math.max(5000, expiresAt - Date.now() - REFRESH_BEFORE_MS));
    } catch (e) {
      error.hidden = false;
      error.textContent = problemText(e);
      refreshTimer = setTimeout(refresh, 15000);
    }
  }
  refreshButton.addEventListener("click", refresh);
  onLeave(stop);
  await refresh();
}
