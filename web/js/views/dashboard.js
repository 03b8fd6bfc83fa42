import { balance, history, myLoans, statementCsv } from "../api.js";
import { h } from "../dom.js";
import { formatDay, kindLabel, statusBadge } from "../loans.js";
import { messageFor } from "../messages.js";
import { formatDate, formatInr } from "../money.js";

const POLL_MILLISECONDS = 3000;
const PAGE_SIZE = 10;

const STATUS_WORDS = { FAILED: "failed", PENDING: "in escrow", REFUNDED: "refunded" };

function describe(entry) {
  const sent = entry.direction === "sent";
  const who = entry.counterparty.full_name || entry.counterparty.email;
  const kind = entry.kind && entry.kind !== "TRANSFER" && entry.kind !== "WELCOME_CREDIT" ? `, ${kindLabel(entry.kind).toLowerCase()}` : "";
  const status = STATUS_WORDS[entry.status] ? `, ${STATUS_WORDS[entry.status]}` : "";
  return `${sent ? "To" : "From"} ${who}${kind}, ${sent ? "−" : "+"}${formatInr(entry.amount)}${status}`;
}

function historyItem(entry) {
  const sent = entry.direction === "sent";
  const failed = entry.status === "FAILED";
  const who = entry.counterparty.full_name || entry.counterparty.email;
  const kind = entry.kind && entry.kind !== "TRANSFER" ? kindLabel(entry.kind) : null;
  return h(
    "li",
    { class: failed ? "failed" : "", "data-reference": entry.reference_id, "data-status": entry.status, "data-kind": entry.kind || "TRANSFER" },
    h("span", { class: "who" }, sent ? `To ${who}` : `From ${who}`, entry.status !== "SUCCESS" ? statusBadge(entry.status) : null),
    h("span", { class: `amount ${entry.direction}` }, `${sent ? "−" : "+"}${formatInr(entry.amount)}`),
    h("span", { class: "meta" }, [formatDate(entry.created_at), kind, entry.note].filter(Boolean).join(" · ")),
  );
}

// This month in India Standard Time (statements are IST calendar months).
function thisMonth() {
  return new Date(Date.now() + 5.5 * 3600 * 1000).toISOString().slice(0, 7);
}

// The month of the newest movement shown (IST), offered until the person picks another: the
// stack's clock, not the browser's, says which month it is.
function monthOf(iso) {
  return new Date(new Date(iso).getTime() + 5.5 * 3600 * 1000).toISOString().slice(0, 7);
}

function statementCard() {
  const month = h("input", { type: "month", id: "statement-month", name: "month", value: thisMonth(), required: true, "aria-describedby": "statement-hint" });
  let chosen = false;
  month.addEventListener("input", () => (chosen = true));
  const follow = (newest) => {
    if (!chosen && newest) month.value = monthOf(newest.created_at);
  };
  const button = h("button", { type: "submit", id: "statement-download", class: "secondary" }, "Download CSV");
  const status = h("p", { class: "hint", id: "statement-status", role: "status" });
  const form = h(
    "form",
    { class: "statement-form" },
    h("label", { for: "statement-month" }, "Month", h("span", { class: "hint", id: "statement-hint" }, "Every movement of the month (IST) between its opening and closing balance"), month),
    h("div", { class: "actions" }, button),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!/^\d{4}-\d{2}$/.test(month.value)) {
      status.textContent = "Choose a month.";
      return;
    }
    button.disabled = true;
    status.textContent = "Preparing the statement…";
    try {
      const { blob, filename } = await statementCsv(month.value);
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      status.textContent = `Downloaded ${filename}.`;
    } catch (error) {
      status.textContent = messageFor(error);
    } finally {
      button.disabled = false;
    }
  });
  const card = h("section", { class: "card", "aria-labelledby": "statement-title" }, h("h2", { id: "statement-title" }, "Monthly statement"), form);
  return { card, follow };
}

// The person's loans at a glance: what falls due next on what they borrowed, and what they lend.
// Loaded once the balance and the history are shown: they come first.
function loansCard() {
  const body = h("div", { id: "loans-glance" }, h("p", { class: "muted" }, "Loading…"));
  // One after the other: one warm worker of the lending function serves both.
  const both = async () => [await myLoans("borrower", { limit: 10 }), await myLoans("lender", { limit: 50 })];
  const load = () => both().then(
    ([borrowed, lent]) => {
      const owing = borrowed.results.filter((loan) => loan.next_installment);
      const lines = owing.map((loan) =>
        h(
          "li",
          {},
          h("a", { href: `#/loans/${loan.id}` }, loan.purpose),
          " ",
          statusBadge(loan.display_status),
          h("br"),
          h("span", { class: "hint" }, `Installment ${loan.next_installment.number}: ${formatInr(loan.next_installment.amount)} due ${formatDay(loan.next_installment.due_on)}`),
        ),
      );
      const open = borrowed.results.filter((loan) => loan.status === "OPEN");
      for (const loan of open) {
        lines.push(h("li", {}, h("a", { href: "#/borrow" }, loan.purpose), " ", statusBadge(loan.display_status), h("br"), h("span", { class: "hint" }, `${formatInr(loan.funded)} of ${formatInr(loan.amount)} funded`)));
      }
      const active = lent.results.filter((loan) => ["ACTIVE", "OPEN"].includes(loan.status));
      body.replaceChildren(
        lines.length ? h("ul", { class: "glance" }, lines) : h("p", { class: "muted" }, "Nothing to repay."),
        h("p", {}, active.length ? `You lend to ${active.length} loan${active.length === 1 ? "" : "s"}.` : "You are not lending yet.", " ", h("a", { href: "#/loans" }, "All loans")),
      );
    },
    () => body.replaceChildren(h("p", { class: "muted" }, "Could not load your loans.")),
  );
  const card = h("section", { class: "card", "aria-labelledby": "glance-title" }, h("h2", { id: "glance-title" }, "Loans"), body);
  return { card, load };
}

export function dashboardView(main) {
  const amount = h("p", { class: "balance", id: "balance", "aria-live": "polite", "aria-atomic": "true" }, "…");
  // The list itself is not a live region (a refresh would re-read it all): new entries are
  // announced, one short sentence, by this polite status line.
  const list = h("ul", { class: "history", id: "history" });
  const announcer = h("p", { class: "visually-hidden", id: "history-news", role: "status" });
  const empty = h("p", { class: "empty", hidden: true }, "No transactions yet.");
  const more = h("button", { type: "button", class: "secondary", id: "load-more", hidden: true }, "Load more");
  const status = h("p", { class: "muted", id: "sync-status" });
  const statement = statementCard();
  const glance = loansCard();
  let glanceLoaded = false;
  main.append(
    h("h1", {}, "Dashboard"),
    h(
      "div",
      { class: "grid" },
      h(
        "div",
        { class: "column" },
        h(
          "section",
          { class: "card balance-card", "aria-labelledby": "balance-label" },
          h("p", { class: "balance-label", id: "balance-label" }, "Available balance"),
          amount,
          h("div", { class: "actions" }, h("a", { class: "button", href: "#/send" }, "Send money")),
        ),
        glance.card,
      ),
      h(
        "div",
        { class: "column" },
        h(
          "section",
          { class: "card", "aria-labelledby": "history-title" },
          h("h2", { id: "history-title" }, "History"),
          list,
          empty,
          announcer,
          h("div", { class: "actions" }, more),
          status,
        ),
        statement.card,
      ),
    ),
  );

  let etag = null;
  let version = null;
  let cursor = null; // where "Load more" continues: the end of the last page loaded
  let loaded = false;
  let stopped = false;
  let inFlight = null;
  const shown = new Map(); // reference_id -> <li>

  function show(entry, before) {
    const item = historyItem(entry);
    list.insertBefore(item, before);
    shown.set(entry.reference_id, item);
  }

  // Merges the first page into what is shown, keeping the pages loaded with "Load more": new
  // entries go in above the ones already shown, in the server's order.
  function mergeFirstPage(page) {
    const overlaps = page.results.some((entry) => shown.has(entry.reference_id));
    if (!loaded || (shown.size > 0 && page.results.length > 0 && !overlaps)) {
      // The first load, or more new entries than one page holds: start again from the top.
      const fresh = loaded ? page.results.filter((entry) => !shown.has(entry.reference_id)) : [];
      list.replaceChildren();
      shown.clear();
      for (const entry of page.results) show(entry, null);
      cursor = page.next_cursor;
      loaded = true;
      return fresh;
    }
    const added = [];
    let anchor = list.firstChild;
    for (const entry of page.results) {
      const existing = shown.get(entry.reference_id);
      if (existing && existing.dataset.status === entry.status) {
        anchor = existing.nextSibling;
        continue;
      }
      if (existing) {
        anchor = existing.nextSibling;
        existing.remove();
      } else {
        added.push(entry);
      }
      show(entry, anchor);
    }
    return added;
  }

  function announce(added) {
    if (added.length === 0) return;
    announcer.textContent =
      added.length === 1 ? `New transaction: ${describe(added[0])}` : `${added.length} new transactions, latest: ${describe(added[0])}`;
  }

  function showControls() {
    more.hidden = !cursor;
    empty.hidden = shown.size > 0;
  }

  async function loadMore() {
    more.disabled = true;
    try {
      const page = await history(cursor, PAGE_SIZE);
      for (const entry of page.results) if (!shown.has(entry.reference_id)) show(entry, null);
      cursor = page.next_cursor;
      showControls();
    } catch (error) {
      status.textContent = "Could not load more; try again.";
    } finally {
      more.disabled = false;
    }
  }

  async function refresh() {
    try {
      const [current, page] = await Promise.all([balance(etag), history(null, PAGE_SIZE)]);
      if (stopped) return;
      if (current) {
        etag = current.etag;
        const text = formatInr(current.balance);
        if (amount.textContent !== text) amount.textContent = text;
        if (version !== null && current.version !== version) {
          amount.classList.remove("flash");
          void amount.offsetWidth; // restart the animation
          amount.classList.add("flash");
        }
        version = current.version;
      }
      const wasLoaded = loaded;
      const added = mergeFirstPage(page);
      statement.follow(page.results[0]);
      if (!glanceLoaded) {
        glanceLoaded = true;
        glance.load();
      }
      if (wasLoaded) announce(added);
      showControls();
      status.textContent = `Updated ${new Date().toLocaleTimeString("en-IN")}`;
    } catch (error) {
      if (!stopped) status.textContent = "Could not refresh; retrying…";
    }
  }

  // One poll at a time (the interval, focus and visibilitychange can all ask at once), and none
  // while the tab is hidden.
  function poll() {
    if (stopped || document.hidden || inFlight) return;
    inFlight = refresh().finally(() => {
      inFlight = null;
    });
  }

  more.addEventListener("click", loadMore);
  const timer = setInterval(poll, POLL_MILLISECONDS);
  window.addEventListener("focus", poll);
  document.addEventListener("visibilitychange", poll);
  poll();

  return () => {
    stopped = true;
    clearInterval(timer);
    window.removeEventListener("focus", poll);
    document.removeEventListener("visibilitychange", poll);
  };
}
