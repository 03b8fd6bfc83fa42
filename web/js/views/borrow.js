import { ApiError, myLoans, quote, requestLoan } from "../api.js";
import { field, h, toast } from "../dom.js";
import { intentKeeper, isUncertain } from "../intent.js";
import { formatDay, fundingProgress, loanTerms, statusBadge, withdrawActions } from "../loans.js";
import { fieldErrors, messageFor } from "../messages.js";
import { formatDate, formatInr, normalizeAmount } from "../money.js";

const PREVIEW_DELAY_MILLISECONDS = 350;
const RATE_PATTERN = /^\d{1,3}(\.\d{1,2})?$/;

function normalizeRate(input) {
  const text = input.trim().replace(/%$/, "").trim();
  if (!RATE_PATTERN.test(text)) return null;
  const [whole, fraction = ""] = text.split(".");
  return `${Number(whole)}.${fraction.padEnd(2, "0")}`;
}

function wholeNumber(input, low, high) {
  const text = input.trim();
  if (!/^\d{1,3}$/.test(text)) return null;
  const value = Number(text);
  return value >= low && value <= high ? value : null;
}

// The schedule a quote returns, as a table (the preview's figures, in full).
function quoteTable(quoted) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { id: "preview-schedule" },
      h("caption", { class: "visually-hidden" }, "Every installment of the quoted loan"),
      h(
        "thead",
        {},
        h("tr", {}, ["#", "Due", "Principal", "Interest", "Installment", "Still owed after"].map((cell) => h("th", { scope: "col" }, cell))),
      ),
      h(
        "tbody",
        {},
        quoted.schedule.map((step) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, String(step.number)),
            h("td", {}, formatDay(step.due_on)),
            h("td", {}, formatInr(step.principal)),
            h("td", {}, formatInr(step.interest)),
            h("td", {}, formatInr(step.amount)),
            h("td", {}, formatInr(step.balance_after)),
          ),
        ),
      ),
    ),
  );
}

export function borrowView(main) {
  const amount = field({ label: "Amount (₹)", name: "amount", inputmode: "decimal", autocomplete: "off", hint: "₹1,000 or more, e.g. 50000", required: true });
  const tenure = field({ label: "Tenure (months)", name: "tenure_months", inputmode: "numeric", autocomplete: "off", hint: "1 to 36 months", value: "12", required: true });
  const rate = field({ label: "Annual interest rate (%)", name: "annual_rate", inputmode: "decimal", autocomplete: "off", hint: "10 to 36, up to two decimals, e.g. 14.50", value: "14.00", required: true });
  const purpose = field({ label: "Purpose", name: "purpose", maxlength: 140, autocomplete: "off", hint: "What the loan is for: lenders read it", required: true });
  const days = field({ label: "Open to lenders for (days)", name: "funding_days", inputmode: "numeric", autocomplete: "off", hint: "1 to 14 days", value: "14" });
  const alert = h("p", { class: "alert error", role: "alert", hidden: true, id: "borrow-error" });
  const receipt = h("div", { class: "alert success receipt", role: "status", hidden: true, id: "borrow-receipt" });
  const button = h("button", { type: "submit", id: "borrow-button" }, "Ask to borrow");
  const form = h("form", { novalidate: true, id: "borrow-form" }, amount.wrapper, tenure.wrapper, rate.wrapper, purpose.wrapper, days.wrapper, alert, receipt, button);

  // The preview: the quote endpoint is the one source of truth for the arithmetic.
  const summary = h("p", { id: "preview-summary", role: "status" }, "Enter an amount, a tenure and a rate to see the schedule.");
  const figures = h("dl", { class: "figures", id: "preview-figures", hidden: true });
  const schedule = h("details", { class: "preview-table", hidden: true }, h("summary", {}, "Every installment"));
  const preview = h("section", { class: "card", "aria-labelledby": "preview-title", id: "preview" }, h("h2", { id: "preview-title" }, "Schedule preview"), summary, figures, schedule);

  const requestsList = h("ul", { class: "loans", id: "my-requests" });
  const requestsStatus = h("p", { class: "muted", id: "my-requests-status" }, "Loading…");
  const requests = h("section", { class: "card", "aria-labelledby": "requests-title" }, h("h2", { id: "requests-title", tabindex: "-1" }, "Your requests"), requestsStatus, requestsList);

  main.append(
    h("h1", {}, "Borrow"),
    h("div", { class: "grid two" }, h("section", { class: "card", "aria-labelledby": "borrow-title" }, h("h2", { id: "borrow-title" }, "Ask to borrow"), form), preview),
    requests,
  );

  function terms() {
    return {
      amount: normalizeAmount(amount.input.value),
      tenure_months: wholeNumber(tenure.input.value, 1, 36),
      annual_rate: normalizeRate(rate.input.value),
    };
  }

  let previewTimer = null;
  let previewSequence = 0;
  async function showPreview() {
    const wanted = terms();
    const sequence = ++previewSequence;
    if (!wanted.amount || !wanted.tenure_months || !wanted.annual_rate) {
      summary.textContent = "Enter an amount, a tenure and a rate to see the schedule.";
      figures.hidden = true;
      schedule.hidden = true;
      return;
    }
    try {
      const quoted = await quote(wanted);
      if (sequence !== previewSequence) return; // an answer to terms since changed
      summary.textContent = `${quoted.tenure_months} monthly installments of ${formatInr(quoted.installment)}; ${formatInr(quoted.total_interest)} interest in all.`;
      figures.replaceChildren(
        h("dt", {}, "Monthly installment"),
        h("dd", { id: "preview-installment" }, formatInr(quoted.installment)),
        h("dt", {}, "Total interest"),
        h("dd", {}, formatInr(quoted.total_interest)),
        h("dt", {}, "Total to repay"),
        h("dd", {}, formatInr(quoted.total_payable)),
      );
      figures.hidden = false;
      schedule.replaceChildren(h("summary", {}, "Every installment"), quoteTable(quoted));
      schedule.hidden = false;
    } catch (error) {
      if (sequence !== previewSequence) return;
      figures.hidden = true;
      schedule.hidden = true;
      const fields = fieldErrors(error);
      summary.textContent = fields.amount || fields.annual_rate || fields.tenure_months || messageFor(error);
    }
  }

  form.addEventListener("input", (event) => {
    if (![amount.input, tenure.input, rate.input].includes(event.target)) return;
    clearTimeout(previewTimer);
    previewTimer = setTimeout(showPreview, PREVIEW_DELAY_MILLISECONDS);
  });

  function invalid(entry, message) {
    entry.error.textContent = message;
    entry.input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  const intent = intentKeeper();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    alert.hidden = true;
    receipt.hidden = true;
    const wanted = terms();
    const loanPurpose = purpose.input.value.trim();
    const fundingDays = days.input.value.trim() ? wholeNumber(days.input.value, 1, 14) : null;
    invalid(amount, wanted.amount ? "" : "Enter an amount such as 50000 or 50000.50.");
    invalid(tenure, wanted.tenure_months ? "" : "Enter a whole number of months from 1 to 36.");
    invalid(rate, wanted.annual_rate ? "" : "Enter a rate such as 14 or 14.50.");
    invalid(purpose, loanPurpose.length >= 3 ? "" : "Say in a few words what the loan is for.");
    invalid(days, days.input.value.trim() && !fundingDays ? "Enter a whole number of days from 1 to 14." : "");
    if (!wanted.amount || !wanted.tenure_months || !wanted.annual_rate || loanPurpose.length < 3 || (days.input.value.trim() && !fundingDays)) return;
    const body = { ...wanted, purpose: loanPurpose };
    if (fundingDays) body.funding_days = fundingDays;
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const created = await intent.run((key) => requestLoan(body, key, { onRetry: () => (button.textContent = "Retrying…") }));
      receipt.replaceChildren(
        h("strong", {}, `Your request for ${formatInr(created.amount)} is open to lenders`),
        h("br"),
        `until ${formatDate(created.funding_deadline)}. It is disbursed to you when fully funded.`,
      );
      receipt.hidden = false;
      toast("Loan request sent");
      form.reset();
      showPreview();
      loadRequests();
    } catch (error) {
      const fields = error instanceof ApiError ? fieldErrors(error) : {};
      invalid(amount, fields.amount || "");
      invalid(tenure, fields.tenure_months || "");
      invalid(rate, fields.annual_rate || "");
      invalid(purpose, fields.purpose || "");
      invalid(days, fields.funding_days || "");
      alert.replaceChildren(messageFor(error));
      if (isUncertain(error)) alert.append(" Sending it again is safe: the request will not be made twice.");
      alert.hidden = false;
    } finally {
      button.disabled = false;
      button.textContent = "Ask to borrow";
    }
  });

  function requestItem(loan) {
    const item = h(
      "li",
      { class: "loan", "data-loan": loan.id, "data-status": loan.display_status },
      h("div", { class: "loan-head" }, h("strong", {}, loan.purpose), statusBadge(loan.display_status)),
      h("p", { class: "meta" }, loanTerms(loan)),
    );
    if (loan.status !== "OPEN") {
      item.append(h("a", { href: `#/loans/${loan.id}`, class: "more" }, `Open the loan: ${loan.purpose}`));
      return item;
    }
    item.append(
      fundingProgress(loan, `funding-${loan.id}`),
      h("p", { class: "meta" }, `${loan.lenders} lender${loan.lenders === 1 ? "" : "s"} · open until ${formatDate(loan.funding_deadline)}`),
    );
    const actions = withdrawActions(loan.id, {
      button: { "data-action": "cancel" },
      confirmId: `confirm-withdraw-${loan.id}`,
      afterWithdraw: async () => {
        await loadRequests();
        requests.querySelector("h2").focus();
      },
    });
    item.append(actions);
    return item;
  }

  async function loadRequests() {
    try {
      const page = await myLoans("borrower");
      requestsList.replaceChildren(...page.results.map(requestItem));
      requestsStatus.textContent = page.results.length ? "" : "You have not asked to borrow yet.";
      requestsStatus.hidden = page.results.length > 0;
    } catch (error) {
      requestsStatus.hidden = false;
      requestsStatus.textContent = `Could not load your requests. ${messageFor(error)}`;
    }
  }

  showPreview();
  loadRequests();
  return () => clearTimeout(previewTimer);
}
