"""A monthly statement as CSV (RFC 4180): a header row, the opening balance, every movement, the
closing balance. What a spreadsheet or an accountant's import takes.

- Times are in India Standard Time, ISO 8601 with the offset (``2026-11-24T15:30:00+05:30``): the
  statement's month is an IST month, and the offset keeps them unambiguous.
- Amounts are rupees with two places, unsigned, in a debit or a credit column; ``balance`` is the
  balance after the row.
- Names and notes come from other people: a cell of theirs that a spreadsheet would read as a
  formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with
  ``'`` (OWASP's advice against CSV injection), so opening a statement never runs anything.
- UTF-8 without a byte-order mark (names may be in any script); lines end with CRLF.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from vaultpay.core.clock import IST
from vaultpay.core.money import format_paise
from vaultpay.wallet.models import Statement

MEDIA_TYPE = "text/csv; charset=utf-8"
COLUMNS = (
    "date",
    "reference_id",
    "kind",
    "status",
    "direction",
    "counterparty",
    "counterparty_email",
    "note",
    "loan_id",
    "debit",
    "credit",
    "balance",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str | None) -> str:
    """A cell of someone's text, never read as a formula."""
    if not value:
        return ""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _time(moment: datetime) -> str:
    return moment.astimezone(IST).isoformat(timespec="seconds")


def filename(statement: Statement) -> str:
    return f"vaultpay-statement-{statement.month}.csv"


def render(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    blank = [""] * 8
    writer.writerow([_time(statement.period_start), "", "OPENING_BALANCE", *blank, format_paise(statement.opening_balance)])
    for line in statement.lines:
        amount = format_paise(line.amount)
        writer.writerow(
            [
                _time(line.created_at),
                line.reference_id,
                line.kind or "",
                line.status,
                line.direction,
                _text(line.counterparty.full_name),
                _text(line.counterparty.email),
                _text(line.note),
                line.loan_id or "",
                amount if line.direction == "sent" else "",
                amount if line.direction == "received" else "",
                format_paise(line.balance_after),
            ]
        )
    closing_at = statement.period_end if statement.closed else statement.generated_at
    writer.writerow([_time(closing_at), "", "CLOSING_BALANCE", *blank, format_paise(statement.closing_balance)])
    return out.getvalue()
