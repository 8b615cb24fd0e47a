// The employee web client: signs in, keeps the contact list (snapshot once, then deltas) and the
// chats (WebSocket) current, and draws the two sections. Routes live in the URL's hash:
// #/chats, #/chats/<conversation>, #/contacts, #/contacts/p/<person>, #/contacts/d/<department>.

import * as api from "./api.js";
import { Chat } from "./chat.js";
import { ChatList, ChatView, convName } from "./chat-ui.js";
import { Contacts } from "./contacts.js";
import { ContactsPane, departmentView, personCard } from "./contacts-ui.js";
import * as db from "./db.js";
import { avatar, fill, h, icon, toast } from "./dom.js";
import { languages, switchLanguage, t } from "./i18n.js";
import { preview } from "./messages-ui.js";
import * as notify from "./notify.js";
import { renderSignIn } from "./signin.js";
import { Socket } from "./socket.js";

const root = document.getElementById("app");

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const section = parts[0] === "contacts" ? "contacts" : "chats";
  return {
    section,
    conversation: section === "chats" ? parts[1] || null : null,
    person: section === "contacts" && parts[1] === "p" ? parts[2] || null : null,
    department: section === "contacts" && parts[1] === "d" ? parts[2] || null : null,
  };
}

class App {
  constructor(session, store) {
    this.session = session;
    this.store = store;
    this.api = api;
    this.route = parseRoute();
    this.contacts = new Contacts(store);
    // One device name per page: every open tab is a device of its own (docs/protocol.md).
    this.socket = new Socket(session.token, `web-${Math.random().toString(16).slice(2, 10)}`);
    this.chat = new Chat({ me: session.staff_id, socket: this.socket, store });
    this.view = null;
    this.firstWelcome = true;
  }

  async start() {
    await this.contacts.load();
    await this.chat.loadOutbox();
    this.layout();
    this.contacts.addEventListener("change", () => this.onContacts());
    this.chat.addEventListener("change", (e) => this.onChat(e.detail));
    this.chat.addEventListener("contacts", () => this.pullContacts());
    this.chat.addEventListener("incoming", (e) => this.onIncoming(e.detail));
    this.socket.addEventListener("state", (e) => this.onConnection(e.detail));
    this.socket.addEventListener("welcome", () => {
      // A reconnect may have missed contacts.changed pushes: pull once (the first connection
      // follows the pull made at start).
      if (!this.firstWelcome) this.pullContacts();
      this.firstWelcome = false;
    });
    this.socket.addEventListener("ended", (e) => this.onEnded(e.detail));
    window.addEventListener("hashchange", () => this.navigate());
    this.pullContacts();
    this.socket.start();
    this.navigate();
  }

  async pullContacts() {
    try {
      await this.contacts.sync();
    } catch (error) {
      if (error.status !== 401) toast(t("error.contacts"), "error");
    }
  }

  layout() {
    const me = () => this.contacts.nameOf(this.session.staff_id) || "";
    this.badge = h("span", { class: "badge rail-badge", id: "unread-total", hidden: true });
    this.connection = h("div", { class: "connection", id: "connection", role: "status", hidden: true });
    this.meAvatar = h("span", { class: "me-avatar" });
    this.menu = h("div", { class: "me-menu", id: "me-menu", hidden: true });
    this.sidebar = h("section", { class: "sidebar" });
    this.main = h("main", { class: "main", id: "main" });
    this.shell = h("div", { class: "app", id: "app-shell" },
      h("nav", { class: "rail", "aria-label": t("nav.label") },
        h("button", { type: "button", class: "me", id: "me", "aria-label": t("nav.me"), "aria-haspopup": "true", onclick: () => this.toggleMenu() }, this.meAvatar),
        h("a", { href: "#/chats", class: "rail-item", id: "nav-chats", "aria-label": t("nav.chats") }, icon("chat", 22), h("span", { class: "rail-label" }, t("nav.chats")), this.badge),
        h("a", { href: "#/contacts", class: "rail-item", id: "nav-contacts", "aria-label": t("nav.contacts") }, icon("contacts", 22), h("span", { class: "rail-label" }, t("nav.contacts"))),
        this.menu),
      h("div", { class: "column" }, this.connection, this.sidebar),
      this.main);
    this.drawMe = () => {
      this.meAvatar.replaceChildren(avatar(me(), this.session.staff_id));
      fill(this.menu,
        h("div", { class: "me-name" }, me()),
        h("div", { class: "menu-section" }, icon("globe", 16),
          languages().map((l) => h("button", { type: "button", id: `lang-${l.code}`, lang: l.code, class: `link${l.current ? " current" : ""}`, onclick: () => switchLanguage(l.code) }, l.name))),
        notify.supported() && Notification.permission === "default"
          ? h("button", { type: "button", class: "menu-item", onclick: () => Notification.requestPermission().then(() => this.drawMe()) }, icon("bell", 16), t("notify.enable"))
          : null,
        h("button", { type: "button", class: "menu-item", id: "sign-out", onclick: () => this.signOut() }, icon("out", 16), t("action.sign_out")));
    };
    this.drawMe();
    document.addEventListener("click", (e) => {
      if (!this.menu.hidden && !this.menu.contains(e.target) && !e.target.closest("#me")) this.menu.hidden = true;
    });
    fill(root, this.shell);
    this.chatList = new ChatList(this);
    this.contactsPane = new ContactsPane(this);
  }

  toggleMenu() {
    this.menu.hidden = !this.menu.hidden;
  }

  /** Goes to a route (or draws the one in the URL). */
  navigate(hash) {
    if (hash && location.hash !== hash) {
      location.hash = hash;
      return; // hashchange brings us back here
    }
    this.route = parseRoute();
    const r = this.route;
    this.shell.dataset.section = r.section;
    this.shell.classList.toggle("main-open", Boolean(r.conversation || r.person || r.department));
    document.getElementById("nav-chats").classList.toggle("current", r.section === "chats");
    document.getElementById("nav-contacts").classList.toggle("current", r.section === "contacts");
    const pane = r.section === "chats" ? this.chatList : this.contactsPane;
    if (this.sidebar.firstChild !== pane.el) fill(this.sidebar, pane.el);
    pane.update();
    if (r.conversation) {
      if (!this.view || this.view.conv.id !== r.conversation) {
        const conv = this.chat.conv(r.conversation);
        this.view = new ChatView(this, conv);
        fill(this.main, this.view.el);
        this.view.list.shown();
        if (!conv.known) this.chat.adopt(conv.id).then(() => this.view?.update({}), () => {});
      }
      this.chat.setActive(r.conversation);
      this.view.composer.focus();
      this.chatList.update();
    } else {
      this.view = null;
      this.chat.setActive(null);
      if (r.person) fill(this.main, personCard(this, r.person));
      else if (r.department) fill(this.main, departmentView(this, r.department));
      else fill(this.main, h("div", { class: "empty-main" }, icon(r.section === "chats" ? "chat" : "contacts", 48), h("p", { class: "muted" }, r.section === "chats" ? t("chats.pick") : t("contacts.pick"))));
      if (r.person) this.chat.askPresence([r.person]);
    }
    this.updateTitle();
  }

  onContacts() {
    this.drawMe();
    if (this.route.section === "contacts") this.contactsPane.update();
    else this.chatList.update();
    if (this.route.person) fill(this.main, personCard(this, this.route.person));
    else if (this.route.department) fill(this.main, departmentView(this, this.route.department));
    else if (this.view) this.view.update({ contacts: true });
  }

  onChat(detail) {
    if (this.route.section === "chats" && (detail.list || detail.presence || detail.typing)) this.chatList.update();
    if (this.view && (detail.conversation === this.view.conv.id || detail.presence || detail.list)) this.view.update(detail);
    if (detail.presence && this.route.person) fill(this.main, personCard(this, this.route.person));
    this.updateTitle();
  }

  updateTitle() {
    const total = this.chat.totalUnread();
    this.badge.hidden = total === 0;
    this.badge.textContent = total > 99 ? "99+" : String(total);
    const where = this.view ? convName(this, this.view.conv) : this.route.section === "chats" ? t("nav.chats") : t("nav.contacts");
    document.title = `${total ? `(${total}) ` : ""}${where} · Switchboard`;
  }

  onIncoming({ conv, message }) {
    if (conv.muted) return;
    const sender = message.sender ? this.contacts.nameOf(message.sender) || t("chat.someone") : t("chat.system");
    const title = conv.kind === "direct" ? sender : `${sender} · ${convName(this, conv)}`;
    notify.show(title, preview(this, message), conv.id, () => this.navigate(`#/chats/${conv.id}`));
  }

  onConnection(state) {
    this.connection.hidden = state === "online";
    this.connection.dataset.state = state;
    fill(this.connection, state === "connecting" ? t("connection.connecting") : t("connection.offline"),
      state === "offline" ? h("button", { type: "button", class: "link", onclick: () => this.socket.reconnectNow() }, t("connection.retry")) : null);
  }

  onEnded(code) {
    if (code === 4005) {
      this.connection.hidden = false;
      fill(this.connection, t("connection.replaced"), h("button", { type: "button", class: "link", onclick: () => location.reload() }, t("connection.retry")));
      return;
    }
    if (code === 4010) {
      this.connection.hidden = false;
      fill(this.connection, t("connection.upgrade"));
      return;
    }
    // 4001 (expired) or 4003 (revoked: signed out elsewhere, password changed, disabled).
    signedOut(t("signin.ended"));
  }

  async signOut() {
    this.socket.stop();
    await api.logout();
    this.store.close();
    await db.remove(this.session.staff_id);
    signedOut(null);
  }

  stop() {
    this.socket.stop();
    this.store.close();
  }
}

let current = null;

function signedOut(notice) {
  if (current) current.stop();
  current = null;
  api.clearSession();
  history.replaceState(null, "", location.pathname);
  document.title = "Switchboard";
  renderSignIn(root, start, notice);
}

async function start(session) {
  const store = await db.open(session.staff_id);
  current = new App(session, store);
  await current.start();
}

window.addEventListener("switchboard:unauthorized", () => {
  if (current) signedOut(t("signin.ended"));
});
// Signing out in another tab signs out here too.
window.addEventListener("storage", (e) => {
  if (e.key === api.SESSION_KEY && !e.newValue && current) signedOut(null);
});

const existing = api.session();
if (existing) start(existing);
else renderSignIn(root, start);
