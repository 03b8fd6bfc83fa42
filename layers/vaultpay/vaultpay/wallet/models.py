"""The wallet feature's models: transfer requests and receipts, balance, history and detail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from vaultpay.core.models import Email, Money, Note, Paise, RequestModel, ResponseModel, Timestamp, amount_json_schema
from vaultpay.core.money import MAX_TRANSFER_PAISE
from vaultpay.core.records import TransactionKind, TransactionStatus

TransferAmount = Annotated[
    Paise,
    # The maximum is the logic's (a 422 amount-above-limit, lower if the deployment says so).
    WithJsonSchema(
        amount_json_schema(MAX_TRANSFER_PAISE, "Above the maximum: 422 amount-above-limit (a deployment may set it lower)."),
        mode="validation",
    ),
]


class TransferRequest(RequestModel):
    receiver_email: Email = Field(description="The receiver's e-mail address: someone registered, not the sender.")
    amount: TransferAmount
    note: Note | None = None


class Party(ResponseModel):
    email: str
    full_name: str


Direction = Literal["sent", "received"]


class TransferReceipt(ResponseModel):
    reference_id: str
    status: TransactionStatus
    amount: Money
    receiver: Party
    note: str | None
    created_at: Timestamp
    balance: Money = Field(description="The sender's balance right after the transfer.")


class Balance(ResponseModel):
    balance: Money
    currency: Literal["INR"] = "INR"
    version: int


class SendingLimits(ResponseModel):
    day: str = Field(description="Today's date in India Standard Time (the limit's calendar day).")
    daily_limit: Money
    sent_today: Money
    remaining_today: Money
    resets_at: Timestamp = Field(description="When the day ends: midnight IST, in UTC.")
    step_up_threshold: Money = Field(description="Transfers above this amount need a step-up grant (X-Step-Up).")


class HistoryEntry(ResponseModel):
    reference_id: str
    direction: Direction
    counterparty: Party
    amount: Money
    status: TransactionStatus
    note: str | None
    created_at: Timestamp
    kind: TransactionKind | None = Field(default=None, description="What moved the money (absent on entries older than lending).")
    loan_id: str | None = Field(default=None, description="The loan a lending movement belongs to.")


class HistoryPage(ResponseModel):
    results: list[HistoryEntry]
    next_cursor: str | None


StatementMonth = Annotated[
    str,
    Field(
        pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
        description="A calendar month in India Standard Time, YYYY-MM.",
        examples=["2026-11"],
    ),
]


class StatementLine(ResponseModel):
    reference_id: str
    created_at: Timestamp
    kind: TransactionKind | None = Field(description="What moved the money (absent on entries older than lending).")
    status: TransactionStatus = Field(description="PENDING: a loan commitment still in escrow; REFUNDED: given back since.")
    direction: Direction
    counterparty: Party
    amount: Money
    balance_after: Money = Field(description="The balance right after this movement.")
    note: str | None
    loan_id: str | None


class Statement(ResponseModel):
    """A month of one account: every movement, oldest first, between its opening and closing balance."""

    month: str = Field(description="The calendar month in India Standard Time, YYYY-MM.")
    account: Party
    currency: Literal["INR"] = "INR"
    period_start: Timestamp = Field(description="Midnight IST on the month's first day, in UTC.")
    period_end: Timestamp = Field(description="Midnight IST on the next month's first day, in UTC (not included).")
    closed: bool = Field(description="The month is over: the statement no longer changes. False: the month so far.")
    opening_balance: Money = Field(description="The balance at the period's start.")
    closing_balance: Money = Field(description="The balance at the period's end (while the month is not over: now).")
    total_credits: Money
    total_debits: Money
    lines: list[StatementLine] = Field(
        description="Every movement of the month, oldest first (failed transfers moved nothing: not listed)."
    )
    generated_at: Timestamp


class TransactionDetail(ResponseModel):
    reference_id: str
    kind: TransactionKind
    status: TransactionStatus
    direction: Direction
    amount: Money
    sender: Party
    receiver: Party
    note: str | None
    failure_reason: str | None
    created_at: Timestamp
    loan_id: str | None = None


# ---------------------------------------------------------------- inside the function
class TransferCommand(BaseModel):
    """A transfer as the idempotency layer sees it: who, with which key, asked for what.

    Its key is (user_id, idempotency_key); its payload, checked on every retry, is the
    normalized transfer (amount in paise, e-mail lower-cased), so "250" and "250.00" agree.
    """

    model_config = ConfigDict(frozen=True)

    user_id: str
    idempotency_key: str
    transfer: TransferRequest
    # Not part of the payload Powertools validates: a retry with a fresh grant is the same payment.
    session_id: str | None = None
    step_up_grant: str | None = Field(default=None, repr=False)


class SendingDay(BaseModel):
    """A calendar day in IST as the daily limit counts it: its date, the limit, when it ends."""

    model_config = ConfigDict(frozen=True)

    day: str
    limit: int
    resets_at: datetime


class Movement(BaseModel):
    """What a ledger entry does to its owner's balance, and nothing more (read to sum, not to show)."""

    model_config = ConfigDict(frozen=True)

    direction: Direction
    amount: int
    status: TransactionStatus


class TransferOutcome(BaseModel):
    """What a transfer returns, and whether it is the stored result of an earlier request."""

    model_config = ConfigDict(frozen=True)

    receipt: TransferReceipt
    replayed: bool = False
