import { ApiError, balance, commit, loan as loanDetail, myLoans, openLoans } from "../api.js";
import { field, h, toast } from "../dom.js";
import { intentKeeper, isUncertain } from "../intent.js";
import { borrowerRecord, fundingProgress, loanTerms, paise, rupees, statusBadge } from "../loans.js";
import { fieldErrors, messageFor } from "../messages.js";
import { formatDate, formatInr, normalizeAmount } from "../money.js";

const PAGE_SIZE = 5;
const MINIMUM_COMMITMENT = 50_000; // paise: the platform's smallest commitment (₹500), or all that remains

export function lendView(main) {
  const order = h(
    "select",
    { id: "open-order", name: "order" },
    h("option", { value: "newest" }, "Newest first"),
    h("option", { value: "rate" }, "Highest rate first"),
    h("option", { value: "tenure" }, "Shortest tenure first"),
  );
  const list = h("ul", { class: "loans", id: "open-requests" });
  const status = h("p", { class: "muted", id: "open-status", role: "status" }, "Loading…");
  const more = h("button", { type: "button", class: "secondary", id: "open-more", hidden: true }, "Load more");
  const mineList = h("ul", { class: "loans", id: "my-commitments" });
  const mineStatus = h("p", { class: "muted", id: "my-commitments-status" }, "Loading…");

  main.append(
    h("h1", {}, "Lend"),
    h(
      "section",
      { class: "card", "aria-labelledby": "open-title" },
      h("h2", { id: "open-title" }, "Requests open to lenders"),
      h("label", { class: "inline", for: "open-order" }, "Order ", order),
      status,
      list,
      h("div", { class: "actions" }, more),
    ),
    h("section", { class: "card", "aria-labelledby": "commitments-title" }, h("h2", { id: "commitments-title" }, "Your commitments"), mineStatus, mineList),
  );

  let cursor = null;
  // Each new listing (first load, another order) supersedes the ones before it: an answer that
  // arrives after a newer request was sent is dropped, or its cursor (of another order) would be
  // the next "Load more"'s, and refused.
  let listing = 0;
  let panel = null; // the one commit form open, and the request it is for

  function closePanel({ focus = true } = {}) {
    if (!panel) return;
    const { element, opener } = panel;
    element.remove();
    opener.setAttribute("aria-expanded", "false");
    if (focus) opener.focus();
    panel = null;
  }

  async function openPanel(loan, opener, item) {
    if (panel?.loan.id === loan.id) return closePanel();
    closePanel({ focus: false });
    const room = h("p", { class: "room", id: "commit-room" }, "Working out how much you may lend…");
    const amount = field({
      label: "Amount to lend (₹)",
      name: "commit_amount",
      inputmode: "decimal",
      autocomplete: "off",
      hint: "At least ₹500.00, or all that remains if less",
      required: true,
    });
    amount.input.setAttribute("aria-describedby", `commit-room ${amount.input.getAttribute("aria-describedby")}`);
    const alert = h("p", { class: "alert error", role: "alert", hidden: true, id: "commit-error" });
    const receipt = h("div", { class: "alert success receipt", role: "status", hidden: true, id: "commit-receipt" });
    const submit = h("button", { type: "submit", id: "commit-button" }, "Commit");
    const close = h("button", { type: "button", class: "secondary" }, "Close");
    const form = h("form", { novalidate: true, class: "commit-form", id: `commit-${loan.id}` }, room, amount.wrapper, alert, receipt, h("div", { class: "actions" }, submit, close));
    opener.setAttribute("aria-expanded", "true");
    item.append(form);
    panel = { loan, opener, element: form };
    close.addEventListener("click", () => closePanel());
    amount.input.focus();

    try {
      const [detail, current] = await Promise.all([loanDetail(loan.id), balance(null)]);
      const remaining = paise(detail.remaining);
      const most = Math.min(remaining, paise(detail.my_room.to_borrower), paise(detail.my_room.in_total), paise(current.balance));
      const minimum = Math.min(MINIMUM_COMMITMENT, remaining);
      room.replaceChildren(
        h("strong", {}, `You may lend up to ${formatInr(rupees(most))} now.`),
        h(
          "span",
          { class: "hint" },
          ` This request still needs ${formatInr(detail.remaining)}. The caps leave you ${formatInr(detail.my_room.to_borrower)} ` +
            `to lend to ${detail.borrower.full_name} and ${formatInr(detail.my_room.in_total)} in all; your balance is ${formatInr(current.balance)}.`,
        ),
      );
      amount.input.setAttribute("placeholder", rupees(most));
      amount.wrapper.querySelector(".hint").textContent =
        `At least ${formatInr(rupees(minimum))}; commit all that remains, or leave at least ₹500.00 for another lender.`;
    } catch (error) {
      room.textContent = `Could not work out how much you may lend. ${messageFor(error)}`;
    }

    const intent = intentKeeper();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      alert.hidden = true;
      receipt.hidden = true;
      const value = normalizeAmount(amount.input.value);
      amount.error.textContent = value ? "" : "Enter an amount such as 5000 or 5000.50.";
      amount.input.setAttribute("aria-invalid", value ? "false" : "true");
      if (!value) return;
      submit.disabled = true;
      submit.textContent = "Committing…";
      try {
        const done = await intent.run((key) => commit(loan.id, value, key, { onRetry: () => (submit.textContent = "Retrying…") }));
        const funded = done.loan_status === "ACTIVE" ? " The request is fully funded: the loan is disbursed." : ` The request is now ${formatInr(done.funded)} of ${formatInr(loan.amount)} funded.`;
        receipt.replaceChildren(h("strong", {}, `You committed ${formatInr(done.amount)}.`), funded, h("br"), `Your balance is ${formatInr(done.balance)}.`);
        receipt.hidden = false;
        submit.hidden = true;
        amount.wrapper.hidden = true;
        toast(`Committed ${formatInr(done.amount)}`);
        loadMine();
        const progress = item.querySelector(".funding");
        if (progress) progress.replaceWith(fundingProgress({ ...loan, funded: done.funded }, `funding-${loan.id}`));
      } catch (error) {
        const fields = error instanceof ApiError ? fieldErrors(error) : {};
        amount.error.textContent = fields.amount || "";
        alert.replaceChildren(messageFor(error));
        if (isUncertain(error)) alert.append(" Committing the same amount again is safe: it will not be taken twice.");
        alert.hidden = false;
      } finally {
        submit.disabled = false;
        submit.textContent = "Commit";
      }
    });
  }

  function requestItem(loan) {
    const item = h(
      "li",
      { class: "loan", "data-loan": loan.id },
      h("div", { class: "loan-head" }, h("strong", {}, loan.purpose), statusBadge(loan.display_status)),
      h("p", { class: "meta" }, `${loan.borrower.full_name} (${loan.borrower.email}) · ${borrowerRecord(loan.borrower.record)}`),
      h("p", { class: "meta" }, loanTerms(loan)),
      fundingProgress(loan, `funding-${loan.id}`),
      h("p", { class: "meta" }, `Needs ${formatInr(loan.remaining)} more · ${loan.lenders} lender${loan.lenders === 1 ? "" : "s"} · open until ${formatDate(loan.funding_deadline)}`),
    );
    const lend = h("button", { type: "button", "aria-expanded": "false", "data-action": "lend" }, `Lend to ${loan.borrower.full_name}`);
    lend.addEventListener("click", () => openPanel(loan, lend, item));
    item.append(h("div", { class: "actions" }, lend));
    return item;
  }

  async function loadOpen({ append = false } = {}) {
    const mine = append ? listing : ++listing;
    more.disabled = true;
    // Busy until the listing asked for last is shown: assistive technology (and a test) waits for
    // it rather than acting on a list about to be replaced.
    list.setAttribute("aria-busy", "true");
    try {
      const page = await openLoans({ order: order.value, cursor: append ? cursor : null, limit: PAGE_SIZE });
      if (mine !== listing) return;
      if (!append) {
        closePanel({ focus: false });
        list.replaceChildren();
      }
      const first = page.results[0] ? requestItem(page.results[0]) : null;
      list.append(...[first, ...page.results.slice(1).map(requestItem)].filter(Boolean));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const shown = list.children.length;
      status.textContent = shown ? `${shown} request${shown === 1 ? "" : "s"} shown${cursor ? "; more below" : ""}.` : "No requests are open to lenders right now.";
      if (append && first) first.querySelector("button")?.focus();
    } catch (error) {
      if (mine === listing) status.textContent = `Could not load the requests. ${messageFor(error)}`;
    } finally {
      if (mine === listing) {
        more.disabled = false;
        list.setAttribute("aria-busy", "false");
      }
    }
  }

  async function loadMine() {
    try {
      const page = await myLoans("lender");
      mineList.replaceChildren(
        ...page.results.map((loan) =>
          h(
            "li",
            { class: "loan", "data-loan": loan.id, "data-status": loan.display_status },
            h("div", { class: "loan-head" }, h("strong", {}, loan.purpose), statusBadge(loan.display_status)),
            h("p", { class: "meta" }, `${loan.borrower.full_name} · ${loanTerms(loan)}`),
            h("a", { href: `#/loans/${loan.id}`, class: "more" }, `Open the loan: ${loan.purpose}`),
          ),
        ),
      );
      mineStatus.hidden = page.results.length > 0;
      mineStatus.textContent = "You have not lent yet.";
    } catch (error) {
      mineStatus.hidden = false;
      mineStatus.textContent = `Could not load your commitments. ${messageFor(error)}`;
    }
  }

  order.addEventListener("change", () => loadOpen());
  more.addEventListener("click", () => loadOpen({ append: true }));
  loadOpen();
  loadMine();
}
