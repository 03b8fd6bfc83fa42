// Charts in plain SVG, built with DOM APIs (no library, no build step, nothing inline for the CSP
// to refuse). Each is a figure whose picture has a summary in words (role="img", aria-label) and
// whose figures are also a table ("Show as a table"): nothing is said by colour alone.
import { h } from "./dom.js";
import { formatInr } from "./money.js";
import { formatDay, paise, rupees } from "./loans.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

// Colours of the parts, each at least 3:1 against the white between them (WCAG 1.4.11).
export const COLOURS = {
  paid: "#146c2e", // 6.4:1
  overdue: "#a4161a", // 7.4:1
  due: "#6b7b76", // 4.5:1
  escrow: "#8a5a00", // 5.9:1
};
// A column still to pay is drawn open: a pale fill inside a 4.5:1 outline.
const OPEN_FILL = "#e8eeec";

function swatch(key, open = false) {
  const attributes = open ? { x: 1, y: 1, width: 10, height: 10, fill: OPEN_FILL, stroke: COLOURS[key], "stroke-width": 2 } : { width: 12, height: 12, fill: COLOURS[key] };
  return s("svg", { width: 12, height: 12, viewBox: "0 0 12 12" }, s("rect", { rx: 2, ...attributes }));
}

function legend(items) {
  return h(
    "ul",
    { class: "legend", "aria-hidden": "true" },
    items.map(([key, text, open]) => h("li", {}, swatch(key, open), text)),
  );
}

function table(caption, head, rows) {
  return h(
    "details",
    { class: "chart-table" },
    h("summary", {}, "Show as a table"),
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, caption),
        h("thead", {}, h("tr", {}, head.map((cell) => h("th", { scope: "col" }, cell)))),
        h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, index) => (index === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell)))))),
      ),
    ),
  );
}

// A loan's schedule: one column per installment, its height the amount, filled when paid, red
// when overdue, grey while due.
export function scheduleChart(schedule, { id = "schedule-chart" } = {}) {
  const paid = schedule.filter((i) => i.status === "PAID");
  const overdue = schedule.filter((i) => i.status === "OVERDUE");
  const total = schedule.reduce((sum, i) => sum + paise(i.amount), 0);
  const paidTotal = paid.reduce((sum, i) => sum + paise(i.paid_amount), 0);
  const summary =
    `Repayment progress: ${paid.length} of ${schedule.length} installments paid ` +
    `(${formatInr(rupees(paidTotal))} of ${formatInr(rupees(total))})` +
    (overdue.length ? `, ${overdue.length} overdue` : "");
  const width = 600;
  const height = 120;
  const gap = schedule.length > 24 ? 2 : 4;
  const column = (width - gap * (schedule.length - 1)) / Math.max(1, schedule.length);
  const highest = Math.max(1, ...schedule.map((i) => paise(i.amount)));
  const picture = s("svg", { viewBox: `0 0 ${width} ${height + 18}`, role: "img", "aria-label": summary, class: "chart", id, preserveAspectRatio: "xMidYMid meet" });
  picture.append(s("line", { x1: 0, x2: width, y1: height + 0.5, y2: height + 0.5, stroke: "#4a5a55", "stroke-width": 1 }));
  schedule.forEach((installment, index) => {
    const x = index * (column + gap);
    const tall = Math.max(2, (paise(installment.amount) / highest) * (height - 8));
    const key = installment.status === "PAID" ? "paid" : installment.status === "OVERDUE" ? "overdue" : "due";
    const open = key === "due";
    const rect = s("rect", {
      x: open ? x + 1 : x,
      y: height - tall + (open ? 1 : 0),
      width: open ? column - 2 : column,
      height: open ? tall - 1 : tall,
      rx: 2,
      fill: open ? OPEN_FILL : COLOURS[key],
      stroke: open ? COLOURS.due : "none",
      "stroke-width": open ? 2 : 0,
      "data-status": installment.status,
    });
    rect.append(s("title", {}, `Installment ${installment.number}, ${formatDay(installment.due_on)}: ${formatInr(installment.amount)}, ${installment.status.toLowerCase()}`));
    picture.append(rect);
    if (schedule.length <= 24 || installment.number % 3 === 0 || installment.number === 1) {
      picture.append(s("text", { x: x + column / 2, y: height + 14, "text-anchor": "middle", "font-size": 11, fill: "#4a5a55" }, installment.number));
    }
  });
  return h(
    "figure",
    { class: "chart-figure" },
    h("figcaption", {}, summary),
    picture,
    legend([
      ["paid", "Paid"],
      ["due", "Still to pay", true],
      ["overdue", "Overdue"],
    ]),
  );
}

// A lender's portfolio: one bar per loan (received, overdue, still to come), and the total.
// rows: [{label, received, overdue, outstanding, escrow}] in paise.
export function portfolioChart(rows, { id = "portfolio-chart" } = {}) {
  const totals = rows.reduce(
    (sum, row) => ({
      received: sum.received + row.received,
      overdue: sum.overdue + row.overdue,
      outstanding: sum.outstanding + row.outstanding,
      escrow: sum.escrow + row.escrow,
    }),
    { received: 0, overdue: 0, outstanding: 0, escrow: 0 },
  );
  const money = (value) => formatInr(rupees(value));
  const summary =
    `Your lending: ${money(totals.received)} received, ${money(totals.outstanding)} still to come, ` +
    `${money(totals.overdue)} overdue, ${money(totals.escrow)} in escrow awaiting funding`;
  const all = { label: "All loans", ...totals, total: true };
  const everything = [all, ...rows];
  const widest = Math.max(1, ...everything.map((r) => r.received + r.overdue + r.outstanding + r.escrow));
  const bars = everything.map((row) => {
    const parts = [
      ["paid", row.received],
      ["overdue", row.overdue],
      ["due", row.outstanding],
      ["escrow", row.escrow],
    ].filter(([, value]) => value > 0);
    const bar = s("svg", { viewBox: "0 0 1000 24", preserveAspectRatio: "none", class: "bar", "aria-hidden": "true" });
    let x = 0;
    for (const [key, value] of parts) {
      const wide = Math.max(3, (value / widest) * 1000);
      bar.append(s("rect", { x, y: 0, width: Math.max(1, wide - 3), height: 24, fill: COLOURS[key], "data-part": key }));
      x += wide;
    }
    return h(
      "div",
      { class: `bar-row${row.total ? " total" : ""}` },
      h("span", { class: "bar-label" }, row.label),
      bar,
      h("span", { class: "bar-value" }, `${money(row.received)} of ${money(row.received + row.overdue + row.outstanding)}`),
    );
  });
  return h(
    "figure",
    { class: "chart-figure portfolio", id },
    h("figcaption", {}, "Received against what the schedules pay you"),
    h("div", { role: "img", "aria-label": summary, class: "bars" }, bars),
    legend([
      ["paid", "Received"],
      ["overdue", "Overdue"],
      ["due", "Still to come"],
      ["escrow", "In escrow"],
    ]),
    table(
      "Your lending, loan by loan",
      ["Loan", "Received", "Overdue", "Still to come", "In escrow"],
      everything.map((row) => [row.label, money(row.received), money(row.overdue), money(row.outstanding), money(row.escrow)]),
    ),
  );
}
