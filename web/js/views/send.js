import { ApiError, transfer } from "../api.js";
import { field, h, toast } from "../dom.js";
import { formatInr, normalizeAmount } from "../money.js";
import { fieldErrors, messageFor } from "../messages.js";
import { askStepUp } from "./stepup.js";

// Answers that say nothing about whether the payment happened: the same payment may be retried
// under the same key. Every other 4xx is a definitive refusal that ends the intended payment.
const UNCERTAIN_STATUSES = new Set([409, 429]);

function isUncertain(error) {
  return !(error instanceof ApiError) || error.status >= 500 || UNCERTAIN_STATUSES.has(error.status);
}

export function sendView(main) {
  const receiver = field({ label: "Receiver's e-mail", name: "receiver_email", type: "email", autocomplete: "off", required: true });
  const amount = field({
    label: "Amount (₹)",
    name: "amount",
    inputmode: "decimal",
    autocomplete: "off",
    hint: "Up to two decimal places, e.g. 250.50",
    required: true,
  });
  const note = field({ label: "Note (optional)", name: "note", maxlength: 140, autocomplete: "off" });
  const alert = h("p", { class: "alert error", role: "alert", hidden: true, id: "send-error" });
  const pending = h("p", { class: "alert notice", role: "status", hidden: true, id: "send-pending" });
  const receipt = h("div", { class: "alert success receipt", role: "status", hidden: true, id: "send-receipt" });
  const button = h("button", { type: "submit", id: "send-button" }, "Send money");
  const form = h("form", { novalidate: true }, receiver.wrapper, amount.wrapper, note.wrapper, alert, pending, receipt, button);

  // The intended payment: its Idempotency-Key and the details it was first sent with. It lives
  // until its outcome is known — paid, or refused with a definitive 4xx — so a double click or a
  // retry after a network error / 5xx / 409 reuses the key and the server pays at most once.
  // After an unconfirmed attempt the key is kept even if the form is edited (the person is told):
  // if the earlier attempt reached the server, it refuses the new details (422
  // idempotency-key-reused) instead of paying twice.
  let intent = null;

  function formPayment() {
    const payment = { receiver_email: receiver.input.value.trim(), amount: normalizeAmount(amount.input.value) };
    if (note.input.value.trim()) payment.note = note.input.value.trim();
    return payment;
  }

  const same = (a, b) => a.receiver_email === b.receiver_email && a.amount === b.amount && a.note === b.note;

  form.addEventListener("input", () => {
    if (!intent?.unconfirmed) return;
    const { payment } = intent;
    const edited = !same(payment, formPayment());
    if (edited && pending.hidden) {
      // Set once when it appears, so a screen reader announces it once, not on every keystroke.
      pending.textContent =
        `Your earlier attempt to send ${formatInr(payment.amount)} to ${payment.receiver_email} could not be ` +
        "confirmed and may have gone through. If it did, VaultPay will refuse these new details rather than pay twice.";
    }
    pending.hidden = !edited;
  });

  function invalid(entry, message) {
    entry.error.textContent = message;
    entry.input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function showError(error) {
    alert.replaceChildren(messageFor(error));
    if (error instanceof ApiError && error.code === "idempotency-key-reused") {
      alert.append(" ", h("a", { href: "#/dashboard" }, "Open the history"));
    } else if (isUncertain(error)) {
      alert.append(" Sending the same details again is safe: this payment will not be made twice.");
    }
    alert.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    alert.hidden = true;
    receipt.hidden = true;
    const payment = formPayment();
    invalid(receiver, payment.receiver_email ? "" : "Enter the receiver's e-mail address.");
    invalid(amount, payment.amount ? "" : "Enter an amount such as 250 or 250.50.");
    if (!payment.amount || !payment.receiver_email) return;
    if (!intent) intent = { key: crypto.randomUUID(), payment, unconfirmed: false };
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const onRetry = () => (button.textContent = "Retrying…");
      let done;
      try {
        done = await transfer(payment, intent.key, { onRetry });
      } catch (error) {
        if (!(error instanceof ApiError && error.code === "step-up-required")) throw error;
        // Above the step-up threshold: ask in place, then send the SAME payment under the SAME key
        // with the grant (nothing was written by the refused attempt).
        const threshold = error.problem.threshold ? formatInr(error.problem.threshold) : "the step-up threshold";
        const grant = await askStepUp(`Payments above ${threshold} need you to confirm it's you.`, {
          methods: error.problem.methods || [],
        });
        if (!grant) throw error;
        button.textContent = "Sending…";
        done = await transfer(payment, intent.key, { onRetry, stepUpGrant: grant });
      }
      intent = null;
      pending.hidden = true;
      receipt.replaceChildren(
        h("strong", {}, `Sent ${formatInr(done.amount)} to ${done.receiver.full_name}`),
        h("br"),
        `New balance ${formatInr(done.balance)} · reference ${done.reference_id}`,
      );
      receipt.hidden = false;
      toast(`Sent ${formatInr(done.amount)}`);
      form.reset();
    } catch (error) {
      const fields = error instanceof ApiError ? fieldErrors(error) : {};
      invalid(receiver, fields.receiver_email || "");
      invalid(amount, fields.amount || "");
      invalid(note, fields.note || "");
      showError(error);
      if (isUncertain(error)) {
        intent.unconfirmed = true;
      } else {
        // Refused: that payment is over. The next click is a new payment with a new key, so a
        // stored refusal (e.g. insufficient funds) is never replayed after the balance grew.
        intent = null;
        pending.hidden = true;
      }
    } finally {
      button.disabled = false;
      button.textContent = "Send money";
    }
  });

  main.append(h("section", { class: "card narrow", "aria-labelledby": "send-title" }, h("h1", { id: "send-title" }, "Send money"), form));
}
