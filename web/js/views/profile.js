import { logoutEverywhere, profile, revealAadhaar } from "../api.js";
import { field, h } from "../dom.js";
import { formatDate } from "../money.js";
import { messageFor } from "../messages.js";

const HIDE_AFTER_MILLISECONDS = 60_000;

function spaced(digits) {
  return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
}

export function profileView(main) {
  const card = h("section", { class: "card narrow", "aria-labelledby": "profile-title" }, h("h1", { id: "profile-title" }, "Profile"));
  main.append(card);
  let hideTimer;
  const loading = h("p", { class: "muted", id: "profile-loading" }, "Loading…");
  card.append(loading);

  function failed(error) {
    if (error?.status === 401) return; // the session has ended: the login page is on its way
    const retry = h("button", { type: "button", class: "secondary", id: "profile-retry" }, "Try again");
    const alert = h("div", { class: "alert error", role: "alert", id: "profile-error" }, h("p", {}, `Could not load your profile. ${messageFor(error)}`), retry);
    retry.addEventListener("click", () => {
      alert.replaceWith(loading);
      load();
    });
    loading.replaceWith(alert);
  }

  const load = () => profile().then(showProfile, failed);
  load();

  function showProfile(me) {
    loading.remove();
    const aadhaar = h("dd", { class: "aadhaar", id: "aadhaar" }, me.aadhaar_masked);
    const password = field({ label: "Re-enter your password to reveal", name: "reveal_password", type: "password", autocomplete: "current-password" });
    const alert = h("p", { class: "alert error", role: "alert", hidden: true });
    const reveal = h("button", { type: "submit", id: "reveal" }, "Reveal Aadhaar");
    const hide = h("button", { type: "button", class: "secondary", id: "hide", hidden: true }, "Hide");
    const form = h("form", { class: "reveal-form", hidden: true }, password.wrapper, alert, h("div", { class: "actions" }, reveal));
    const start = h("button", { type: "button", class: "secondary", id: "show-reveal" }, "Show full number");

    function conceal() {
      clearTimeout(hideTimer);
      aadhaar.textContent = me.aadhaar_masked;
      hide.hidden = true;
      start.hidden = false;
      start.focus();
    }

    start.addEventListener("click", () => {
      start.hidden = true;
      form.hidden = false;
      password.input.focus();
    });
    hide.addEventListener("click", conceal);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      alert.hidden = true;
      reveal.disabled = true;
      try {
        const revealed = await revealAadhaar(password.input.value);
        aadhaar.textContent = spaced(revealed.aadhaar);
        form.hidden = true;
        hide.hidden = false;
        hide.focus();
        hideTimer = setTimeout(conceal, HIDE_AFTER_MILLISECONDS);
      } catch (error) {
        alert.textContent = messageFor(error);
        alert.hidden = false;
      } finally {
        reveal.disabled = false;
        form.reset();
      }
    });

    card.append(
      h(
        "dl",
        { class: "profile" },
        h("dt", {}, "Name"),
        h("dd", { id: "profile-name" }, me.full_name),
        h("dt", {}, "E-mail"),
        h("dd", {}, me.email),
        h("dt", {}, "Member since"),
        h("dd", {}, formatDate(me.created_at)),
        h("dt", {}, "Aadhaar"),
        aadhaar,
      ),
      h("div", { class: "actions" }, start, hide),
      form,
      sessionsSection(),
    );
  }

  function sessionsSection() {
    const everywhere = h("button", { type: "button", class: "secondary", id: "logout-everywhere" }, "Log out everywhere");
    const alert = h("p", { class: "alert error", role: "alert", hidden: true });
    everywhere.addEventListener("click", async () => {
      everywhere.disabled = true;
      alert.hidden = true;
      try {
        await logoutEverywhere(); // ends this session too: the login page follows
      } catch (error) {
        alert.textContent = messageFor(error);
        alert.hidden = false;
        everywhere.disabled = false;
      }
    });
    return h(
      "section",
      { class: "sessions", "aria-labelledby": "sessions-title" },
      h("h2", { id: "sessions-title" }, "Sessions"),
      h("p", { class: "muted" }, "Lost a device, or logged in somewhere you should not have? End every session, this one included; other devices are signed out within a minute."),
      alert,
      h("div", { class: "actions" }, everywhere),
    );
  }

  return () => clearTimeout(hideTimer);
}
