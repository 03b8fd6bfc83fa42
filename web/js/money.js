// Amounts travel as decimal strings ("250.00"); they are shown as INR with Indian digit grouping
// (₹1,00,000.00). Formatting works on the digits, never through a binary float.

const grouping = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 0 });

export function formatInr(amount) {
  const text = String(amount);
  const negative = text.startsWith("-");
  const [rupees, paise = "00"] = text.replace("-", "").split(".");
  const grouped = grouping.format(BigInt(rupees || "0"));
  return `${negative ? "−" : ""}₹${grouped}.${paise.padEnd(2, "0").slice(0, 2)}`;
}

export const AMOUNT_PATTERN = /^\d{1,9}(\.\d{1,2})?$/;

export function normalizeAmount(input) {
  const text = input.trim().replace(/,/g, "");
  if (!AMOUNT_PATTERN.test(text)) return null;
  const [rupees, paise = ""] = text.split(".");
  if (BigInt(rupees) === 0n && Number(paise || "0") === 0) return null;
  return `${BigInt(rupees)}.${paise.padEnd(2, "0")}`;
}

export function formatDate(iso) {
  return new Date(iso).toLocaleString("en-IN", { dateStyle: "medium", timeStyle: "short" });
}
