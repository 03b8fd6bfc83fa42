import { ApiError, beginTotp, confirmTotp, logoutEverywhere, profile, revealAadhaar } from "../api.js";
import { field, h, toast } from "../dom.js";
import { formatDate } from "../money.js";
import { messageFor } from "../messages.js";
import { askStepUp, useSecondFactor } from "./stepup.js";

const HIDE_AFTER_MILLISECONDS = 60_000;
const SVG_ELEMENTS = new Set(["svg", "path", "rect", "g", "title", "desc"]);

// The enrolment's QR code (SVG from our own API) as an image in the page: parsed as an SVG document,
// never as HTML, and only plain drawing elements and attributes kept (the CSP allows no data: URLs).
function qrImage(svgText) {
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml").documentElement;
  const wrapper = h("div", { id: "totp-qr", role: "img", "aria-label": "QR code to scan with your authenticator app" });
  if (parsed.nodeName !== "svg") return wrapper;
  for (const element of [parsed, ...parsed.querySelectorAll("*")]) {
    if (!SVG_ELEMENTS.has(element.nodeName)) {
      element.remove();
      continue;
    }
    for (const attribute of [...element.attributes]) {
      if (attribute.name.startsWith("on") || attribute.name.includes("href")) element.removeAttribute(attribute.name);
    }
  }
  parsed.setAttribute("aria-hidden", "true");
  parsed.setAttribute("width", "200");
  parsed.setAttribute("height", "200");
  wrapper.append(document.importNode(parsed, true));
  return wrapper;
}

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
        let revealed;
        try {
          revealed = await revealAadhaar({ password: password.input.value });
        } catch (error) {
          // With an authenticator app enrolled, the password alone no longer reveals: step up in place.
          if (!(error instanceof ApiError && error.code === "step-up-required")) throw error;
          const grant = await askStepUp("Revealing your Aadhaar number needs a code from your authenticator app.", {
            methods: error.problem.methods || [],
          });
          if (!grant) throw error;
          revealed = await revealAadhaar({ grant });
        }
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
      totpSection(),
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

  // Two-step verification: enrolling an authenticator app (needs a step-up itself), the QR code
  // and the recovery codes shown once, then a first code to switch it on.
  function totpSection() {
    const section = h("section", { class: "totp", "aria-labelledby": "totp-title" }, h("h2", { id: "totp-title" }, "Two-step verification"));
    const intro = h("p", { class: "muted" }, "Use an authenticator app to confirm large payments and reveals.");
    const begin = h("button", { type: "button", class: "secondary", id: "totp-begin" }, "Set up an authenticator app");
    const alert = h("p", { class: "alert error", role: "alert", hidden: true, id: "totp-error" });
    section.append(intro, h("div", { class: "actions" }, begin), alert);

    begin.addEventListener("click", async () => {
      alert.hidden = true;
      const grant = await askStepUp("Setting up an authenticator app needs your password.");
      if (!grant) return;
      let enrolment;
      try {
        enrolment = await beginTotp(grant);
      } catch (error) {
        alert.textContent = messageFor(error);
        alert.hidden = false;
        return;
      }
      begin.hidden = true;
      intro.hidden = true;
      const qr = qrImage(enrolment.qr_svg);
      const secret = new URL(enrolment.secret_uri).searchParams.get("secret") || "";
      const uri = h("input", { type: "hidden", id: "totp-secret-uri", value: enrolment.secret_uri });
      const codes = h("ol", { class: "recovery-codes", id: "recovery-codes" }, enrolment.recovery_codes.map((code) => h("li", {}, code)));
      const code = field({ label: "Code from the app", name: "totp_confirm", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6 });
      const confirm = h("button", { type: "submit", id: "totp-confirm" }, "Turn on");
      const form = h("form", { novalidate: true }, code.wrapper, h("div", { class: "actions" }, confirm));
      section.append(
        h("p", {}, "Scan this QR code with your authenticator app, or type the key:"),
        qr,
        h("p", {}, h("code", { id: "totp-secret" }, secret)),
        uri,
        h("p", { class: "alert notice", id: "recovery-note" }, "Save these recovery codes now: each works once, and they will not be shown again."),
        codes,
        form,
      );
      code.input.focus();
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        alert.hidden = true;
        confirm.disabled = true;
        try {
          await confirmTotp(code.input.value.trim());
          useSecondFactor(true);
          section.replaceChildren(
            h("h2", { id: "totp-title" }, "Two-step verification"),
            h("p", { class: "alert success", role: "status", id: "totp-on" }, "Two-step verification is on."),
          );
          toast("Authenticator app set up");
        } catch (error) {
          alert.textContent = messageFor(error);
          alert.hidden = false;
          code.input.value = "";
          code.input.focus();
        } finally {
          confirm.disabled = false;
        }
      });
    });
    return section;
  }

  return () => clearTimeout(hideTimer);
}
