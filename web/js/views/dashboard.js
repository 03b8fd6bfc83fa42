import { balance, history } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { formatDate, formatInr } from "../money.js";

const POLL_MILLISECONDS = 3000;
const PAGE_SIZE = 10;

function historyItem(entry) {
  const sent = entry.direction === "sent";
  const failed = entry.status !== "SUCCESS";
  const who = entry.counterparty.full_name || entry.counterparty.email;
  return h(
    "li",
    { class: failed ? "failed" : "", "data-reference": entry.reference_id },
    h("span", { class: "who" }, sent ? `To ${who}` : `From ${who}`, failed ? h("span", { class: "badge" }, "Failed") : null),
    h("span", { class: `amount ${entry.direction}` }, `${sent ? "−" : "+"}${formatInr(entry.amount)}`),
    h("span", { class: "meta" }, [formatDate(entry.created_at), entry.note].filter(Boolean).join(" · ")),
  );
}

export function dashboardView(main) {
  const amount = h("p", { class: "balance", id: "balance", "aria-live": "polite", "aria-atomic": "true" }, "…");
  const list = h("ul", { class: "history", id: "history", "aria-live": "polite" });
  const empty = h("p", { class: "empty", hidden: true }, "No transactions yet.");
  const more = h("button", { type: "button", class: "secondary", id: "load-more", hidden: true }, "Load more");
  const status = h("p", { class: "muted", id: "sync-status" });
  main.append(
    h("h1", {}, "Dashboard"),
    h(
      "div",
      { class: "grid" },
      h(
        "section",
        { class: "card balance-card", "aria-labelledby": "balance-label" },
        h("p", { class: "balance-label", id: "balance-label" }, "Available balance"),
        amount,
        h("div", { class: "actions" }, h("a", { class: "button", href: "#/send" }, "Send money")),
      ),
      h("section", { class: "card", "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "History"), list, empty, h("div", { class: "actions" }, more), status),
    ),
  );

  let etag = null;
  let version = null;
  let cursor = null;
  let stopped = false;

  async function loadFirstPage() {
    const page = await history(null, PAGE_SIZE);
    replaceChildren(list, page.results.map(historyItem));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = page.results.length > 0;
  }

  async function loadMore() {
    more.disabled = true;
    try {
      const page = await history(cursor, PAGE_SIZE);
      list.append(...page.results.map(historyItem));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } finally {
      more.disabled = false;
    }
  }

  async function poll() {
    if (stopped) return;
    try {
      const current = await balance(etag);
      if (current) {
        etag = current.etag;
        amount.textContent = formatInr(current.balance);
        if (version !== null && current.version !== version) {
          amount.classList.remove("flash");
          void amount.offsetWidth; // restart the animation
          amount.classList.add("flash");
        }
        const changed = version !== current.version;
        version = current.version;
        if (changed) await loadFirstPage();
      }
      status.textContent = `Updated ${new Date().toLocaleTimeString("en-IN")}`;
    } catch (error) {
      status.textContent = "Could not refresh; retrying…";
    }
  }

  more.addEventListener("click", loadMore);
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") poll();
  }, POLL_MILLISECONDS);
  const onFocus = () => poll();
  window.addEventListener("focus", onFocus);
  document.addEventListener("visibilitychange", onFocus);
  poll();

  return () => {
    stopped = true;
    clearInterval(timer);
    window.removeEventListener("focus", onFocus);
    document.removeEventListener("visibilitychange", onFocus);
  };
}
