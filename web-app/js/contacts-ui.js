// The contact list (left): the org tree of the departments one may see, the people in them, a
// search by name, pinyin or initials, and a selection mode to start a group. On the right, a
// person's card or a department. Fields one may not see never arrive, so they are never drawn.

import { get, post } from "./api.js";
import { avatar, fill, h, icon, toast } from "./dom.js";
import { t } from "./i18n.js";
import { createGroup, personRow } from "./search.js";

export class ContactsPane {
  constructor(app) {
    this.app = app;
    this.expanded = new Set();
    this.selecting = false;
    this.selected = new Set();
    this.search = h("input", { type: "search", class: "search-input", id: "contact-search", placeholder: t("contacts.search"), "aria-label": t("contacts.search"), oninput: () => this.update() });
    this.body = h("div", { class: "pane-scroll", id: "contact-list" });
    this.selectButton = h("button", { type: "button", class: "btn btn-small", id: "select-people", onclick: () => this.toggleSelect() }, t("contacts.select"));
    this.selectBar = h("div", { class: "select-bar", hidden: true });
    this.el = h("div", { class: "pane" },
      h("div", { class: "pane-head" }, h("h1", { class: "pane-title" }, t("nav.contacts")), this.selectButton),
      h("div", { class: "pane-search" }, icon("search", 16), this.search),
      this.body, this.selectBar);
    this.opened = false;
  }

  /** The first time the tree is drawn: the top level and the way to one's own departments. */
  openDefaults() {
    const contacts = this.app.contacts;
    if (this.opened || contacts.version === null) return;
    this.opened = true;
    for (const root of contacts.roots()) this.expanded.add(root.id);
    const me = contacts.person(this.app.chat.me);
    for (const m of me?.departments || []) {
      let dept = contacts.department(m.department_id);
      for (let guard = 0; dept && guard < 64; guard++) {
        this.expanded.add(dept.id);
        dept = dept.parent_id ? contacts.department(dept.parent_id) : null;
      }
    }
  }

  toggleSelect() {
    this.selecting = !this.selecting;
    this.selected.clear();
    this.selectButton.textContent = this.selecting ? t("action.cancel") : t("contacts.select");
    this.update();
  }

  drawSelectBar() {
    this.selectBar.hidden = !this.selecting;
    if (!this.selecting) return;
    fill(this.selectBar,
      h("span", {}, t("group.selected", { count: this.selected.size })),
      h("button", { type: "button", class: "btn btn-primary btn-small", id: "create-group", disabled: this.selected.size === 0, onclick: async () => {
        const members = [...this.selected];
        this.toggleSelect();
        await createGroup(this.app, members);
      } }, t("group.create")));
  }

  personEntry(person, extra) {
    if (this.selecting) {
      return personRow(this.app, person, this.selected, (p, on) => {
        if (on) this.selected.add(p.id);
        else this.selected.delete(p.id);
        this.drawSelectBar();
      });
    }
    const current = this.app.route.person === person.id;
    return h("a", { href: `#/contacts/p/${person.id}`, class: `person-row${current ? " active" : ""}`, data: { staff: person.id } },
      avatar(person.display_name, person.id, "avatar-sm"),
      h("span", { class: "person-text" },
        h("span", { class: "person-name" }, person.display_name),
        extra || person.title ? h("span", { class: "person-title" }, extra || person.title) : null));
  }

  update() {
    const app = this.app;
    const contacts = app.contacts;
    const q = this.search.value.trim();
    const scroll = this.body.scrollTop;
    this.openDefaults();
    if (q) {
      const found = contacts.search(q);
      fill(this.body, found.length
        ? h("div", { class: "results", id: "search-results" }, found.map((p) => {
          const primary = (p.departments || []).find((m) => m.primary) || (p.departments || [])[0];
          const where = [p.title, primary ? contacts.department(primary.department_id)?.name : null].filter(Boolean).join(" · ");
          return this.personEntry(p, where);
        }))
        : h("p", { class: "empty muted" }, t("contacts.none")));
    } else if (contacts.version === null) {
      fill(this.body, h("p", { class: "empty muted" }, t("contacts.loading")));
    } else {
      const tree = h("ul", { class: "tree", id: "org-tree", role: "tree" }, contacts.roots().map((d) => this.deptNode(d, 0)));
      const others = contacts.unplaced.length ? h("div", { class: "others" },
        h("div", { class: "tree-label" }, t("contacts.others")), contacts.unplaced.map((p) => this.personEntry(p))) : null;
      fill(this.body, tree, others);
    }
    this.body.scrollTop = scroll;
    this.drawSelectBar();
  }

  deptNode(dept, depth) {
    const contacts = this.app.contacts;
    const open = this.expanded.has(dept.id);
    const count = contacts.everyoneUnder(dept.id).length;
    const current = this.app.route.department === dept.id;
    const row = h("div", { class: `dept-row${current ? " active" : ""}`, style: `--depth:${depth}` },
      h("button", { type: "button", class: `twisty${open ? " open" : ""}`, "aria-label": open ? t("contacts.collapse") : t("contacts.expand"), onclick: () => {
        if (open) this.expanded.delete(dept.id);
        else this.expanded.add(dept.id);
        this.update();
      } }, icon("chevron", 14)),
      h("a", { href: `#/contacts/d/${dept.id}`, class: "dept-name", data: { dept: dept.id } }, dept.name),
      h("span", { class: "dept-count" }, String(count)));
    const children = open ? h("ul", { role: "group" },
      contacts.children(dept.id).map((d) => this.deptNode(d, depth + 1)),
      contacts.members(dept.id).map((p) => h("li", { class: "tree-person", style: `--depth:${depth + 1}` }, this.personEntry(p)))) : null;
    return h("li", { role: "treeitem", "aria-expanded": open ? "true" : "false", data: { dept: dept.id } }, row, children);
  }
}

/** Opens (or creates) the direct chat with a person. */
export async function chatWith(app, staff) {
  try {
    const { conversation } = await post("/api/v1/im/direct", { staff });
    await app.chat.adopt(conversation);
    app.navigate(`#/chats/${conversation}`);
  } catch (error) {
    toast(error.message || t("error.network"), "error");
  }
}

function fieldValue(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(fieldValue).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A person's card: only what arrived (masked fields are simply absent). */
export function personCard(app, id) {
  const contacts = app.contacts;
  const p = contacts.person(id);
  if (!p) return h("div", { class: "empty-main" }, h("p", { class: "muted" }, t("contacts.gone")));
  const me = p.id === app.chat.me;
  const online = app.chat.presence.get(p.id);
  const rows = [];
  const row = (label, ...value) => rows.push(h("div", { class: "field" }, h("dt", {}, label), h("dd", {}, ...value)));
  const depts = (p.departments || []).filter((m) => contacts.department(m.department_id));
  if (depts.length) {
    row(t("card.departments"), h("ul", { class: "plain" }, depts.map((m) => h("li", {},
      h("a", { href: `#/contacts/d/${m.department_id}` }, contacts.path(m.department_id)),
      m.primary && depts.length > 1 ? h("span", { class: "tag" }, t("card.primary")) : null))));
  }
  if (p.emails && p.emails.length) row(t("card.email"), h("ul", { class: "plain" }, p.emails.map((e) => h("li", {}, h("a", { href: `mailto:${e}` }, e)))));
  if (p.phones && p.phones.length) row(t("card.phone"), h("ul", { class: "plain" }, p.phones.map((x) => h("li", {}, h("a", { href: `tel:${x.replace(/[^\d+]/g, "")}` }, x)))));
  row(t("card.login"), p.login);
  for (const [key, value] of Object.entries(p.custom || {})) row(key, fieldValue(value));
  return h("article", { class: "card-view", id: "person-card", data: { staff: p.id } },
    h("a", { class: "icon-btn back", href: "#/contacts", "aria-label": t("action.back") }, icon("back")),
    h("header", { class: "card-head" },
      h("span", { class: "avatar-wrap" }, avatar(p.display_name, p.id, "avatar-lg"), online ? h("span", { class: "dot online" }) : null),
      h("div", {},
        h("h2", { class: "card-name", id: "card-name" }, p.display_name),
        p.title ? h("div", { class: "card-title", id: "card-title" }, p.title) : null,
        h("div", { class: "card-presence muted" }, me ? t("card.you") : online ? t("presence.online") : t("presence.offline")))),
    me ? null : h("div", { class: "card-actions" },
      h("button", { type: "button", class: "btn btn-primary", id: "card-message", onclick: () => chatWith(app, p.id) }, icon("chat", 18), t("card.message"))),
    h("dl", { class: "fields" }, rows));
}

/** A department: its path, its people, and its chat when one belongs to it. */
export function departmentView(app, id) {
  const contacts = app.contacts;
  const d = contacts.department(id);
  if (!d) return h("div", { class: "empty-main" }, h("p", { class: "muted" }, t("contacts.gone")));
  const chatSlot = h("div", { class: "card-actions" });
  get(`/api/v1/im/departments/${id}/conversation`).then(({ conversation }) => {
    chatSlot.append(h("button", { type: "button", class: "btn btn-primary", id: "dept-chat", onclick: async () => {
      await app.chat.adopt(conversation);
      app.navigate(`#/chats/${conversation}`);
    } }, icon("chat", 18), t("contacts.dept_chat")));
  }, () => {});
  const people = contacts.members(id);
  const subs = contacts.children(id);
  return h("article", { class: "card-view", id: "dept-view" },
    h("a", { class: "icon-btn back", href: "#/contacts", "aria-label": t("action.back") }, icon("back")),
    h("header", { class: "card-head" },
      h("span", { class: "avatar avatar-lg avatar-icon kind-department" }, icon("folder", 28)),
      h("div", {}, h("h2", { class: "card-name" }, d.name), h("div", { class: "card-title muted" }, contacts.path(id)),
        h("div", { class: "muted" }, t("contacts.people", { count: contacts.everyoneUnder(id).length })))),
    chatSlot,
    subs.length ? h("section", {}, h("h3", { class: "section-title" }, t("contacts.subdepartments")),
      h("ul", { class: "plain chips" }, subs.map((s) => h("li", {}, h("a", { class: "chip", href: `#/contacts/d/${s.id}` }, s.name))))) : null,
    h("section", {}, h("h3", { class: "section-title" }, t("contacts.members")),
      people.length ? h("div", { class: "people-grid" }, people.map((p) => h("a", { href: `#/contacts/p/${p.id}`, class: "person-row" },
        avatar(p.display_name, p.id, "avatar-sm"),
        h("span", { class: "person-text" }, h("span", { class: "person-name" }, p.display_name), p.title ? h("span", { class: "person-title" }, p.title) : null))))
        : h("p", { class: "muted" }, t("contacts.no_members"))));
}
