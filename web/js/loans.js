// What the loan pages share: status badges, movement kinds, dates, funding progress, borrower records.
import { cancelLoan } from "./api.js";
import { h, toast } from "./dom.js";
import { messageFor } from "./messages.js";
import { formatInr } from "./money.js";

const STATUS_TEXT = {
  PENDING: "Pending",
  ACTIVE: "Active",
  OVERDUE: "Overdue",
  REPAID: "Repaid",
  DEFAULTED: "Defaulted",
  CANCELLED: "Cancelled",
  EXPIRED: "Expired",
  DUE: "Due",
  PAID: "Paid",
  REFUNDED: "Refunded",
  FAILED: "Failed",
  COMMITTED: "Committed",
  SUCCESS: "Done",
};

// A status as a badge: its word (never colour alone), styled by class.
export function statusBadge(status, extra = {}) {
  return h("span", { class: `badge status-${status.toLowerCase()}`, "data-status": status, ...extra }, STATUS_TEXT[status] || status);
}

const KIND_TEXT = {
  TRANSFER: "Transfer",
  WELCOME_CREDIT: "Welcome credit",
  LOAN_COMMITMENT: "Loan commitment",
  LOAN_REFUND: "Loan refund",
  LOAN_DISBURSAL: "Loan disbursal",
  LOAN_REPAYMENT: "Loan repayment",
};

export function kindLabel(kind) {
  return KIND_TEXT[kind] || "Transfer";
}

// A calendar date ("2026-12-30") as "30 Dec 2026", without a trip through the local time zone.
export function formatDay(isoDate) {
  const [year, month, day] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day)).toLocaleDateString("en-IN", { dateStyle: "medium", timeZone: "UTC" });
}

// Rupee strings to paise (BigInt-free: amounts here are far below 2^53 paise).
export function paise(amount) {
  const [rupees, fraction = "0"] = String(amount).replace("-", "").split(".");
  const value = Number(rupees) * 100 + Number(fraction.padEnd(2, "0").slice(0, 2));
  return String(amount).startsWith("-") ? -value : value;
}

export function rupees(paiseValue) {
  const sign = paiseValue < 0 ? "-" : "";
  const whole = Math.abs(paiseValue);
  return `${sign}${Math.floor(whole / 100)}.${String(whole % 100).padStart(2, "0")}`;
}

export function percent(part, whole) {
  return whole > 0 ? Math.round((100 * part) / whole) : 0;
}

// Funding progress: a native <progress> (announced as such) and the figures in words.
export function fundingProgress(loan, id) {
  const funded = paise(loan.funded);
  const amount = paise(loan.amount);
  const label = `${formatInr(loan.funded)} of ${formatInr(loan.amount)} funded (${percent(funded, amount)}%)`;
  return h(
    "div",
    { class: "funding" },
    h("progress", { max: String(amount), value: String(funded), "aria-label": "Funding", "aria-describedby": id }),
    h("span", { class: "hint", id }, label),
  );
}

export function borrowerRecord(record) {
  const parts = [`${record.loans_repaid} repaid`, `${record.loans_defaulted} defaulted`, `${record.late_installments} late installment${record.late_installments === 1 ? "" : "s"}`];
  return `Record: ${parts.join(" · ")}`;
}

export function loanTerms(loan) {
  return `${formatInr(loan.amount)} · ${loan.annual_rate}% a year · ${loan.tenure_months} month${loan.tenure_months === 1 ? "" : "s"}`;
}

// Asks before a step that cannot be undone, in place of the button that asked for it: the question
// (announced), a confirm button (focused) and a way back (which gives the focus back).
export function askInPlace(actions, { question, confirmLabel, keepLabel, confirmId, onConfirm }) {
  const before = [...actions.childNodes];
  const opener = document.activeElement;
  const confirm = h("button", { type: "button", id: confirmId, "data-action": "confirm" }, confirmLabel);
  const keep = h("button", { type: "button", class: "secondary" }, keepLabel);
  const asked = h("p", { class: "alert notice", role: "alert" }, question);
  actions.replaceChildren(asked, confirm, keep);
  confirm.focus();
  keep.addEventListener("click", () => {
    actions.replaceChildren(...before);
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    keep.disabled = true;
    try {
      await onConfirm(confirm);
    } catch (error) {
      asked.textContent = error.message;
      confirm.disabled = false;
      keep.disabled = false;
    }
  });
}

// "Withdraw request" for the borrower's open request, asked in place: the request is cancelled
// (every commitment goes back to its lender), then `afterWithdraw` shows what changed.
export function withdrawActions(loanId, { button, confirmId, afterWithdraw }) {
  const withdraw = h("button", { type: "button", class: "secondary", ...button }, "Withdraw request");
  const actions = h("div", { class: "actions" }, withdraw);
  withdraw.addEventListener("click", () =>
    askInPlace(actions, {
      question: "Withdraw this request? Every commitment goes back to its lender.",
      confirmLabel: "Withdraw it",
      keepLabel: "Keep it open",
      confirmId,
      onConfirm: async () => {
        try {
          await cancelLoan(loanId);
        } catch (error) {
          throw new Error(messageFor(error));
        }
        toast("Request withdrawn: commitments returned");
        await afterWithdraw();
      },
    }),
  );
  return actions;
}
