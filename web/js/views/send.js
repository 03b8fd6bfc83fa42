import { ApiError, transfer } from "../api.js";
import { field, h, toast } from "../dom.js";
import { formatInr, normalizeAmount } from "../money.js";
import { fieldErrors, messageFor } from "../messages.js";

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
  const receipt = h("div", { class: "alert success receipt", role: "status", hidden: true, id: "send-receipt" });
  const button = h("button", { type: "submit", id: "send-button" }, "Send money");
  const form = h("form", { novalidate: true }, receiver.wrapper, amount.wrapper, note.wrapper, alert, receipt, button);

  // One key per intended payment: kept across retries and double clicks, renewed once the
  // payment is settled (sent, or refused and then edited).
  let idempotencyKey = crypto.randomUUID();
  let settled = false;
  form.addEventListener("input", () => {
    if (settled) {
      idempotencyKey = crypto.randomUUID();
      settled = false;
    }
  });

  function invalid(entry, message) {
    entry.error.textContent = message;
    entry.input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    alert.hidden = true;
    receipt.hidden = true;
    const value = normalizeAmount(amount.input.value);
    invalid(receiver, receiver.input.value.trim() ? "" : "Enter the receiver's e-mail address.");
    invalid(amount, value ? "" : "Enter an amount such as 250 or 250.50.");
    if (!value || !receiver.input.value.trim()) return;
    const payment = { receiver_email: receiver.input.value.trim(), amount: value };
    if (note.input.value.trim()) payment.note = note.input.value.trim();
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const done = await transfer(payment, idempotencyKey, { onRetry: () => (button.textContent = "Retrying…") });
      receipt.replaceChildren(
        h("strong", {}, `Sent ${formatInr(done.amount)} to ${done.receiver.full_name}`),
        h("br"),
        `New balance ${formatInr(done.balance)} · reference ${done.reference_id}`,
      );
      receipt.hidden = false;
      toast(`Sent ${formatInr(done.amount)}`);
      form.reset();
      idempotencyKey = crypto.randomUUID();
      settled = false;
    } catch (error) {
      const fields = error instanceof ApiError ? fieldErrors(error) : {};
      invalid(receiver, fields.receiver_email || "");
      invalid(amount, fields.amount || "");
      invalid(note, fields.note || "");
      alert.textContent = messageFor(error);
      alert.hidden = false;
      settled = error instanceof ApiError && error.status < 500 && error.status !== 409;
    } finally {
      button.disabled = false;
      button.textContent = "Send money";
    }
  });

  main.append(h("section", { class: "card narrow", "aria-labelledby": "send-title" }, h("h1", { id: "send-title" }, "Send money"), form));
  receiver.input.focus();
}
