// Writing: text with @mention completion, pictures and files (a preview before they go), and
// editing one's own text. Enter sends, Shift+Enter starts a new line.

import { h, icon, toast } from "./dom.js";
import { size, t } from "./i18n.js";
import { bodyFor, pick } from "./files.js";

const MAX_TEXT = 10000;

export class Composer {
  constructor(app, conv) {
    this.app = app;
    this.conv = conv;
    this.mentioned = new Map(); // "@name" → staff id ("all" for everyone)
    this.editing = null;
    this.choices = [];
    this.chosen = 0;
    this.attachment = null;
    this.input = h("textarea", {
      id: "composer-input", rows: 1, maxlength: MAX_TEXT, placeholder: t("composer.placeholder"), "aria-label": t("composer.placeholder"),
      oninput: () => this.onInput(), onkeydown: (e) => this.onKey(e), onpaste: (e) => this.onPaste(e),
    });
    this.popup = h("ul", { class: "mention-popup", id: "mention-popup", role: "listbox", hidden: true });
    this.editBar = h("div", { class: "edit-bar", hidden: true });
    this.preview = h("div", { class: "attach-preview", id: "attach-preview", hidden: true });
    this.sendButton = h("button", { type: "button", class: "btn btn-primary send-btn", id: "send", onclick: () => this.submit() }, icon("send", 18), h("span", { class: "label" }, t("composer.send")));
    this.el = h("div", { class: "composer" },
      this.popup, this.editBar, this.preview,
      h("div", { class: "composer-row" },
        h("button", { type: "button", class: "icon-btn", id: "attach-image", title: t("composer.image"), "aria-label": t("composer.image"), onclick: () => this.choose(true) }, icon("image")),
        h("button", { type: "button", class: "icon-btn", id: "attach-file", title: t("composer.file"), "aria-label": t("composer.file"), onclick: () => this.choose(false) }, icon("file")),
        this.input,
        this.sendButton));
  }

  focus() {
    this.input.focus();
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  onInput() {
    this.autosize();
    if (this.input.value.trim() && !this.editing) this.app.chat.typing(this.conv);
    this.complete();
  }

  onKey(e) {
    if (!this.popup.hidden) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = this.choices.length;
        this.chosen = (this.chosen + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        this.drawChoices();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        this.accept(this.choices[this.chosen]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        this.closePopup();
        return;
      }
    }
    if (e.key === "Escape" && this.editing) {
      e.preventDefault();
      this.stopEditing();
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }

  // ---- @mentions ---------------------------------------------------------------------------

  /** The "@…" being typed just before the caret, or null. */
  mentionQuery() {
    const before = this.input.value.slice(0, this.input.selectionStart);
    const match = /(^|\s)@([^\s@]{0,20})$/.exec(before);
    return match ? { query: match[2], start: before.length - match[2].length - 1 } : null;
  }

  async complete() {
    const found = this.mentionQuery();
    if (!found || this.conv.kind === "direct") return this.closePopup();
    let info;
    try {
      info = await this.app.chat.info(this.conv);
    } catch {
      return this.closePopup();
    }
    const q = found.query.toLowerCase();
    const contacts = this.app.contacts;
    const choices = [];
    if ((this.conv.role === "owner" || this.conv.role === "admin") && this.conv.kind === "group" && (t("composer.all").startsWith(found.query) || "all".startsWith(q))) {
      choices.push({ id: "all", name: t("composer.all") });
    }
    for (const member of info.members) {
      if (member.staff === this.app.chat.me) continue;
      const person = contacts.person(member.staff);
      if (!person) continue;
      const keys = [person.display_name.toLowerCase(), person.pinyin_full || "", person.pinyin_initials || "", person.login || ""];
      if (!q || keys.some((k) => k.startsWith(q))) choices.push({ id: person.id, name: person.display_name, title: person.title });
      if (choices.length >= 8) break;
    }
    this.choices = choices;
    this.chosen = 0;
    this.start = found.start;
    if (!choices.length) return this.closePopup();
    this.popup.hidden = false;
    this.drawChoices();
  }

  drawChoices() {
    this.popup.replaceChildren(...this.choices.map((c, i) => h("li", {
      role: "option", class: i === this.chosen ? "chosen" : "", "aria-selected": i === this.chosen ? "true" : "false", data: { staff: c.id },
      // Keep the focus in the text box; the click chooses.
      onmousedown: (e) => e.preventDefault(),
      onclick: () => this.accept(c),
    }, h("span", { class: "mention-name" }, c.name), c.title ? h("span", { class: "mention-title" }, c.title) : null)));
  }

  accept(choice) {
    if (!choice) return;
    const value = this.input.value;
    const caret = this.input.selectionStart;
    const mark = `@${choice.name}`;
    this.input.value = `${value.slice(0, this.start)}${mark} ${value.slice(caret)}`;
    const at = this.start + mark.length + 1;
    this.input.setSelectionRange(at, at);
    this.mentioned.set(mark, choice.id);
    this.closePopup();
    this.input.focus();
  }

  closePopup() {
    this.popup.hidden = true;
    this.choices = [];
  }

  // ---- sending -----------------------------------------------------------------------------

  async submit() {
    if (this.attachment) return this.sendAttachment();
    const text = this.input.value.trim();
    if (!text) return;
    if (this.editing) {
      const message = this.editing;
      this.stopEditing();
      try {
        await this.app.chat.change(this.conv, message.seq, "edit", text);
      } catch (error) {
        toast(error.code === "forbidden" ? t("msg.edit_too_late") : error.message || t("error.network"), "error");
      }
      return;
    }
    const mentions = [];
    let mentionAll = false;
    for (const [mark, id] of this.mentioned) {
      if (!text.includes(mark)) continue;
      if (id === "all") mentionAll = true;
      else mentions.push(id);
    }
    this.input.value = "";
    this.mentioned.clear();
    this.autosize();
    await this.app.chat.send(this.conv.id, "text", { text }, { mentions, mentionAll });
  }

  edit(message) {
    this.editing = message;
    this.editBar.replaceChildren(icon("edit", 16), h("span", {}, t("composer.editing")),
      h("button", { type: "button", class: "link", onclick: () => this.stopEditing() }, t("action.cancel")));
    this.editBar.hidden = false;
    this.input.value = message.body?.text || "";
    this.autosize();
    this.input.focus();
  }

  stopEditing() {
    this.editing = null;
    this.editBar.hidden = true;
    this.input.value = "";
    this.autosize();
  }

  // ---- pictures and files ------------------------------------------------------------------

  async choose(asImage) {
    const file = await pick(asImage ? "image/*" : "");
    if (file) this.attach(file, asImage);
  }

  onPaste(e) {
    const file = [...(e.clipboardData?.files || [])][0];
    if (file) {
      e.preventDefault();
      this.attach(file, file.type.startsWith("image/"));
    }
  }

  /** Shows what is about to be sent; Send uploads it, Cancel drops it. */
  attach(file, asImage) {
    this.clearAttachment();
    const isImage = asImage && file.type.startsWith("image/");
    const url = isImage ? URL.createObjectURL(file) : null;
    this.attachment = { file, isImage, url };
    this.preview.replaceChildren(
      isImage ? h("img", { src: url, alt: file.name, class: "attach-thumb" }) : icon("file", 32),
      h("div", { class: "attach-info" }, h("div", { class: "attach-name" }, file.name), h("div", { class: "attach-size" }, size(file.size))),
      h("button", { type: "button", class: "btn", onclick: () => this.clearAttachment() }, t("action.cancel")),
      h("button", { type: "button", class: "btn btn-primary", id: "attach-send", onclick: () => this.sendAttachment() }, t("composer.send")));
    this.preview.hidden = false;
  }

  clearAttachment() {
    if (this.attachment?.url) URL.revokeObjectURL(this.attachment.url);
    this.attachment = null;
    this.preview.hidden = true;
    this.preview.replaceChildren();
  }

  async sendAttachment() {
    const { file, isImage } = this.attachment;
    this.preview.classList.add("uploading");
    this.preview.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const { kind, body } = await bodyFor(this.conv.id, file, isImage);
      this.clearAttachment();
      await this.app.chat.send(this.conv.id, kind, body);
    } catch (error) {
      this.preview.classList.remove("uploading");
      this.preview.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      toast(error.status === 413 ? t("composer.too_large") : t("composer.upload_failed"), "error");
    }
  }
}
