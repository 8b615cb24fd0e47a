// The messaging model (docs/protocol.md): conversations with their messages, the outbox of
// messages not yet acknowledged (kept in IndexedDB and resent with the same client_msg_id after
// any reconnect or reload, so nothing is stored twice), read positions, typing and presence.
// `sync` with the last seq of every conversation catches up after a reconnect; a seq already
// here is never added twice. The UI listens to "change" events and reads the state.

import { get } from "./api.js";

/** Error codes after which the same frame may succeed later (docs/protocol.md, "error"). */
const RETRYABLE = new Set(["overloaded", "shutting_down", "internal", "rate_limited"]);
/** Kinds that are events about other messages, not messages. */
const EVENTS = new Set(["edit", "recall", "card_update"]);
const HISTORY_PAGE = 30;

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class Chat extends EventTarget {
  constructor({ me, socket, store }) {
    super();
    this.me = me;
    this.socket = socket;
    this.store = store;
    this.conversations = new Map();
    this.outbox = new Map();
    this.presence = new Map();
    this.active = null;
    this.synced = false;
    this.typingSent = new Map();
    // The recall and edit windows (docs/protocol.md, welcome); the defaults until told.
    this.windows = { recall: 120000, edit: 86400000 };
    socket.addEventListener("welcome", (e) => {
      const w = e.detail;
      if (Number.isFinite(w.recall_window_secs)) this.windows.recall = w.recall_window_secs * 1000;
      if (Number.isFinite(w.edit_window_secs)) this.windows.edit = w.edit_window_secs * 1000;
      this.catchUp();
    });
    socket.addEventListener("frame", (e) => this.onFrame(e.detail));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.active) this.markRead(this.active);
    });
  }

  changed(what = {}) {
    this.dispatchEvent(new CustomEvent("change", { detail: what }));
  }

  /** Loads the messages that were waiting for an ack when the page was last closed. */
  async loadOutbox() {
    for (const item of await this.store.outbox()) {
      item.inflight = false;
      this.outbox.set(item.client_msg_id, item);
    }
  }

  conv(id) {
    let conv = this.conversations.get(id);
    if (!conv) {
      conv = {
        id, kind: "group", name: "", members: 0, last_seq: 0, read_seq: 0, unread: 0, mention: false,
        messages: [], bySeq: new Map(), complete: false, info: null, typing: new Map(), peerRead: 0, known: false,
      };
      this.conversations.set(id, conv);
    }
    return conv;
  }

  /** Conversations newest first. */
  list() {
    const time = (c) => Math.max(c.last_message?.ts || 0, ...this.pendingOf(c.id).map((p) => p.ts), c.createdHere || 0);
    return [...this.conversations.values()].filter((c) => c.known).sort((a, b) => time(b) - time(a));
  }

  pendingOf(id) {
    return [...this.outbox.values()].filter((p) => p.conversation === id);
  }

  totalUnread() {
    let total = 0;
    for (const c of this.conversations.values()) if (c.known && !c.muted) total += c.unread || 0;
    return total;
  }

  lastSeq(conv) {
    return conv.messages.length ? conv.messages[conv.messages.length - 1].seq : 0;
  }

  // ---- catching up -------------------------------------------------------------------------

  /** After every (re)connect: what was missed, the list, then what was not acknowledged. */
  async catchUp() {
    try {
      let truncated;
      do {
        const cursors = {};
        for (const conv of this.conversations.values()) if (conv.messages.length) cursors[conv.id] = this.lastSeq(conv);
        truncated = false;
        const done = await this.socket.request({ type: "sync", cursors, recent: 30 }, {
          last: "sync.done",
          timeout: 120000,
          collect: (frame) => {
            if (frame.type !== "messages") return;
            if (frame.truncated) truncated = true;
            const conv = this.conv(frame.conversation);
            for (const item of frame.items) this.insert(conv, item);
          },
        });
        this.applySummaries(done.conversations);
      } while (truncated);
    } catch (error) {
      // The connection broke mid-sync (or the server did not answer): start over on a new one.
      if (this.socket.ws) this.socket.ws.close(4000, "sync failed");
      return;
    }
    this.synced = true;
    for (const item of this.outbox.values()) this.flush(item);
    if (this.active) this.markRead(this.active);
    this.askPresence([...this.conversations.values()].filter((c) => c.peer).map((c) => c.peer));
    this.changed({ list: true });
    this.dispatchEvent(new Event("synced"));
  }

  /** A conversation list from the server (sync.done, conversations): the truth about unread. */
  applySummaries(items) {
    const seen = new Set();
    for (const summary of items) {
      seen.add(summary.id);
      const conv = this.conv(summary.id);
      const newer = this.lastSeq(conv) > summary.last_seq;
      const { unread, mention, read_seq: readSeq, last_message: last, ...rest } = summary;
      Object.assign(conv, rest, { known: true });
      conv.last_seq = Math.max(summary.last_seq, this.lastSeq(conv));
      if (!newer) {
        conv.unread = unread;
        conv.mention = mention;
        conv.last_message = last;
      }
      conv.read_seq = Math.max(conv.read_seq || 0, readSeq);
      if (last) this.insert(conv, last);
    }
    for (const [id, conv] of this.conversations) {
      if (!seen.has(id) && !conv.createdHere) this.conversations.delete(id);
    }
  }

  /** Asks for the list again (after a read on another device, or a conversation we do not know). */
  async refreshList() {
    if (!this.socket.online) return;
    try {
      const reply = await this.socket.request({ type: "conversations" });
      this.applySummaries(reply.items);
      this.changed({ list: true });
    } catch {
      // The next sync brings it.
    }
  }

  // ---- frames ------------------------------------------------------------------------------

  onFrame(frame) {
    switch (frame.type) {
      case "message":
        return this.onMessage(frame);
      case "ack":
        return this.acked(frame);
      case "read":
        return this.onRead(frame);
      case "typing":
        return this.onTyping(frame);
      case "presence":
        for (const item of frame.items || []) this.presence.set(item.staff, item.online);
        return this.changed({ presence: true });
      case "contacts.changed":
        return this.dispatchEvent(new CustomEvent("contacts", { detail: frame.version }));
      default:
        return undefined;
    }
  }

  onMessage(frame) {
    const { type, ...message } = frame;
    const conv = this.conv(message.conversation);
    const isNew = !conv.known;
    const last = this.lastSeq(conv);
    if (last && message.seq > last + 1) this.fillGap(conv, last);
    if (!this.insert(conv, message)) return;
    conv.last_seq = Math.max(conv.last_seq, message.seq);
    if (!EVENTS.has(message.kind)) conv.last_message = message;
    // Notices from back-end systems have no sender: they count as unread too.
    const fromOther = message.sender !== this.me;
    if (fromOther && !EVENTS.has(message.kind) && message.kind !== "system") {
      if (this.isReading(conv)) this.markRead(conv);
      else {
        conv.unread = (conv.unread || 0) + 1;
        if (this.mentionsMe(message)) conv.mention = true;
      }
      conv.typing.delete(message.sender);
      this.dispatchEvent(new CustomEvent("incoming", { detail: { conv, message } }));
    }
    if (message.kind === "system") this.onSystem(conv, message);
    if (isNew) this.refreshList();
    this.changed({ conversation: conv.id, list: true });
  }

  mentionsMe(message) {
    return message.mentions === "all" || (Array.isArray(message.mentions) && message.mentions.includes(this.me));
  }

  onSystem(conv, message) {
    conv.info = null; // members or settings changed: fetch again when needed
    const event = message.body?.event;
    const gone = (event === "member.removed" && message.body.staff === this.me)
      || (event === "member.left" && message.body.staff === this.me);
    if (gone || event === "group.dissolved") this.refreshList();
  }

  /** Adds a message or event; false when that seq is already here unchanged. */
  insert(conv, message) {
    const existing = conv.bySeq.get(message.seq);
    if (existing) {
      // The same seq again (a history page overlapping the live stream): keep the newer state.
      if (message.recalled && !existing.recalled) Object.assign(existing, message, { rev: (existing.rev || 0) + 1 });
      if (message.edited_at && message.edited_at !== existing.edited_at) Object.assign(existing, message, { rev: (existing.rev || 0) + 1 });
      return false;
    }
    const entry = { ...message, rev: 0 };
    conv.bySeq.set(entry.seq, entry);
    const list = conv.messages;
    if (!list.length || list[list.length - 1].seq < entry.seq) list.push(entry);
    else {
      let i = list.length;
      while (i > 0 && list[i - 1].seq > entry.seq) i--;
      list.splice(i, 0, entry);
    }
    if (EVENTS.has(entry.kind)) this.applyEvent(conv, entry);
    // A message of ours that was stored before its ack got lost: it is acknowledged now.
    if (entry.sender === this.me && entry.client_msg_id && this.outbox.has(entry.client_msg_id)) {
      this.dropPending(entry.client_msg_id);
    }
    return true;
  }

  applyEvent(conv, event) {
    const target = conv.bySeq.get(event.ref_seq);
    if (!target) return;
    if (event.kind === "recall") Object.assign(target, { recalled: true, body: null });
    // A card's new state (an action, the app's change, closed) replaces it whole.
    else if (event.kind === "card_update") Object.assign(target, { body: event.body });
    else if (!target.recalled) Object.assign(target, { body: event.body, edited_at: event.ts });
    target.rev = (target.rev || 0) + 1;
  }

  async fillGap(conv, after) {
    try {
      const items = await get(`/api/v1/im/conversations/${conv.id}/messages?after=${after}&limit=500`);
      for (const item of items) this.insert(conv, item);
      this.changed({ conversation: conv.id });
    } catch {
      // The next sync fills it.
    }
  }

  onRead(frame) {
    const conv = this.conversations.get(frame.conversation);
    if (!conv) return;
    if (frame.staff === this.me) {
      conv.read_seq = Math.max(conv.read_seq || 0, frame.seq);
      if (conv.read_seq >= conv.last_seq) {
        conv.unread = 0;
        conv.mention = false;
      } else this.refreshList();
    } else {
      conv.peerRead = Math.max(conv.peerRead || 0, frame.seq);
      const member = conv.info?.members?.find((m) => m.staff === frame.staff);
      if (member) member.read_seq = Math.max(member.read_seq, frame.seq);
    }
    this.changed({ conversation: conv.id, list: true });
  }

  onTyping(frame) {
    const conv = this.conversations.get(frame.conversation);
    if (!conv || frame.staff === this.me) return;
    conv.typing.set(frame.staff, Date.now() + 6000);
    this.changed({ conversation: conv.id, typing: true });
    setTimeout(() => this.changed({ conversation: conv.id, typing: true }), 6100);
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Queues a message; it shows at once as pending and is sent whenever we are online. */
  async send(conversation, kind, body, { mentions = [], mentionAll = false } = {}) {
    const item = {
      client_msg_id: `web-${uuid()}`, conversation, kind, body, mentions, mention_all: mentionAll,
      ts: Date.now(), failed: null,
    };
    this.outbox.set(item.client_msg_id, item);
    await this.store.putOutbox(item);
    this.changed({ conversation, list: true, sent: true });
    this.flush(item);
    return item;
  }

  flush(item) {
    if (item.inflight || item.failed || !this.synced || !this.socket.online) return;
    item.inflight = true;
    const { client_msg_id: id, conversation, kind, body, mentions, mention_all: all } = item;
    const frame = { type: "send", client_msg_id: id, conversation, kind, body };
    if (mentions && mentions.length) frame.mentions = mentions;
    if (all) frame.mention_all = true;
    this.socket.request(frame, { accepts: (f) => f.type === "ack" || f.type === "error" })
      .then((ack) => this.acked(ack))
      .catch((error) => {
        item.inflight = false;
        if (error.code && !RETRYABLE.has(error.code)) {
          item.failed = { code: error.code, message: error.message };
          this.changed({ conversation });
        } else if (this.socket.online) {
          setTimeout(() => this.flush(item), 2000);
        }
        // Otherwise: the reconnect's catch-up sends it again, same client_msg_id.
      });
  }

  /** An ack for a send: the pending message becomes the stored one. */
  acked(ack) {
    const item = this.outbox.get(ack.client_msg_id);
    if (!item) return;
    const conv = this.conv(ack.conversation);
    this.insert(conv, {
      conversation: ack.conversation, seq: ack.seq, msg_id: ack.msg_id, sender: this.me,
      client_msg_id: ack.client_msg_id, kind: item.kind, body: item.body,
      mentions: item.mention_all ? "all" : item.mentions?.length ? item.mentions : undefined, ts: ack.ts,
    });
    this.dropPending(ack.client_msg_id);
    conv.last_seq = Math.max(conv.last_seq, ack.seq);
    conv.last_message = conv.bySeq.get(ack.seq);
    if (this.isReading(conv)) this.markRead(conv);
    this.changed({ conversation: conv.id, list: true });
  }

  dropPending(id) {
    this.outbox.delete(id);
    this.store.deleteOutbox(id).catch(() => {});
  }

  retry(id) {
    const item = this.outbox.get(id);
    if (!item) return;
    item.failed = null;
    this.flush(item);
    this.changed({ conversation: item.conversation });
  }

  discard(id) {
    const item = this.outbox.get(id);
    this.dropPending(id);
    if (item) this.changed({ conversation: item.conversation, list: true });
  }

  /** Presses a card's action; the card's new state follows as a `card_update` event. */
  async act(conv, seq, action, comment) {
    const frame = { type: "action", conversation: conv.id, seq, action };
    if (comment) frame.comment = comment;
    await this.socket.request(frame, { accepts: (f) => f.type === "ack" || f.type === "error" });
  }

  /** Edits or recalls a message (`kind`: "edit" | "recall"); rejects with the server's error. */
  async change(conv, seq, kind, text) {
    const frame = kind === "edit"
      ? { type: "edit", conversation: conv.id, seq, body: { text } }
      : { type: "recall", conversation: conv.id, seq };
    const ack = await this.socket.request(frame, { accepts: (f) => f.type === "ack" || f.type === "error" });
    const body = kind === "edit" ? { text } : { seq };
    this.insert(conv, { conversation: conv.id, seq: ack.seq, msg_id: ack.msg_id, sender: this.me, kind, body, ref_seq: seq, ts: ack.ts });
    conv.last_seq = Math.max(conv.last_seq, ack.seq);
    this.changed({ conversation: conv.id, list: true });
  }

  // ---- reading -----------------------------------------------------------------------------

  /** The conversation on screen (null: none). */
  setActive(id) {
    this.active = id ? this.conv(id) : null;
    if (this.active) this.markRead(this.active);
  }

  isReading(conv) {
    return this.active === conv && !document.hidden;
  }

  markRead(conv) {
    const seq = Math.max(this.lastSeq(conv), 0);
    const changed = conv.unread || conv.mention;
    conv.unread = 0;
    conv.mention = false;
    if (seq > (conv.read_seq || 0) && this.socket.send({ type: "read", conversation: conv.id, seq })) conv.read_seq = seq;
    if (changed) this.changed({ list: true });
  }

  /** Older messages (scrolling back); resolves false when there are none. */
  async loadOlder(conv) {
    if (conv.complete || conv.loadingOlder) return false;
    const first = conv.messages[0];
    const before = first ? first.seq : conv.last_seq + 1;
    if (before <= 1) {
      conv.complete = true;
      return false;
    }
    conv.loadingOlder = true;
    try {
      const items = await get(`/api/v1/im/conversations/${conv.id}/messages?before=${before}&limit=${HISTORY_PAGE}`);
      for (const item of items) this.insert(conv, item);
      if (items.length < HISTORY_PAGE) conv.complete = true;
      this.changed({ conversation: conv.id, older: true });
      return items.length > 0;
    } finally {
      conv.loadingOlder = false;
    }
  }

  /** Members and read positions (GET /api/v1/im/conversations/{id}), cached until a change. */
  async info(conv) {
    if (conv.info) return conv.info;
    conv.info = await get(`/api/v1/im/conversations/${conv.id}`);
    if (conv.peer) {
      const peer = conv.info.members.find((m) => m.staff === conv.peer);
      if (peer) conv.peerRead = Math.max(conv.peerRead || 0, peer.read_seq);
    }
    return conv.info;
  }

  typing(conv) {
    const last = this.typingSent.get(conv.id) || 0;
    if (Date.now() - last < 3000) return;
    if (this.socket.send({ type: "typing", conversation: conv.id })) this.typingSent.set(conv.id, Date.now());
  }

  /** People typing in a conversation now. */
  typists(conv) {
    const now = Date.now();
    return [...conv.typing].filter(([, until]) => until > now).map(([staff]) => staff);
  }

  async askPresence(staff) {
    const ids = [...new Set(staff)].filter(Boolean);
    if (!ids.length || !this.socket.online) return;
    try {
      const reply = await this.socket.request({ type: "presence", staff: ids });
      for (const item of reply.items || []) this.presence.set(item.staff, item.online);
      this.changed({ presence: true });
    } catch {
      // Presence is a nicety: the next push or sync brings it.
    }
  }

  /** Makes sure a conversation we just created or opened is in the list. */
  async adopt(id) {
    const conv = this.conv(id);
    if (!conv.known) {
      await this.refreshList();
      if (!conv.known) {
        const info = await this.info(conv);
        Object.assign(conv, { kind: info.kind, name: info.name, members: info.members.length, last_seq: info.last_seq, known: true, createdHere: Date.now() });
        if (info.kind === "direct") conv.peer = info.members.find((m) => m.staff !== this.me)?.staff;
      }
    }
    return conv;
  }

  forget(id) {
    this.conversations.delete(id);
    if (this.active?.id === id) this.active = null;
    this.changed({ list: true });
  }
}
