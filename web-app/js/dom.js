// Building the page without innerHTML: every piece of data becomes a text node, so a name like
// "<script>" is shown as typed and never parsed as markup.

/** An element: h("div", {class: "x", onclick: fn, data: {id: 1}}, "text", child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "data") for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "style") {
      // Through the CSSOM: the CSP (style-src 'self') refuses style attributes, not this.
      for (const rule of String(value).split(";")) {
        const at = rule.indexOf(":");
        if (at > 0) el.style.setProperty(rule.slice(0, at).trim(), rule.slice(at + 1).trim());
      }
    }
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Icons: constant markup (never data), 24x24 outline paths.
const PATHS = {
  chat: "M4 5h16v11H8l-4 4z",
  contacts: "M16 19v-1a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4v1M9.5 10a3 3 0 1 0 0-6 3 3 0 0 0 0 6M21 19v-1a4 4 0 0 0-3-3.9M16 4.1a3 3 0 0 1 0 5.8",
  search: "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM20 20l-4-4",
  send: "M4 12l16-8-6 16-2-7z",
  image: "M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15 9.5a1 1 0 1 0 0-.1",
  file: "M7 3h7l5 5v13H7zM14 3v5h5",
  back: "M15 5l-7 7 7 7",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  close: "M6 6l12 12M18 6L6 18",
  group: "M12 12a3 3 0 1 0 0-6 3 3 0 0 0 0 6M5 20v-1a4 4 0 0 1 4-4h6a4 4 0 0 1 4 4v1M5 10a2 2 0 1 0 0-.1M19 10a2 2 0 1 0 0-.1",
  plus: "M12 5v14M5 12h14",
  bell: "M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0",
  out: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
  globe: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM3 12h18M12 3a14 14 0 0 1 0 18M12 3a14 14 0 0 0 0 18",
  edit: "M4 20h4L19 9l-4-4L4 16zM14 6l4 4",
  undo: "M9 14L4 9l5-5M4 9h10a6 6 0 0 1 0 12h-3",
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
  folder: "M3 6h6l2 2h10v11H3z",
  chevron: "M9 6l6 6-6 6",
  check: "M5 12l5 5 9-10",
  leave: "M15 4h4v16h-4M14 12H4M8 8l-4 4 4 4",
};

const SVG = "http://www.w3.org/2000/svg";

/** An icon as an SVG element. */
export function icon(name, size = 20) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", size);
  svg.setAttribute("height", size);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[name] || "");
  svg.appendChild(path);
  return svg;
}

const COLORS = ["#3b6ef5", "#0f9d8a", "#e0772b", "#8b5cf6", "#d9487d", "#2f8fd8", "#6b8e23", "#c2410c"];

/** A round avatar with the first character of a name, its colour derived from an id. */
export function avatar(name, id, extraClass = "") {
  let hash = 0;
  for (const ch of String(id || name || "")) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  const initial = Array.from(String(name || "?").trim())[0] || "?";
  const el = h("span", { class: `avatar ${extraClass}`.trim(), "aria-hidden": "true" }, initial.toUpperCase());
  el.style.setProperty("--avatar", COLORS[hash % COLORS.length]);
  return el;
}

/** A short-lived message at the bottom of the window. */
export function toast(text, kind = "info") {
  let box = document.getElementById("toasts");
  if (!box) {
    box = h("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(box);
  }
  const el = h("div", { class: `toast toast-${kind}` }, text);
  box.appendChild(el);
  setTimeout(() => el.remove(), 4000);
}

/** A modal dialog; resolves with what `build` passes to `done` (or null when dismissed). */
export function dialog(title, build) {
  return new Promise((resolve) => {
    const close = (value) => {
      overlay.remove();
      document.removeEventListener("keydown", onKey);
      resolve(value);
    };
    const onKey = (e) => {
      if (e.key === "Escape") close(null);
    };
    const box = h("div", { class: "dialog", role: "dialog", "aria-modal": "true", "aria-label": title },
      h("h2", { class: "dialog-title" }, title));
    const overlay = h("div", { class: "overlay", onclick: (e) => { if (e.target === overlay) close(null); } }, box);
    build(box, close);
    document.body.appendChild(overlay);
    document.addEventListener("keydown", onKey);
    const focus = box.querySelector("input, textarea, button.btn-primary");
    if (focus) focus.focus();
  });
}

/** Asks a yes/no question. */
export function confirmDialog(title, text, yes, no) {
  return dialog(title, (box, done) => {
    box.append(
      h("p", {}, text),
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", onclick: () => done(false) }, no),
        h("button", { type: "button", class: "btn btn-primary", id: "confirm-yes", onclick: () => done(true) }, yes)));
  });
}
