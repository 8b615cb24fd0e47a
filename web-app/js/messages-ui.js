// A conversation's messages on screen: rendered once per message and updated in place when a
// message changes (edit, recall, ack), so scrolling back and live pushes do not redraw the
// list. Older pages load when the list is scrolled to the top.

import { avatar, confirmDialog, h, icon, toast } from "./dom.js";
import { clock, dayHeading, dayKey, list, size, t } from "./i18n.js";
import { download, fileUrl, lightbox } from "./files.js";
import { cardBody } from "./cards.js";

const GROUP_GAP_MS = 5 * 60 * 1000;

/** Names of people: the contact list first, then the person's own name for themselves. */
export function names(app) {
  return (staff) => {
    if (staff === app.chat.me) return t("chat.you");
    // No sender: the server's own (announcements, the server API).
    if (!staff) return t("chat.system");
    return app.contacts.nameOf(staff) || t("chat.someone");
  };
}

/** One line about a message, for the conversation list and notifications. */
export function preview(app, message) {
  if (!message) return "";
  if (message.recalled) return t("msg.recalled");
  const body = message.body || {};
  switch (message.kind) {
    case "text": return body.text || "";
    case "image": return t("msg.image_preview");
    case "file": return t("msg.file_preview", { name: body.name || "" });
    case "voice": return t("msg.voice_preview");
    case "location": return t("msg.location_preview", { name: body.name || "" });
    case "system": return systemText(app, message);
    case "card": return t("msg.card_preview", { title: body.title || "" });
    default: return t("msg.custom");
  }
}

/** What a system event says, in words. */
export function systemText(app, message) {
  const name = names(app);
  const b = message.body || {};
  const many = (ids) => (Array.isArray(ids) ? list(ids.map(name)) : t("msg.sys.people", { count: ids }));
  switch (b.event) {
    case "group.created": return t("msg.sys.created", { by: name(b.by), name: b.name || "" });
    case "members.added": return t("msg.sys.added", { by: name(b.by), names: many(b.staff || []) });
    case "member.removed": return t("msg.sys.removed", { by: name(b.by), name: name(b.staff) });
    case "member.left": return b.new_owner
      ? t("msg.sys.left_owner", { name: name(b.staff), owner: name(b.new_owner) })
      : t("msg.sys.left", { name: name(b.staff) });
    case "member.updated": return t("msg.sys.updated", { name: name(b.staff) });
    case "group.renamed": return t("msg.sys.renamed", { name: b.name || "" });
    case "announcement": return t("msg.sys.announcement", { text: b.text || "" });
    case "mute_all": return b.on ? t("msg.sys.mute_on") : t("msg.sys.mute_off");
    case "group.dissolved": return t("msg.sys.dissolved", { by: name(b.by) });
    case "department.created": return t("msg.sys.dept_created", { name: b.name || "" });
    case "department.renamed": return t("msg.sys.dept_renamed", { name: b.name || "" });
    case "department.removed": return t("msg.sys.dept_removed", { name: b.name || "" });
    case "members.joined": return t("msg.sys.joined", { names: many(b.staff || []) });
    case "members.left": return t("msg.sys.left_many", { names: many(b.staff || []) });
    default: return b.text || t("msg.sys.other");
  }
}

const ALL_MARKS = ["@所有人", "@Everyone", "@all"];
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

/** Text with links and the @names of mentioned people marked. */
function richText(app, message) {
  const text = message.body?.text || "";
  const mentioned = Array.isArray(message.mentions) ? message.mentions : [];
  const marks = mentioned.map((id) => `@${app.contacts.nameOf(id) || ""}`).filter((m) => m.length > 1);
  // @all as either language writes it (the sender's, not the reader's).
  if (message.mentions === "all") marks.push(`@${t("composer.all")}`, ...ALL_MARKS);
  const out = [];
  let rest = text;
  // Split on links first, then on mentions inside the plain pieces.
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    out.push(...mentionPieces(text.slice(last, match.index), marks, app, message));
    out.push(h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
    last = match.index + match[0].length;
  }
  rest = text.slice(last);
  out.push(...mentionPieces(rest, marks, app, message));
  return out;
}

function mentionPieces(text, marks, app, message) {
  if (!marks.length || !text) return [text];
  const out = [];
  let i = 0;
  while (i < text.length) {
    let best = -1;
    let mark = "";
    for (const m of marks) {
      const at = text.indexOf(m, i);
      if (at !== -1 && (best === -1 || at < best)) {
        best = at;
        mark = m;
      }
    }
    if (best === -1) break;
    out.push(text.slice(i, best));
    const forMe = message.sender !== app.chat.me
      && (message.mentions === "all" || mark === `@${app.contacts.nameOf(app.chat.me)}`);
    out.push(h("span", { class: forMe ? "mention mention-me" : "mention" }, mark));
    i = best + mark.length;
  }
  out.push(text.slice(i));
  return out;
}

function imageBody(body) {
  const max = 240;
  let { width, height } = body;
  if (!(width > 0 && height > 0)) [width, height] = [max, max * 0.66];
  const scale = Math.min(1, max / width, max / height);
  const img = h("img", { alt: body.name || t("msg.image"), width: Math.round(width * scale), height: Math.round(height * scale) });
  fileUrl(body.file_id).then((url) => { img.src = url; }, () => img.classList.add("broken"));
  return h("button", { type: "button", class: "img-thumb", title: body.name || "", onclick: () => lightbox(body.file_id, body.name) }, img);
}

function fileBody(body) {
  return h("button", { type: "button", class: "file-card", onclick: () => download(body.file_id, body.name).catch(() => toast(t("msg.file_gone"), "error")) },
    icon("file", 28),
    h("span", { class: "file-info" }, h("span", { class: "file-name" }, body.name || t("msg.file")), h("span", { class: "file-size" }, size(body.size))),
    icon("download", 18));
}

function bodyOf(app, conv, message) {
  const body = message.body || {};
  if (message.recalled) return h("span", { class: "recalled" }, message.sender === app.chat.me ? t("msg.you_recalled") : t("msg.recalled"));
  switch (message.kind) {
    case "text": return h("div", { class: "text" }, richText(app, message));
    case "image": return imageBody(body);
    case "file": return fileBody(body);
    case "voice": {
      const audio = h("audio", { controls: true, preload: "none" });
      fileUrl(body.file_id).then((url) => { audio.src = url; }, () => {});
      return audio;
    }
    case "location": return h("div", { class: "text" }, t("msg.location", { name: body.name || "", lat: body.lat, lng: body.lng }));
    case "card": return cardBody(app, conv, message);
    default: return h("div", { class: "text muted" }, t("msg.custom"));
  }
}

export class MessageList {
  constructor(app, conv, { onEdit }) {
    this.app = app;
    this.conv = conv;
    this.onEdit = onEdit;
    this.rows = new Map();
    this.groupReads = null;
    this.el = h("div", { class: "messages", id: "messages", tabindex: "0", role: "log", "aria-live": "polite", onscroll: () => this.onScroll() },
      this.top = h("div", { class: "messages-top" }),
      this.body = h("div", { class: "messages-body" }));
  }

  onScroll() {
    if (this.el.scrollTop < 80) this.older();
  }

  async older() {
    if (this.conv.complete || this.conv.loadingOlder) return;
    try {
      await this.app.chat.loadOlder(this.conv);
    } catch {
      toast(t("error.network"), "error");
    }
  }

  /** The rows as they should be now. */
  desired() {
    const chat = this.app.chat;
    const out = [];
    let prev = null;
    const push = (key, message, pending) => {
      if (message.kind === "edit" || message.kind === "recall" || message.kind === "card_update") return;
      const day = dayKey(message.ts);
      const newDay = !prev || dayKey(prev.ts) !== day;
      const system = message.kind === "system";
      const head = system || newDay || !prev || prev.kind === "system" || prev.sender !== message.sender || message.ts - prev.ts > GROUP_GAP_MS;
      out.push({ key, message, pending, newDay, head });
      prev = message;
    };
    for (const m of this.conv.messages) push(`s${m.seq}`, m, null);
    for (const p of chat.pendingOf(this.conv.id).sort((a, b) => a.ts - b.ts)) {
      push(`p${p.client_msg_id}`, { ...p, sender: chat.me, mentions: p.mention_all ? "all" : p.mentions }, p);
    }
    return out;
  }

  /** On screen now: start at the newest message. */
  shown() {
    this.el.scrollTop = this.el.scrollHeight;
    this.update();
  }

  /** Draws every message anew (names changed: the contact list arrived or was edited). */
  redraw() {
    this.rows.clear();
    this.body.replaceChildren();
    this.update();
  }

  /** Brings the DOM in line with the conversation. */
  update({ older = false, sent = false } = {}) {
    const el = this.el;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    const prevHeight = el.scrollHeight;
    const prevTop = el.scrollTop;
    const rows = this.desired();
    const mine = [...rows].reverse().find((r) => r.message.sender === this.app.chat.me && !r.pending && !r.message.recalled);
    this.lastMine = mine ? mine.message.seq : null;
    const keep = new Set();
    let cursor = this.body.firstChild;
    for (const row of rows) {
      keep.add(row.key);
      const sig = `${row.message.rev || 0}|${row.head}|${row.newDay}|${row.pending ? (row.pending.failed ? "f" : "p") : "s"}|${this.readMark(row)}`;
      let entry = this.rows.get(row.key);
      if (!entry || entry.sig !== sig) {
        const node = this.render(row);
        if (entry) {
          if (entry.el === cursor) cursor = node;
          entry.el.replaceWith(node);
        }
        entry = { el: node, sig };
        this.rows.set(row.key, entry);
      }
      if (entry.el !== cursor) this.body.insertBefore(entry.el, cursor);
      else cursor = cursor.nextSibling;
    }
    for (const [key, entry] of this.rows) {
      if (!keep.has(key)) {
        entry.el.remove();
        this.rows.delete(key);
      }
    }
    this.top.replaceChildren(this.conv.complete
      ? h("div", { class: "history-start" }, t("chat.history_start"))
      : h("div", { class: "history-more" }, t("chat.loading_older")));
    if (older) el.scrollTop = prevTop + (el.scrollHeight - prevHeight);
    else if (atBottom || sent) el.scrollTop = el.scrollHeight;
    // Too few messages to scroll: fetch more right away (once on screen: before, nothing has a
    // height).
    if (!this.conv.complete && el.isConnected && el.clientHeight > 0 && el.scrollHeight <= el.clientHeight + 80) this.older();
    this.refreshGroupReads();
  }

  /** What the read receipt under my last message says (direct chats and groups). */
  readMark(row) {
    if (row.pending || row.message.seq !== this.lastMine) return "";
    if (this.conv.kind === "direct") return this.conv.peerRead >= row.message.seq ? "read" : "unread";
    if (this.groupReads && this.groupReads.seq === row.message.seq) return `${this.groupReads.read}/${this.groupReads.members}`;
    return "";
  }

  async refreshGroupReads() {
    if (this.conv.kind === "direct" || !this.lastMine) return;
    if (this.groupReads?.seq === this.lastMine && Date.now() - this.groupReads.at < 15000) return;
    const seq = this.lastMine;
    this.groupReads = { seq, read: 0, members: 0, at: Date.now() };
    try {
      const counts = await this.app.api.get(`/api/v1/im/conversations/${this.conv.id}/reads?seq=${seq}`);
      this.groupReads = { seq, ...counts, at: Date.now() };
      this.update();
    } catch {
      // Receipts are a nicety.
    }
  }

  render(row) {
    const { message, pending } = row;
    const app = this.app;
    const day = row.newDay ? h("div", { class: "day" }, h("span", {}, dayHeading(message.ts))) : null;
    if (message.kind === "system") {
      return h("div", { class: "msg msg-system", data: { seq: message.seq } }, day, h("div", { class: "system-text" }, systemText(app, message)));
    }
    const mine = message.sender === app.chat.me;
    // An app's card names its app: apps are not people.
    const who = message.kind === "card" ? message.body?.app?.name || t("appcard.app") : names(app)(message.sender);
    const classes = ["msg", mine ? "mine" : "theirs", row.head ? "head" : "", pending ? "pending" : "", pending?.failed ? "failed" : ""].filter(Boolean).join(" ");
    const foot = [];
    if (message.edited_at && !message.recalled && message.kind !== "card") foot.push(h("span", { class: "edited" }, t("msg.edited")));
    const mark = this.readMark(row);
    if (mark === "read") foot.push(h("span", { class: "receipt read" }, t("msg.read")));
    else if (mark === "unread") foot.push(h("span", { class: "receipt" }, t("msg.delivered")));
    else if (mark) {
      const [read, members] = mark.split("/");
      foot.push(h("span", { class: "receipt" }, t("msg.read_count", { read, members })));
    }
    if (pending && !pending.failed) foot.push(h("span", { class: "sending" }, t("msg.sending")));
    if (pending?.failed) {
      foot.push(h("span", { class: "failed-text" }, t("msg.failed", { reason: pending.failed.message || pending.failed.code })),
        h("button", { type: "button", class: "link", onclick: () => app.chat.retry(pending.client_msg_id) }, t("msg.retry")),
        h("button", { type: "button", class: "link", onclick: () => app.chat.discard(pending.client_msg_id) }, t("msg.discard")));
    }
    return h("div", { class: classes, data: pending ? { cmid: pending.client_msg_id } : { seq: message.seq } },
      day,
      h("div", { class: "msg-row" },
        mine ? null : row.head ? avatar(who, message.sender || message.body?.app?.id, "avatar-sm") : h("span", { class: "avatar-gap" }),
        h("div", { class: "msg-col" },
          row.head ? h("div", { class: "msg-meta" }, mine ? null : h("span", { class: "msg-name" }, who), h("time", { class: "msg-time" }, clock(message.ts))) : null,
          h("div", { class: `bubble kind-${message.kind}${message.recalled ? " is-recalled" : ""}` }, bodyOf(app, this.conv, message)),
          foot.length ? h("div", { class: "msg-foot" }, foot) : null),
        pending ? null : this.actions(message, mine)));
  }

  actions(message, mine) {
    if (message.recalled || message.kind === "card") return null;
    const age = Date.now() - message.ts;
    const manager = this.conv.role === "owner" || this.conv.role === "admin";
    const buttons = [];
    const windows = this.app.chat.windows;
    if (mine && message.kind === "text" && age < windows.edit) {
      buttons.push(h("button", { type: "button", class: "icon-btn act-edit", title: t("msg.edit"), "aria-label": t("msg.edit"), onclick: () => this.onEdit(message) }, icon("edit", 16)));
    }
    if ((mine && age < windows.recall) || (manager && this.conv.kind === "group")) {
      buttons.push(h("button", { type: "button", class: "icon-btn act-recall", title: t("msg.recall"), "aria-label": t("msg.recall"), onclick: () => this.recall(message) }, icon("undo", 16)));
    }
    return buttons.length ? h("div", { class: "msg-actions" }, buttons) : null;
  }

  async recall(message) {
    const sure = await confirmDialog(t("msg.recall"), t("msg.recall_confirm"), t("msg.recall"), t("action.cancel"));
    if (!sure) return;
    try {
      await this.app.chat.change(this.conv, message.seq, "recall");
    } catch (error) {
      toast(error.code === "forbidden" ? t("msg.recall_too_late") : error.message || t("error.network"), "error");
    }
  }
}
