// Choosing people (for a new group): a search over the local contact list with checkboxes, and
// creating the group from the chosen people (POST /api/v1/im/groups).

import { post } from "./api.js";
import { avatar, dialog, h, toast } from "./dom.js";
import { t } from "./i18n.js";

/** A checkbox row for a person. */
export function personRow(app, person, selected, onToggle) {
  const box = h("input", { type: "checkbox", checked: selected.has(person.id), onchange: () => onToggle(person, box.checked), "aria-label": person.display_name });
  return h("label", { class: "pick-row", data: { staff: person.id } }, box, avatar(person.display_name, person.id, "avatar-sm"),
    h("span", { class: "pick-name" }, person.display_name),
    h("span", { class: "pick-title" }, person.title || ""));
}

/** Asks for people; resolves with their ids (or null). `preselected`: ids already ticked. */
export function pickPeople(app, title, preselected = []) {
  const selected = new Set(preselected);
  return dialog(title, (box, done) => {
    const results = h("div", { class: "pick-list", id: "pick-list" });
    const count = h("span", { class: "pick-count" });
    const ok = h("button", { type: "button", class: "btn btn-primary", id: "pick-ok", onclick: () => done([...selected]) });
    const refreshCount = () => {
      count.textContent = t("group.selected", { count: selected.size });
      ok.textContent = t("group.next");
      ok.disabled = selected.size === 0;
    };
    const draw = () => {
      const q = input.value.trim();
      const people = (q ? app.contacts.search(q, 50) : [...app.contacts.staff.values()].slice(0, 50))
        .filter((p) => p.id !== app.chat.me);
      results.replaceChildren(...(people.length ? people.map((p) => personRow(app, p, selected, (person, on) => {
        if (on) selected.add(person.id);
        else selected.delete(person.id);
        refreshCount();
      })) : [h("p", { class: "muted empty" }, t("contacts.none"))]));
    };
    const input = h("input", { type: "search", class: "search-input", id: "pick-search", placeholder: t("contacts.search"), oninput: draw });
    box.append(input, results,
      h("div", { class: "dialog-actions" }, count,
        h("button", { type: "button", class: "btn", onclick: () => done(null) }, t("action.cancel")), ok));
    draw();
    refreshCount();
  });
}

/** Names the group, creates it, and opens it. */
export async function createGroup(app, members) {
  const names = members.map((id) => app.contacts.nameOf(id)).filter(Boolean);
  const suggested = [app.contacts.nameOf(app.chat.me), ...names].filter(Boolean).slice(0, 4).join(t("group.name_joiner"));
  const name = await dialog(t("group.create"), (box, done) => {
    const input = h("input", { id: "group-name", value: suggested.slice(0, 100), maxlength: 100, "aria-label": t("group.name") });
    box.append(
      h("label", { for: "group-name" }, t("group.name")), input,
      h("p", { class: "muted small" }, t("group.members_count", { count: members.length + 1 })),
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", onclick: () => done(null) }, t("action.cancel")),
        h("button", { type: "button", class: "btn btn-primary", id: "group-create", onclick: () => done(input.value.trim() || null) }, t("group.create"))));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") done(input.value.trim() || null);
    });
  });
  if (!name) return;
  try {
    const { conversation } = await post("/api/v1/im/groups", { name, members });
    await app.chat.adopt(conversation);
    app.navigate(`#/chats/${conversation}`);
  } catch (error) {
    toast(error.message || t("error.network"), "error");
  }
}
