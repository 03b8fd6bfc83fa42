import { ApiError, stepUp } from "../api.js";
import { field, h } from "../dom.js";
import { messageFor } from "../messages.js";

// How this person steps up: the password until an authenticator app is enrolled, then a code from
// it (or a recovery code). Learnt from the server's answers, kept for this page's life only.
let secondFactor = false;

export function useSecondFactor(enabled) {
  secondFactor = enabled;
}

// Asks, in place, for a fresh proof (a modal <dialog>: focus moves into it, Escape cancels) and
// returns a step-up grant, or null when the person cancels. Failed proofs are said in the dialog
// (and count toward the login lockout on the server).
export function askStepUp(reason, { methods = [] } = {}) {
  if (methods.length && !methods.includes("password")) secondFactor = true;
  return new Promise((resolve) => {
    const title = h("h2", { id: "step-up-title" }, "Confirm it's you");
    const why = h("p", { id: "step-up-reason" }, reason);
    const password = field({ label: "Your password", name: "step_up_password", type: "password", autocomplete: "current-password" });
    const totp = field({
      label: "Code from your authenticator app",
      name: "step_up_totp",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      maxlength: 6,
      hint: "6 digits",
    });
    const recovery = field({ label: "Recovery code", name: "step_up_recovery", autocomplete: "off", hint: "One of the codes you saved" });
    const toggle = h("button", { type: "button", class: "link", id: "step-up-use-recovery" }, "Use a recovery code instead");
    const alert = h("p", { class: "alert error", role: "alert", hidden: true, id: "step-up-error" });
    const confirm = h("button", { type: "submit", id: "step-up-confirm" }, "Confirm");
    const cancel = h("button", { type: "button", class: "secondary", id: "step-up-cancel" }, "Cancel");
    const form = h(
      "form",
      { method: "dialog", novalidate: true },
      title,
      why,
      password.wrapper,
      totp.wrapper,
      recovery.wrapper,
      toggle,
      alert,
      h("div", { class: "actions" }, confirm, cancel),
    );
    const dialog = h("dialog", { id: "step-up", "aria-labelledby": "step-up-title", "aria-describedby": "step-up-reason" }, form);
    let mode = secondFactor ? "totp" : "password";

    function show() {
      password.wrapper.hidden = mode !== "password";
      totp.wrapper.hidden = mode !== "totp";
      recovery.wrapper.hidden = mode !== "recovery_code";
      toggle.hidden = mode === "password";
      toggle.textContent = mode === "totp" ? "Use a recovery code instead" : "Use your authenticator app";
      ({ password, totp, recovery_code: recovery })[mode].input.focus();
    }

    function finish(grant) {
      dialog.close();
      dialog.remove();
      resolve(grant);
    }

    toggle.addEventListener("click", () => {
      mode = mode === "totp" ? "recovery_code" : "totp";
      show();
    });
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const entry = { password, totp, recovery_code: recovery }[mode];
      const value = entry.input.value.trim();
      if (!value) {
        entry.input.focus();
        return;
      }
      alert.hidden = true;
      confirm.disabled = true;
      try {
        const granted = await stepUp({ [mode]: mode === "password" ? entry.input.value : value });
        finish(granted.grant);
      } catch (error) {
        entry.input.value = "";
        if (error instanceof ApiError && error.code === "step-up-required" && (error.problem.methods || []).includes("totp")) {
          secondFactor = true;
          mode = "totp";
        }
        alert.textContent =
          error instanceof ApiError && error.code === "step-up-required" ? error.problem.detail || messageFor(error) : messageFor(error);
        alert.hidden = false;
        show();
      } finally {
        confirm.disabled = false;
      }
    });

    document.body.append(dialog);
    dialog.showModal();
    show();
  });
}
