// Desktop notifications while the tab is in the background (the Notification API). Nothing is
// asked on page load: a banner offers it, and "Not now" is remembered.

import { h, icon } from "./dom.js";
import { t } from "./i18n.js";

const DISMISSED = "switchboard.notify.dismissed";

export function supported() {
  return typeof Notification === "function";
}

/** The banner that asks, or null when there is nothing to ask. */
export function offer(onDone) {
  if (!supported() || Notification.permission !== "default" || localStorage.getItem(DISMISSED)) return null;
  const banner = h("div", { class: "notify-offer", id: "notify-offer" },
    icon("bell", 18),
    h("span", {}, t("notify.offer")),
    h("button", { type: "button", class: "btn btn-small btn-primary", onclick: async () => {
      await Notification.requestPermission();
      banner.remove();
      onDone();
    } }, t("notify.enable")),
    h("button", { type: "button", class: "btn btn-small", onclick: () => {
      localStorage.setItem(DISMISSED, "1");
      banner.remove();
      onDone();
    } }, t("notify.later")));
  return banner;
}

/** Shows a notification when the page is hidden; a click brings the conversation up. */
export function show(title, text, tag, onClick) {
  if (!supported() || Notification.permission !== "granted" || !document.hidden) return;
  try {
    const note = new Notification(title, { body: text, tag, icon: document.body.dataset.favicon });
    note.onclick = () => {
      window.focus();
      onClick();
      note.close();
    };
  } catch {
    // Some browsers only allow notifications from a service worker: then there are none.
  }
}
