import { loan as loanDetail, myLoans, repay } from "../api.js";
import { portfolioChart, scheduleChart } from "../charts.js";
import { h, toast } from "../dom.js";
import { intentKeeper, isUncertain } from "../intent.js";
import { askInPlace, formatDay, fundingProgress, loanTerms, paise, percent, rupees, statusBadge, withdrawActions } from "../loans.js";
import { messageFor } from "../messages.js";
import { formatDate, formatInr } from "../money.js";

function loanItem(loan) {
  const item = h(
    "li",
    { class: "loan", "data-loan": loan.id, "data-status": loan.display_status },
    h("div", { class: "loan-head" }, h("strong", {}, loan.purpose), statusBadge(loan.display_status)),
    h("p", { class: "meta" }, `${loan.role === "lender" ? `${loan.borrower.full_name} · ` : ""}${loanTerms(loan)}`),
  );
  if (loan.status === "OPEN") {
    item.append(fundingProgress(loan, `funding-${loan.id}`));
  } else if (loan.disbursed_at) {
    const repaid = paise(loan.amount) - paise(loan.principal_outstanding);
    item.append(
      h(
        "div",
        { class: "funding" },
        h("progress", { max: String(paise(loan.amount)), value: String(repaid), "aria-label": "Principal repaid", "aria-describedby": `repaid-${loan.id}` }),
        h("span", { class: "hint", id: `repaid-${loan.id}` }, `${formatInr(rupees(repaid))} of ${formatInr(loan.amount)} principal repaid (${percent(repaid, paise(loan.amount))}%)`),
      ),
    );
  }
  if (loan.next_installment) {
    const next = loan.next_installment;
    item.append(h("p", { class: "meta" }, `Installment ${next.number} of ${loan.tenure_months}: ${formatInr(next.amount)} due ${formatDay(next.due_on)}${next.status === "OVERDUE" ? " (overdue)" : ""}`));
  }
  item.append(h("a", { href: `#/loans/${loan.id}`, class: "more" }, `Open the loan: ${loan.purpose}`));
  return item;
}

// The lender's side of each loan, from its detail: received, overdue, still to come, in escrow.
function portfolioRow(detail) {
  const share = detail.my_share;
  const row = { label: `${detail.purpose} (${detail.borrower.full_name})`, received: 0, overdue: 0, outstanding: 0, escrow: 0 };
  if (!share || share.status === "REFUNDED") return row;
  if (detail.status === "OPEN") return { ...row, escrow: paise(share.committed) };
  for (const installment of share.installments) {
    const expected = paise(installment.expected);
    const received = paise(installment.received);
    row.received += received;
    if (detail.status === "DEFAULTED" || installment.status === "OVERDUE") row.overdue += expected - received;
    else row.outstanding += expected - received;
  }
  return row;
}

function loansList(main) {
  const borrowed = h("ul", { class: "loans", id: "borrowed-loans" });
  const borrowedStatus = h("p", { class: "muted" }, "Loading…");
  const lent = h("ul", { class: "loans", id: "lent-loans" });
  const lentStatus = h("p", { class: "muted" }, "Loading…");
  const portfolio = h("div", { id: "portfolio" });
  main.append(
    h("h1", {}, "Loans"),
    h(
      "section",
      { class: "card", "aria-labelledby": "borrowed-title" },
      h("h2", { id: "borrowed-title" }, "You borrow"),
      borrowedStatus,
      borrowed,
      h("div", { class: "actions" }, h("a", { class: "button secondary", href: "#/borrow" }, "Ask to borrow")),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "lent-title" },
      h("h2", { id: "lent-title" }, "You lend"),
      portfolio,
      lentStatus,
      lent,
      h("div", { class: "actions" }, h("a", { class: "button secondary", href: "#/lend" }, "Find requests to lend to")),
    ),
  );

  myLoans("borrower").then(
    (page) => {
      borrowed.replaceChildren(...page.results.map(loanItem));
      borrowedStatus.textContent = page.results.length ? "" : "You have no loans.";
      borrowedStatus.hidden = page.results.length > 0;
    },
    (error) => (borrowedStatus.textContent = `Could not load your loans. ${messageFor(error)}`),
  );
  myLoans("lender").then(
    async (page) => {
      lent.replaceChildren(...page.results.map((loan) => loanItem({ ...loan, role: "lender" })));
      lentStatus.textContent = page.results.length ? "" : "You have not lent yet.";
      lentStatus.hidden = page.results.length > 0;
      if (!page.results.length) return;
      const details = await Promise.all(page.results.map((loan) => loanDetail(loan.id).catch(() => null)));
      const rows = details.filter(Boolean).map(portfolioRow);
      portfolio.replaceChildren(portfolioChart(rows));
    },
    (error) => (lentStatus.textContent = `Could not load your commitments. ${messageFor(error)}`),
  );
}

function scheduleTable(schedule) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { id: "schedule" },
      h("caption", {}, "Schedule"),
      h("thead", {}, h("tr", {}, ["#", "Due", "Principal", "Interest", "Late fee", "Amount", "Status"].map((cell) => h("th", { scope: "col" }, cell)))),
      h(
        "tbody",
        {},
        schedule.map((i) =>
          h(
            "tr",
            { "data-status": i.status },
            h("th", { scope: "row" }, String(i.number)),
            h("td", {}, formatDay(i.due_on)),
            h("td", {}, formatInr(i.principal)),
            h("td", {}, formatInr(i.interest)),
            h("td", {}, formatInr(i.late_fee)),
            h("td", {}, formatInr(i.amount)),
            h("td", {}, statusBadge(i.status), i.paid_at ? h("span", { class: "hint" }, ` ${formatDate(i.paid_at)}`) : null),
          ),
        ),
      ),
    ),
  );
}

function shareTable(share) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { id: "my-share" },
      h("caption", {}, "Your share: expected and received"),
      h("thead", {}, h("tr", {}, ["#", "Expected", "Received", "Status"].map((cell) => h("th", { scope: "col" }, cell)))),
      h(
        "tbody",
        {},
        share.installments.map((i) =>
          h("tr", {}, h("th", { scope: "row" }, String(i.number)), h("td", {}, formatInr(i.expected)), h("td", {}, formatInr(i.received)), h("td", {}, statusBadge(i.status))),
        ),
      ),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, "In all"), h("td", {}, formatInr(share.expected_total)), h("td", {}, formatInr(share.received_total)), h("td", {}))),
    ),
  );
}

// The borrower's repayments: the next installment, or everything outstanding, each an intended
// operation with its own Idempotency-Key kept until its outcome is known (a lost answer retried
// pays once). Kept here, not in the page, so leaving the page and coming back still retries:
// "pay installment 3" is one operation until the page shows it paid (then installment 4 is another).
const repayments = new Map();

function repaymentIntent(name) {
  if (!repayments.has(name)) repayments.set(name, intentKeeper());
  return repayments.get(name);
}

function repayActions(detail, reload) {
  const next = detail.next_installment;
  const alert = h("p", { class: "alert error", role: "alert", hidden: true, id: "repay-error" });
  const payNext = h("button", { type: "button", id: "pay-next" }, `Pay installment ${next.number}: ${formatInr(next.amount)}`);
  const prepay = h("button", { type: "button", class: "secondary", id: "prepay" }, "Prepay the whole loan");
  const buttons = h("div", { class: "actions" }, payNext, prepay);
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "repay-title", id: "repay" },
    h("h2", { id: "repay-title" }, "Repay"),
    h("p", { class: "meta" }, `Installment ${next.number} is due ${formatDay(next.due_on)}. Prepaying pays the ${formatInr(detail.principal_outstanding)} principal still owed and any arrears, with no penalty and no further interest.`),
    alert,
    buttons,
  );
  const intents = { next: repaymentIntent(`${detail.id}:next:${next.number}`), prepay: repaymentIntent(`${detail.id}:prepay`) };

  let busy = false;
  async function pay(which, button, label) {
    if (busy) return;
    busy = true;
    alert.hidden = true;
    for (const b of buttons.querySelectorAll("button")) b.disabled = true;
    button.textContent = "Paying…";
    try {
      const done = await intents[which].run((key) => repay(detail.id, which === "prepay", key, { onRetry: () => (button.textContent = "Retrying…") }));
      const what = done.installments.length === 1 ? `installment ${done.installments[0]}` : `installments ${done.installments.join(", ")}`;
      toast(`Paid ${formatInr(done.amount)}`);
      await reload(`Paid ${what}: ${formatInr(done.amount)}. ${done.loan_status === "REPAID" ? "The loan is repaid." : ""} Your balance is ${formatInr(done.balance)}.`);
    } catch (error) {
      alert.replaceChildren(messageFor(error));
      if (isUncertain(error)) alert.append(" Paying again is safe: it will not be paid twice.");
      alert.hidden = false;
      for (const b of buttons.querySelectorAll("button")) b.disabled = false;
      button.textContent = label;
    } finally {
      busy = false;
    }
  }

  payNext.addEventListener("click", () => pay("next", payNext, payNext.textContent));
  prepay.addEventListener("click", () =>
    askInPlace(buttons, {
      question: `Pay off the loan now? This pays ${formatInr(detail.principal_outstanding)} principal and any arrears from your balance.`,
      confirmLabel: "Prepay now",
      keepLabel: "Not now",
      confirmId: "confirm-prepay",
      onConfirm: (confirm) => pay("prepay", confirm, "Prepay now"),
    }),
  );
  return section;
}

function loanPage(main, id) {
  const status = h("p", { class: "muted" }, "Loading…");
  main.append(h("p", {}, h("a", { href: "#/loans" }, "← All loans")), h("h1", {}, "Loan"), status);

  async function render(message) {
    let detail;
    try {
      detail = await loanDetail(id);
    } catch (error) {
      status.textContent = error?.code === "loan-not-found" ? "There is no such loan." : `Could not load the loan. ${messageFor(error)}`;
      return;
    }
    const heading = h("h1", { tabindex: "-1" }, detail.purpose, " ", statusBadge(detail.display_status, { id: "loan-status" }));
    const facts = h(
      "dl",
      { class: "figures" },
      h("dt", {}, "Borrower"),
      h("dd", {}, detail.role === "borrower" ? "You" : `${detail.borrower.full_name} (${detail.borrower.email})`),
      h("dt", {}, "Terms"),
      h("dd", {}, loanTerms(detail)),
      detail.disbursed_at ? [h("dt", {}, "Disbursed"), h("dd", {}, formatDate(detail.disbursed_at))] : [h("dt", {}, "Open until"), h("dd", {}, formatDate(detail.funding_deadline))],
      h("dt", {}, "Principal repaid"),
      h("dd", {}, `${formatInr(detail.principal_repaid)} (${formatInr(detail.principal_outstanding)} still owed)`),
      h("dt", {}, "Interest paid"),
      h("dd", {}, formatInr(detail.interest_paid)),
    );
    const parts = [h("p", {}, h("a", { href: "#/loans" }, "← All loans")), heading];
    if (message) parts.push(h("div", { class: "alert success receipt", role: "status", id: "repay-receipt" }, message));
    parts.push(h("section", { class: "card" }, facts, detail.status === "OPEN" ? fundingProgress(detail, "loan-funding") : null));
    if (detail.role === "borrower" && detail.status === "ACTIVE" && detail.next_installment) parts.push(repayActions(detail, render));
    if (detail.role === "borrower" && detail.status === "OPEN") {
      const actions = withdrawActions(detail.id, {
        button: { id: "withdraw" },
        confirmId: "confirm-withdraw",
        afterWithdraw: () => render("Request withdrawn: every commitment went back to its lender."),
      });
      parts.push(actions);
    }
    const chartCard = h("section", { class: "card", "aria-labelledby": "schedule-title" }, h("h2", { id: "schedule-title" }, detail.status === "OPEN" ? "Schedule, if disbursed today" : "Repayments"));
    if (detail.status !== "OPEN") chartCard.append(scheduleChart(detail.schedule));
    chartCard.append(scheduleTable(detail.schedule));
    parts.push(chartCard);
    if (detail.my_share) {
      const share = detail.my_share;
      parts.push(
        h(
          "section",
          { class: "card", "aria-labelledby": "share-title", id: "share" },
          h("h2", { id: "share-title" }, "Your share"),
          h("p", { id: "share-summary" }, `You lent ${formatInr(share.committed)} (${share.status.toLowerCase()}). Expected in all ${formatInr(share.expected_total)}; received ${formatInr(share.received_total)}.`),
          share.installments.length ? shareTable(share) : null,
        ),
      );
    }
    // The heading shown while loading had the focus (a route change puts it there): the loan's own takes it over.
    const focused = document.activeElement;
    const hadFocus = focused === document.body || main.contains(focused);
    main.replaceChildren(...parts);
    if (message || hadFocus) heading.focus();
  }
  render();
}

export function loansView(main, { params = [] } = {}) {
  if (params[0]) loanPage(main, params[0]);
  else loansList(main);
}
