// The conversation list (left) and one conversation (right): header with presence or typing,
// the messages, the composer, and the members panel with "leave group".

import { post } from "./api.js";
import { avatar, confirmDialog, fill, h, icon, toast } from "./dom.js";
import { t, when } from "./i18n.js";
import { Composer } from "./composer.js";
import { MessageList, names, preview } from "./messages-ui.js";
import { offer } from "./notify.js";
import { createGroup, pickPeople } from "./search.js";

/** The avatar of a conversation, with a presence dot for direct chats. */
export function convAvatar(app, conv) {
  if (conv.kind === "direct") {
    const name = app.contacts.nameOf(conv.peer) || conv.name;
    const el = avatar(name, conv.peer);
    const online = app.chat.presence.get(conv.peer);
    return h("span", { class: "avatar-wrap" }, el, online ? h("span", { class: "dot online", title: t("presence.online") }) : null);
  }
  const el = h("span", { class: `avatar avatar-icon kind-${conv.kind}`, "aria-hidden": "true" }, icon(conv.kind === "department" ? "folder" : "group", 20));
  return h("span", { class: "avatar-wrap" }, el);
}

/** A conversation's title: a direct chat follows the contact list (HR renames show at once). */
export function convName(app, conv) {
  if (conv.kind === "direct") return app.contacts.nameOf(conv.peer) || conv.name || t("chat.someone");
  return conv.name || t("chat.untitled");
}

export class ChatList {
  constructor(app) {
    this.app = app;
    this.filter = h("input", { type: "search", class: "search-input", id: "chat-filter", placeholder: t("chats.filter"), "aria-label": t("chats.filter"), oninput: () => this.update() });
    this.items = h("ul", { class: "conv-list", id: "conv-list" });
    this.offer = h("div");
    this.el = h("div", { class: "pane" },
      h("div", { class: "pane-head" },
        h("h1", { class: "pane-title" }, t("nav.chats")),
        h("button", { type: "button", class: "icon-btn", id: "new-group", title: t("group.new"), "aria-label": t("group.new"), onclick: () => this.newGroup() }, icon("plus"))),
      h("div", { class: "pane-search" }, icon("search", 16), this.filter),
      this.offer,
      h("div", { class: "pane-scroll" }, this.items));
    const banner = offer(() => this.offer.replaceChildren());
    if (banner) this.offer.append(banner);
  }

  async newGroup() {
    const people = await pickPeople(this.app, t("group.new"));
    if (people && people.length) await createGroup(this.app, people);
  }

  update() {
    const app = this.app;
    const q = this.filter.value.trim().toLowerCase();
    const convs = app.chat.list().filter((c) => !q || convName(app, c).toLowerCase().includes(q));
    if (!convs.length) {
      fill(this.items, h("li", { class: "empty muted" }, app.chat.synced ? t("chats.none") : t("chats.loading")));
      return;
    }
    fill(this.items, convs.map((conv) => {
      const pending = app.chat.pendingOf(conv.id);
      const last = conv.last_message;
      let text = pending.length ? `${t("msg.sending")} ${preview(app, pending[pending.length - 1])}` : preview(app, last);
      if (!pending.length && last && conv.kind !== "direct" && last.sender && last.kind !== "system" && !last.recalled) {
        text = `${names(app)(last.sender)}: ${text}`;
      }
      const typing = app.chat.typists(conv);
      const active = app.chat.active === conv;
      return h("li", {},
        h("a", { href: `#/chats/${conv.id}`, class: `conv${active ? " active" : ""}${conv.unread ? " has-unread" : ""}`, data: { id: conv.id, kind: conv.kind }, "aria-current": active ? "true" : undefined },
          convAvatar(app, conv),
          h("span", { class: "conv-main" },
            h("span", { class: "conv-top" },
              h("span", { class: "conv-name" }, convName(app, conv)),
              h("time", { class: "conv-time" }, when(pending.length ? pending[pending.length - 1].ts : last?.ts))),
            h("span", { class: "conv-bottom" },
              conv.mention ? h("span", { class: "conv-mention" }, t("chats.mentioned")) : null,
              h("span", { class: "conv-preview" }, typing.length ? t("chat.typing_short") : text),
              conv.unread ? h("span", { class: `badge${conv.muted ? " muted" : ""}`, "aria-label": t("chats.unread", { count: conv.unread }) }, conv.unread > 99 ? "99+" : String(conv.unread)) : null))));
    }));
  }
}

export class ChatView {
  constructor(app, conv) {
    this.app = app;
    this.conv = conv;
    this.list = new MessageList(app, conv, { onEdit: (m) => this.composer.edit(m) });
    this.composer = new Composer(app, conv);
    this.title = h("h2", { class: "chat-title", id: "chat-title" });
    this.subtitle = h("div", { class: "chat-sub", id: "chat-sub" });
    this.avatar = h("span");
    this.announcement = h("div", { class: "announcement", hidden: true });
    this.panel = h("aside", { class: "members-panel", id: "members-panel", hidden: true });
    this.footer = h("div", { class: "chat-foot" });
    this.el = h("section", { class: "chat", data: { id: conv.id }, ondragover: (e) => e.preventDefault(), ondrop: (e) => this.onDrop(e) },
      h("header", { class: "chat-head" },
        h("a", { class: "icon-btn back", href: "#/chats", "aria-label": t("action.back") }, icon("back")),
        this.avatar,
        h("div", { class: "chat-heading" }, this.title, this.subtitle),
        h("button", { type: "button", class: "icon-btn", id: "chat-info", title: t("chat.info"), "aria-label": t("chat.info"), onclick: () => this.togglePanel() }, icon("more"))),
      this.announcement,
      h("div", { class: "chat-body" }, h("div", { class: "chat-main" }, this.list.el, this.footer), this.panel));
    this.update({});
    app.chat.info(conv).then(() => this.update({}), () => {});
  }

  onDrop(e) {
    e.preventDefault();
    const file = e.dataTransfer?.files?.[0];
    if (file) this.composer.attach(file, file.type.startsWith("image/"));
  }

  /** Redraws what changed (detail from the model's "change" event). */
  update(detail) {
    const app = this.app;
    const conv = this.conv;
    this.title.textContent = convName(app, conv);
    this.avatar.replaceChildren(convAvatar(app, conv));
    const typing = app.chat.typists(conv);
    if (typing.length) this.subtitle.textContent = t("chat.typing", { names: typing.map(names(app)).join(", ") });
    else if (conv.kind === "direct") this.subtitle.textContent = app.chat.presence.get(conv.peer) ? t("presence.online") : t("presence.offline");
    else this.subtitle.textContent = t("chat.members", { count: conv.members || conv.info?.members?.length || 0 });
    this.subtitle.classList.toggle("typing", typing.length > 0);
    this.announcement.hidden = !conv.announcement;
    this.announcement.textContent = conv.announcement ? t("chat.announcement", { text: conv.announcement }) : "";
    const readOnly = conv.kind === "system" || conv.info?.dissolved;
    if (readOnly) fill(this.footer, h("div", { class: "read-only muted" }, conv.info?.dissolved ? t("chat.dissolved") : t("chat.read_only")));
    else if (this.footer.firstChild !== this.composer.el) fill(this.footer, this.composer.el);
    if (detail.contacts) this.list.redraw();
    else if (!detail.typing || detail.conversation !== conv.id) this.list.update(detail);
    if (!this.panel.hidden && !detail.typing) this.drawPanel();
  }

  togglePanel() {
    this.panel.hidden = !this.panel.hidden;
    if (!this.panel.hidden) this.drawPanel();
  }

  async drawPanel() {
    const app = this.app;
    const conv = this.conv;
    let info;
    try {
      info = await app.chat.info(conv);
    } catch {
      return;
    }
    const name = names(app);
    const members = [...info.members].sort((a, b) => rank(a.role) - rank(b.role) || name(a.staff).localeCompare(name(b.staff)));
    fill(this.panel,
      h("div", { class: "panel-head" }, h("h3", {}, t("chat.members", { count: members.length })),
        h("button", { type: "button", class: "icon-btn", "aria-label": t("action.close"), onclick: () => this.togglePanel() }, icon("close", 18))),
      conv.kind === "group" && !info.dissolved ? h("button", { type: "button", class: "btn btn-block", id: "invite", onclick: () => this.invite(info) }, icon("plus", 16), t("group.invite")) : null,
      h("ul", { class: "member-list" }, members.map((m) => {
        const person = app.contacts.person(m.staff);
        const own = app.contacts.nameOf(m.staff) || name(m.staff);
        const label = m.staff === app.chat.me ? t("chat.you_named", { name: own }) : own;
        return h("li", { class: "member", data: { staff: m.staff } },
          avatar(own, m.staff, "avatar-sm"),
          person ? h("a", { href: `#/contacts/p/${m.staff}`, class: "member-name" }, label) : h("span", { class: "member-name" }, label),
          m.role !== "member" ? h("span", { class: "role" }, t(`role.${m.role}`)) : null);
      })),
      conv.kind === "group" && !info.dissolved ? h("button", { type: "button", class: "btn btn-danger btn-block", id: "leave-group", onclick: () => this.leave() }, icon("leave", 16), t("group.leave")) : null);
  }

  async invite(info) {
    const have = new Set(info.members.map((m) => m.staff));
    const people = await pickPeople(this.app, t("group.invite"));
    const fresh = (people || []).filter((id) => !have.has(id));
    if (!fresh.length) return;
    try {
      await post(`/api/v1/im/groups/${this.conv.id}/members`, { staff: fresh });
      this.conv.info = null;
      this.drawPanel();
    } catch (error) {
      toast(error.message || t("error.network"), "error");
    }
  }

  async leave() {
    const sure = await confirmDialog(t("group.leave"), t("group.leave_confirm", { name: convName(this.app, this.conv) }), t("group.leave"), t("action.cancel"));
    if (!sure) return;
    try {
      await post(`/api/v1/im/groups/${this.conv.id}/leave`);
      this.app.chat.forget(this.conv.id);
      this.app.navigate("#/chats");
    } catch (error) {
      toast(error.message || t("error.network"), "error");
    }
  }
}

function rank(role) {
  return { owner: 0, admin: 1 }[role] ?? 2;
}
