// Cards from apps (kind "card"): title, text, fields, an image, and action buttons. Pressing
// one asks the action's confirmation and takes its comment where it offers them, sends an
// `action` frame, and the card's new state arrives as a `card_update` event for every device.
// A closed card shows who decided and when, and no buttons.

import { confirmDialog, dialog, h, toast } from "./dom.js";
import { clock, dayHeading, t } from "./i18n.js";

/** Asks for an optional comment; resolves with the text ("" for none) or null when cancelled. */
function commentDialog(action) {
  return dialog(action.label, (box, done) => {
    const input = h("textarea", { id: "card-comment", rows: 3, maxlength: 500, placeholder: t("appcard.comment_placeholder") });
    box.append(
      h("label", { for: "card-comment" }, t("appcard.comment")),
      input,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", onclick: () => done(null) }, t("action.cancel")),
        h("button", { type: "button", class: "btn btn-primary", id: "card-comment-send", onclick: () => done(input.value.trim()) }, action.label)));
    setTimeout(() => input.focus(), 0);
  });
}

function when(ts) {
  return `${dayHeading(ts)} ${clock(ts)}`;
}

async function press(app, conv, message, action) {
  let comment = null;
  if (action.comment) {
    comment = await commentDialog(action);
    if (comment === null) return;
  } else if (action.confirm) {
    const sure = await confirmDialog(action.label, action.confirm, action.label, t("action.cancel"));
    if (!sure) return;
  }
  if (action.comment && action.confirm) {
    const sure = await confirmDialog(action.label, action.confirm, action.label, t("action.cancel"));
    if (!sure) return;
  }
  try {
    await app.chat.act(conv, message.seq, action.id, comment || undefined);
  } catch (error) {
    const known = { card_closed: "appcard.error.closed", already_answered: "appcard.error.answered" };
    toast(known[error.code] ? t(known[error.code]) : error.message || t("error.network"), "error");
  }
}

/** The bubble of a card message. */
export function cardBody(app, conv, message) {
  const b = message.body || {};
  const me = app.chat.me;
  const mine = (b.responses || []).find((r) => r.staff === me);
  const closed = b.closed;
  const parts = [
    h("div", { class: "card-app" }, h("span", { class: "card-app-badge" }, t("appcard.app")), b.app?.name || ""),
    h("div", { class: "card-title" }, b.title || ""),
  ];
  if (b.text) parts.push(h("div", { class: "card-text" }, b.text));
  if (Array.isArray(b.fields) && b.fields.length) {
    parts.push(h("dl", { class: "card-fields" }, b.fields.flatMap((f) => [h("dt", {}, f.label), h("dd", {}, f.value)])));
  }
  if (b.image) parts.push(h("img", { class: "card-image", src: b.image, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }));
  if (closed) {
    const text = closed.by
      ? t("appcard.decided", { name: closed.by === me ? t("chat.you") : closed.by_name || t("chat.someone"), action: closed.label || closed.action, time: when(closed.at) })
      : t("appcard.closed", { time: when(closed.at) });
    parts.push(h("div", { class: "card-state card-closed", role: "status" }, text));
    if (closed.comment) parts.push(h("div", { class: "card-comment-shown" }, `“${closed.comment}”`));
  } else if (mine) {
    parts.push(h("div", { class: "card-state card-answered", role: "status" }, t("appcard.you_answered", { action: mine.label, time: when(mine.at) })));
  } else if (Array.isArray(b.actions) && b.actions.length) {
    parts.push(h("div", { class: "card-actions" }, b.actions.map((a, i) => h("button", {
      type: "button",
      class: `btn btn-small ${i === 0 ? "btn-primary" : ""} card-action`,
      data: { action: a.id },
      onclick: () => press(app, conv, message, a),
    }, a.label))));
  }
  if (b.decision === "per_person" && b.response_count > 0) {
    parts.push(h("div", { class: "card-count muted" }, t("appcard.responses", { count: b.response_count })));
  }
  return h("div", { class: `card-msg${closed ? " is-closed" : ""}`, data: { card: b.card_id || "" } }, parts);
}
