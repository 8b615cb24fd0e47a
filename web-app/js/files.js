// Files of conversations: downloads need the bearer token, so pictures are fetched and shown
// from blob: URLs (the page's CSP allows blob: images for exactly this), cached per file.

import { blob, upload } from "./api.js";
import { h, icon } from "./dom.js";
import { t } from "./i18n.js";

const urls = new Map();

/** An object URL for a file (fetched once per page). */
export function fileUrl(fileId) {
  if (!urls.has(fileId)) {
    const promise = blob(`/api/v1/im/files/${encodeURIComponent(fileId)}`).then((b) => URL.createObjectURL(b));
    promise.catch(() => urls.delete(fileId));
    urls.set(fileId, promise);
  }
  return urls.get(fileId);
}

/** Saves a file under its name. */
export async function download(fileId, name) {
  const url = await fileUrl(fileId);
  const a = h("a", { href: url, download: name || "file" });
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** The picture full size over the page; Escape or a click closes it. */
export function lightbox(fileId, name) {
  const img = h("img", { alt: name || "", class: "lightbox-img" });
  const close = () => {
    overlay.remove();
    document.removeEventListener("keydown", onKey);
  };
  const onKey = (e) => {
    if (e.key === "Escape") close();
  };
  const overlay = h("div", { class: "overlay lightbox", role: "dialog", "aria-modal": "true", "aria-label": name || t("msg.image"), onclick: (e) => { if (e.target === overlay || e.target === img) close(); } },
    img,
    h("div", { class: "lightbox-bar" },
      h("span", { class: "lightbox-name" }, name || ""),
      h("button", { type: "button", class: "btn btn-light", onclick: () => download(fileId, name) }, icon("download", 16), t("msg.download")),
      h("button", { type: "button", class: "btn btn-light", id: "lightbox-close", onclick: close }, icon("close", 16), t("action.close"))));
  document.body.appendChild(overlay);
  document.addEventListener("keydown", onKey);
  fileUrl(fileId).then((url) => { img.src = url; }, () => { img.alt = t("msg.file_gone"); });
}

/** Width and height of a picture file (for the message body, so the bubble keeps its size). */
export function imageSize(file) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => {
      resolve({ width: img.naturalWidth, height: img.naturalHeight });
      URL.revokeObjectURL(url);
    };
    img.onerror = () => {
      resolve({});
      URL.revokeObjectURL(url);
    };
    img.src = url;
  });
}

/** Lets the person choose a file. */
export function pick(accept) {
  return new Promise((resolve) => {
    const input = h("input", { type: "file", accept: accept || undefined, class: "hidden-input" });
    input.addEventListener("change", () => {
      resolve(input.files[0] || null);
      input.remove();
    });
    document.body.appendChild(input);
    input.click();
  });
}

/** Uploads a file and returns the message body that refers to it. */
export async function bodyFor(conversation, file, asImage) {
  const info = await upload(conversation, file);
  if (asImage) return { kind: "image", body: { file_id: info.id, name: info.name, ...(await imageSize(file)) } };
  return { kind: "file", body: { file_id: info.id, name: info.name, size: info.size } };
}
