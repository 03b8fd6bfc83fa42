import { ApiError, login, register } from "../api.js";
import { field, h } from "../dom.js";
import { fieldErrors, messageFor } from "../messages.js";

function showFieldErrors(fields, error) {
  const errors = fieldErrors(error);
  for (const [name, { input, error: slot }] of Object.entries(fields)) {
    slot.textContent = errors[name] || "";
    input.setAttribute("aria-invalid", errors[name] ? "true" : "false");
  }
  const first = Object.keys(errors).find((name) => fields[name]);
  if (first) fields[first].input.focus();
  return Object.keys(errors).length > 0;
}

function authForm({ title, fields, submitLabel, onSubmit, footer }) {
  const alert = h("p", { class: "alert error", role: "alert", hidden: true });
  const button = h("button", { type: "submit" }, submitLabel);
  const form = h("form", { novalidate: true }, Object.values(fields).map((entry) => entry.wrapper), alert, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.hidden = true;
    button.disabled = true;
    try {
      await onSubmit(Object.fromEntries(Object.entries(fields).map(([name, entry]) => [name, entry.input.value])));
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "validation-error" && showFieldErrors(fields, error))) {
        alert.textContent = messageFor(error);
        alert.hidden = false;
      }
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "card narrow", "aria-labelledby": "auth-title" }, h("h1", { id: "auth-title" }, title), form, footer);
}

export function loginView(main, { navigate }) {
  const fields = {
    email: field({ label: "E-mail", name: "email", type: "email", autocomplete: "username", required: true }),
    password: field({ label: "Password", name: "password", type: "password", autocomplete: "current-password", required: true }),
  };
  main.append(
    authForm({
      title: "Log in to VaultPay",
      fields,
      submitLabel: "Log in",
      onSubmit: async ({ email, password }) => {
        await login(email.trim(), password);
        navigate("#/dashboard");
      },
      footer: h("p", { class: "switch" }, "New here? ", h("a", { href: "#/register" }, "Create an account")),
    }),
  );
}

export function registerView(main, { navigate }) {
  const fields = {
    full_name: field({ label: "Full name", name: "full_name", autocomplete: "name", required: true, maxlength: 100 }),
    email: field({ label: "E-mail", name: "email", type: "email", autocomplete: "email", required: true }),
    password: field({
      label: "Password",
      name: "password",
      type: "password",
      autocomplete: "new-password",
      hint: "At least 8 characters; avoid common passwords.",
      required: true,
    }),
    aadhaar: field({
      label: "Aadhaar number",
      name: "aadhaar",
      inputmode: "numeric",
      autocomplete: "off",
      hint: "12 digits. Stored encrypted; only the last four are ever shown.",
      required: true,
      maxlength: 14,
    }),
  };
  main.append(
    authForm({
      title: "Create your VaultPay account",
      fields,
      submitLabel: "Create account",
      onSubmit: async (form) => {
        const email = form.email.trim();
        await register({ ...form, email, full_name: form.full_name.trim() });
        await login(email, form.password);
        navigate("#/dashboard");
      },
      footer: h("p", { class: "switch" }, "Already have an account? ", h("a", { href: "#/login" }, "Log in")),
    }),
  );
}
