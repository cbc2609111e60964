// The document viewer: an official opens a document a case in their queue cites. The bytes are fetched with the
// official's bearer token (GET /api/v1/reviews/documents/{id}; a plain link could not carry it), kept only in
// memory as a blob: URL, and shown in a modal dialog: an image in an <img>, a PDF in an <iframe>. Closing the
// dialog revokes the URL. Any other type is refused here too (the service only ever stores PDF, JPEG and PNG),
// so a blob of this origin is never rendered as a page (HTML, SVG).
//
// The page's Content-Security-Policy (gateway.web) allows blob: in img-src, frame-src and object-src for this.

import { t } from "../common/i18n.js";
import { announce, h, problemText, shortId } from "../common/ui.js";
import { api } from "./session.js";

const IMAGES = new Set(["image/png", "image/jpeg"]);
const PDF = "application/pdf";
const EXTENSIONS = { "application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png" };

/**
 * Open the document in the viewer; resolves with the dialog once its content is in place.
 * options: title (what the dialog is called, e.g. the evidence kind), path (another API path for the bytes).
 */
export async function openDocument(documentId, options = {}) {
  const path = options.path || `/api/v1/reviews/documents/${encodeURIComponent(documentId)}`;
  const fetched = await api.request(path, { as: "blob" });
  const type = (fetched.type || "").split(";")[0].trim().toLowerCase();
  if (!IMAGES.has(type) && type !== PDF) throw new Error(t("documents.unsupported"));
  // The blob keeps exactly the type the service named (one of three), whatever else the response said.
  const url = URL.createObjectURL(new Blob([fetched], { type }));
  const title = options.title || t("documents.title", { id: shortId(documentId) });
  const content = IMAGES.has(type)
    ? h("img", { src: url, alt: title, class: "document-image", "data-testid": "document-image" })
    : h("iframe", { src: url, title, class: "document-pdf", "data-testid": "document-pdf" });
  const close = h("button", { type: "button", "data-testid": "document-close" }, t("documents.close"));
  const download = h(
    "a",
    { href: url, download: `${shortId(documentId)}${EXTENSIONS[type]}`, class: "button" },
    t("documents.download"),
  );
  const dialog = h(
    "dialog",
    { class: "document-viewer", "aria-label": title, "data-testid": "document-viewer", "data-document": documentId },
    h("header", {}, h("h2", {}, title), h("div", { class: "toolbar" }, download, close)),
    h("div", { class: "document-body" }, content),
  );
  const opener = document.activeElement;
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    URL.revokeObjectURL(url);
    dialog.remove();
    if (opener instanceof HTMLElement) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  return dialog;
}

/** A "View" button for a piece of evidence that cites a document (none for one that does not). */
export function viewButton(evidence, label) {
  if (!evidence.document_id) return null;
  const button = h(
    "button",
    { type: "button", class: "link", "data-testid": "view-document", "data-document": evidence.document_id },
    t("documents.view"),
  );
  if (label) button.setAttribute("aria-label", `${t("documents.view")}: ${label}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await openDocument(evidence.document_id, { title: label });
    } catch (error) {
      announce(problemText(error), "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
