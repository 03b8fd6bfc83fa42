"""The lending feature's models: its records (loans, installments, commitments) and its API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from vaultpay.core.models import Money, Paise, RequestModel, ResponseModel, Timestamp, amount_json_schema
from vaultpay.core.money import format_paise, paise_from_wire, parse_amount
from vaultpay.core.records import PartyRef
from vaultpay.core.text import NOTE_PATTERN, refuse_invisible

LoanStatus = Literal["OPEN", "ACTIVE", "REPAID", "CANCELLED", "EXPIRED", "DEFAULTED"]
InstallmentStatus = Literal["DUE", "PAID", "OVERDUE"]
CommitmentStatus = Literal["COMMITTED", "REFUNDED"]
DisplayStatus = Literal["PENDING", "ACTIVE", "OVERDUE", "REPAID", "CANCELLED", "EXPIRED", "DEFAULTED"]
LoanRole = Literal["borrower", "lender"]
OpenLoanOrder = Literal["newest", "rate", "tenure"]


# ---------------------------------------------------------------- records
class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Installment(_Record):
    number: int
    due_on: date
    principal: int
    interest: int
    status: InstallmentStatus = "DUE"
    late_fee: int = 0
    paid_amount: int = 0
    paid_at: datetime | None = None
    reference_id: str | None = None

    @property
    def amount_due(self) -> int:
        return self.principal + self.interest + self.late_fee


class LoanRecord(_Record):
    loan_id: str
    borrower: PartyRef
    amount: int
    funded: int = 0
    escrow: int = 0
    lender_count: int = 0
    tenure_months: int
    annual_rate_bp: int
    purpose: str
    status: LoanStatus = "OPEN"
    funding_deadline: datetime
    created_at: datetime
    version: int = 1
    disbursed_at: datetime | None = None
    principal_outstanding: int = 0
    principal_repaid: int = 0
    interest_paid: int = 0
    late_fees_paid: int = 0
    schedule: tuple[Installment, ...] = ()
    next_attempt_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def unpaid(self) -> list[Installment]:
        return [installment for installment in self.schedule if installment.status != "PAID"]

    @property
    def display_status(self) -> DisplayStatus:
        if self.status == "OPEN":
            return "PENDING"
        if self.status == "ACTIVE" and any(installment.status == "OVERDUE" for installment in self.schedule):
            return "OVERDUE"
        return self.status


class CommitmentRecord(_Record):
    loan_id: str
    lender: PartyRef
    amount: int
    status: CommitmentStatus = "COMMITTED"
    reference_id: str
    created_at: datetime


class BorrowerRecord(_Record):
    """What lenders see of a borrower's past: loans repaid and defaulted, installments paid late."""

    loans_repaid: int = 0
    loans_defaulted: int = 0
    late_installments: int = 0


# ---------------------------------------------------------------- the API: field types
def _rate_basis_points(value: object) -> int:
    # A percentage with at most two decimals is whole hundredths: parsed exactly like an amount.
    return parse_amount(value)


AnnualRate = Annotated[
    int,
    BeforeValidator(_rate_basis_points),
    Field(gt=0),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^(?:[1-2][0-9]|3[0-5])(?:\.[0-9]{1,2})?$|^36(?:\.0{1,2})?$",
                    "examples": ["14.50"],
                },
                {"type": "number", "minimum": 10, "maximum": 36, "multipleOf": 0.01},
            ],
            "description": (
                "Annual interest rate in percent, at most two decimals, within the platform's band "
                "(10.00 to 36.00 by default; outside it: 422 loan-terms-invalid)."
            ),
        },
        mode="validation",
    ),
]
"""A rate on the wire ("14.50" percent), in basis points once validated (1450)."""

RatePercent = Annotated[
    int,
    BeforeValidator(paise_from_wire),  # read back as written (a replayed response)
    PlainSerializer(format_paise, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["14.50"]}, mode="serialization"),
]
"""A rate in a response: basis points inside, a percentage with two decimals outside."""

Purpose = Annotated[
    str,
    Field(
        min_length=3,
        max_length=140,
        json_schema_extra={"pattern": NOTE_PATTERN, "description": "No control or invisible formatting characters; trimmed."},
    ),
    AfterValidator(refuse_invisible),
    AfterValidator(str.strip),
]
TenureMonths = Annotated[int, Field(ge=1, le=36, description="Months, 1 to 36 (the platform may allow fewer).")]


# ---------------------------------------------------------------- the API: requests
LoanAmount = Annotated[
    Paise,
    WithJsonSchema(
        {
            "anyOf": [
                # Rs 1,000.00 to Rs 10,00,000.00 (the platform's smallest loan and the borrower cap)
                {
                    "type": "string",
                    "pattern": r"^(?:[1-9][0-9]{3,5}(?:\.[0-9]{1,2})?|1000000(?:\.0{1,2})?)$",
                    "examples": ["50000.00"],
                },
                {"type": "number", "minimum": 1000, "maximum": 1000000, "multipleOf": 0.01},
            ],
            "description": (
                "Rupees, from 1000.00 to 1000000.00 (the defaults of the smallest loan and the borrower cap); "
                "past what the borrower may still ask for: 422 lending-cap-exceeded."
            ),
        },
        mode="validation",
    ),
]
CommitmentAmount = Annotated[
    Paise,
    WithJsonSchema(
        amount_json_schema(
            5_000_000, "From 500.00 (or all that remains); above the lender-to-borrower cap: 422 lending-cap-exceeded."
        ),
        mode="validation",
    ),
]


class LoanRequest(RequestModel):
    amount: LoanAmount
    tenure_months: TenureMonths
    annual_rate: AnnualRate
    purpose: Purpose
    funding_days: int | None = Field(default=None, ge=1, le=14, description="Days open to lenders (default 14).")


class CommitmentRequest(RequestModel):
    amount: CommitmentAmount


class RepaymentRequest(RequestModel):
    prepay: bool = Field(default=False, description="Pay the whole outstanding principal (and any arrears) now.")


# ---------------------------------------------------------------- the API: responses
class QuotedInstallment(ResponseModel):
    number: int
    due_on: date
    principal: Money
    interest: Money
    amount: Money
    balance_after: Money


class Quote(ResponseModel):
    amount: Money
    tenure_months: int
    annual_rate: RatePercent
    installment: Money = Field(description="The equal monthly installment (the last one absorbs the rounding).")
    total_interest: Money
    total_payable: Money
    schedule: list[QuotedInstallment]


class BorrowerView(ResponseModel):
    full_name: str
    email: str = Field(description="Masked: the first letter and the domain.")
    record: BorrowerRecord


class LoanView(ResponseModel):
    id: str
    status: LoanStatus
    display_status: DisplayStatus
    amount: Money
    funded: Money
    remaining: Money
    tenure_months: int
    annual_rate: RatePercent
    purpose: str
    funding_deadline: Timestamp
    created_at: Timestamp
    lenders: int
    borrower: BorrowerView
    role: LoanRole | None = Field(description="The caller's part in this loan, if any.")
    disbursed_at: Timestamp | None = None
    principal_outstanding: Money
    next_installment: InstallmentView | None = None


class InstallmentView(ResponseModel):
    number: int
    due_on: date
    principal: Money
    interest: Money
    late_fee: Money
    amount: Money
    status: InstallmentStatus
    paid_amount: Money
    paid_at: Timestamp | None


class ShareInstallment(ResponseModel):
    number: int
    expected: Money
    received: Money
    status: InstallmentStatus


class LenderShare(ResponseModel):
    committed: Money
    status: CommitmentStatus
    expected_total: Money = Field(description="What the schedule pays this lender in all (principal, interest, late fees).")
    received_total: Money
    installments: list[ShareInstallment]


class LendingRoom(ResponseModel):
    """What the caps still let the caller lend: to this loan's borrower, and on the platform in all."""

    to_borrower: Money = Field(description="The lender-to-borrower cap less what the caller has outstanding with this borrower.")
    in_total: Money = Field(description="The lender's cap less all the caller has outstanding on the platform.")


class LoanDetail(LoanView):
    schedule: list[InstallmentView]
    my_share: LenderShare | None = Field(default=None, description="The caller's share, when the caller is a lender.")
    my_room: LendingRoom | None = Field(
        default=None,
        description="What the caller may still lend under the caps (to this borrower, and in all); absent for the borrower.",
    )
    principal_repaid: Money
    interest_paid: Money


class LoanPage(ResponseModel):
    results: list[LoanView]
    next_cursor: str | None


class CommitmentReceipt(ResponseModel):
    reference_id: str
    loan_id: str
    amount: Money
    status: Literal["PENDING", "SUCCESS", "REFUNDED"] = Field(
        description="PENDING in escrow; SUCCESS once the loan is disbursed (by this commitment, or since); REFUNDED."
    )
    funded: Money
    loan_status: LoanStatus
    balance: Money = Field(description="The lender's balance right after the commitment.")
    created_at: Timestamp


class RepaymentReceipt(ResponseModel):
    reference_id: str
    loan_id: str
    amount: Money
    installments: list[int]
    principal: Money
    interest: Money
    late_fee: Money
    loan_status: LoanStatus
    balance: Money = Field(description="The borrower's balance right after the repayment.")
    created_at: Timestamp


LoanView.model_rebuild()


# ---------------------------------------------------------------- inside the function
class _Command(BaseModel):
    """A money-moving lending request as the idempotency layer sees it: its key is (user_id,
    idempotency_key), its payload (checked on every retry) the loan and the normalized body."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    idempotency_key: str
    loan_id: str | None = None


class LoanRequestCommand(_Command):
    request: LoanRequest


class CommitmentCommand(_Command):
    loan_id: str
    request: CommitmentRequest


class RepaymentCommand(_Command):
    loan_id: str
    request: RepaymentRequest


class LoanCreated(BaseModel):
    model_config = ConfigDict(frozen=True)
    loan: LoanView
    replayed: bool = False


class CommitmentOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)
    receipt: CommitmentReceipt
    replayed: bool = False


class RepaymentOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)
    receipt: RepaymentReceipt
    replayed: bool = False


class SweepReport(BaseModel):
    """What one run of the scheduled sweep did."""

    expired: int = 0
    refunded: int = 0
    collected: int = 0
    marked_overdue: int = 0
    defaulted: int = 0
