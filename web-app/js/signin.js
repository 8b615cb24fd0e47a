// The sign-in page: the company password (local or LDAP, whichever the server checks) through
// POST /api/v1/auth/login. Accounts that are not people (the bootstrap admin) have no chats:
// they are sent to the admin portal instead.

import { ApiError, login } from "./api.js";
import { fill, h } from "./dom.js";
import { languages, switchLanguage, t } from "./i18n.js";

/** Draws the form into `root`; `onSignedIn(session)` runs after a successful sign-in. */
export function renderSignIn(root, onSignedIn, notice) {
  const error = h("p", { class: "form-error", id: "login-error", role: "alert", hidden: true });
  const name = h("input", { id: "login", name: "login", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const button = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "sign-in" }, t("signin.submit"));
  const show = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };
  const form = h("form", { class: "signin-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    if (!name.value.trim() || !password.value) {
      show(t("signin.missing"));
      return;
    }
    button.disabled = true;
    show("");
    try {
      const session = await login(name.value.trim(), password.value);
      onSignedIn(session);
    } catch (e) {
      password.value = "";
      if (e instanceof ApiError && e.status === 401) show(t("signin.wrong"));
      else if (e instanceof ApiError && e.status === 429) show(t("signin.throttled"));
      else if (e instanceof ApiError && e.code === "not_a_person") show(t("signin.not_a_person"));
      else show(t("error.network"));
      password.focus();
    } finally {
      button.disabled = false;
    }
  } },
  h("label", { for: "login" }, t("signin.login")), name,
  h("label", { for: "password" }, t("signin.password")), password,
  error, button);
  fill(root, h("div", { class: "signin" },
    h("div", { class: "signin-card" },
      h("div", { class: "brand" },
        h("img", { src: document.body.dataset.favicon, alt: "", width: 36, height: 36 }),
        h("div", {}, h("div", { class: "brand-name" }, "Switchboard"), h("div", { class: "brand-sub" }, t("signin.subtitle")))),
      notice ? h("p", { class: "notice", id: "signin-notice" }, notice) : null,
      form,
      h("p", { class: "signin-hint" }, t("signin.hint"))),
    h("nav", { class: "lang-switch", "aria-label": t("lang.label") },
      languages().map((l) => h("button", { type: "button", class: l.current ? "current" : "", lang: l.code, "aria-current": l.current ? "true" : undefined, onclick: () => switchLanguage(l.code) }, l.name))),
    h("a", { class: "signin-home", href: "/" }, t("signin.home"))));
  name.focus();
}
