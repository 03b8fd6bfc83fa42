"""Lending: loan requests, commitments through escrow, repayments, and the loans' listings."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from vaultpay.core import errors
from vaultpay.core.http.app import BEARER_AUTH, create_app
from vaultpay.core.http.context import authenticated_user_id
from vaultpay.core.http.docs import responses
from vaultpay.core.observability import logger, metrics, tracer
from vaultpay.lending.composition import idempotent_commitment, idempotent_loan_request, idempotent_repayment, lending_service
from vaultpay.lending.logic import LOAN_ID_PATTERN
from vaultpay.lending.models import (
    AnnualRate,
    CommitmentCommand,
    CommitmentReceipt,
    CommitmentRequest,
    LoanAmount,
    LoanDetail,
    LoanPage,
    LoanRequest,
    LoanRequestCommand,
    LoanRole,
    LoanView,
    OpenLoanOrder,
    Quote,
    RepaymentCommand,
    RepaymentReceipt,
    RepaymentRequest,
    TenureMonths,
)
from vaultpay.wallet.logic import IDEMPOTENCY_KEY_PATTERN, validate_idempotency_key

app = create_app("lending")

IdempotencyKey = Annotated[
    str,
    Header(
        alias="idempotency-key",
        pattern=IDEMPOTENCY_KEY_PATTERN.pattern,
        description=(
            "A fresh key (e.g. a UUID) per intended operation; reuse it to retry. Missing: 400 "
            "idempotency-key-required; not 8-128 of [A-Za-z0-9_.:-]: 400 idempotency-key-malformed."
        ),
        examples=["5f0c6f1e-2a4b-4c8e-9d3a-7b1e2f4a6c8d"],
    ),
]
IDEMPOTENT = (
    errors.MissingIdempotencyKey,
    errors.MalformedIdempotencyKey,
    errors.IdempotencyKeyReused,
    errors.RequestInFlight,
    errors.ConcurrentUpdate,
    errors.OutcomeUnknown,
)
LoanId = Annotated[str, Path(pattern=LOAN_ID_PATTERN.pattern, description="The loan's id (a UUID).")]
Limit = Annotated[int, Query(ge=1, le=50)]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]


def _created(body: BaseModel, location: str, replayed: bool, metric: str) -> Response[Any]:
    headers = {"Location": location, "Cache-Control": "no-store"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    metrics.add_metric(name=f"{metric}Replayed" if replayed else metric, unit=MetricUnit.Count, value=1)
    return Response(status_code=201, content_type="application/json", body=body, headers=headers)


@app.get(
    "/api/loans/quote/",
    summary="The schedule of a loan with these terms, were it disbursed today",
    tags=["lending"],
    security=BEARER_AUTH,
    responses=responses(200, errors.LoanTermsInvalid),
)
def quote(
    amount: Annotated[LoanAmount, Query(description="Rupees, e.g. 50000.00")],
    tenure_months: Annotated[TenureMonths, Query()],
    annual_rate: Annotated[AnnualRate, Query(description="Percent a year, e.g. 14.50")],
) -> Quote:
    return lending_service().quote(amount, tenure_months, annual_rate)


@app.post(
    "/api/loans/",
    status_code=201,
    summary="Ask to borrow: a request open to lenders until funded, cancelled or past its deadline",
    tags=["lending"],
    security=BEARER_AUTH,
    responses=responses(201, *IDEMPOTENT, errors.UserNotFound, errors.LoanTermsInvalid, errors.LendingCapExceeded),
)
def request_loan(body: LoanRequest, idempotency_key: IdempotencyKey) -> Response[LoanView]:
    command = LoanRequestCommand(
        user_id=authenticated_user_id(app.current_event),
        idempotency_key=validate_idempotency_key(idempotency_key),
        request=body,
    )
    outcome = idempotent_loan_request()(command, app.lambda_context)
    return _created(outcome.loan, f"/api/loans/{outcome.loan.id}/", outcome.replayed, "LoanRequested")


@app.get(
    "/api/loans/open/",
    summary="Requests open to lenders (not the caller's own), newest first or by rate or tenure",
    tags=["lending"],
    security=BEARER_AUTH,
    responses=responses(200, errors.InvalidCursor),
)
def open_loans(limit: Limit = 20, cursor: Cursor = None, order: Annotated[OpenLoanOrder, Query()] = "newest") -> LoanPage:
    return lending_service().open_requests(authenticated_user_id(app.current_event), order, limit, cursor)


@app.get(
    "/api/loans/",
    summary="The caller's loans, as borrower or as lender, newest first",
    tags=["lending"],
    security=BEARER_AUTH,
    responses=responses(200, errors.InvalidCursor),
)
def my_loans(role: Annotated[LoanRole, Query()] = "borrower", limit: Limit = 20, cursor: Cursor = None) -> LoanPage:
    return lending_service().my_loans(authenticated_user_id(app.current_event), role, limit, cursor)


@app.get(
    "/api/loans/<loan_id>/",
    summary="A loan, its schedule and the caller's share: to anyone while open, then to its borrower and lenders",
    tags=["lending"],
    security=BEARER_AUTH,
    responses=responses(200, errors.LoanNotFound),
)
def loan_detail(loan_id: LoanId) -> Response[LoanDetail]:
    detail = lending_service().detail(authenticated_user_id(app.current_event), loan_id)
    return Response(status_code=200, content_type="application/json", body=detail, headers={"Cache-Control": "no-store"})


@app.post(
    "/api/loans/<loan_id>/commitments/",
    status_code=201,
    summary="Lend: move an amount into the request's escrow, exactly once per Idempotency-Key",
    tags=["lending"],
    security=BEARER_AUTH,
    responses=responses(
        201,
        *IDEMPOTENT,
        errors.UserNotFound,
        errors.LoanNotFound,
        errors.OwnLoan,
        errors.LoanNotOpen,
        errors.AlreadyCommitted,
        errors.LoanLendersFull,
        errors.CommitmentAboveRemaining,
        errors.CommitmentBelowMinimum,
        errors.CommitmentLeavesTooLittle,
        errors.LendingCapExceeded,
        errors.InsufficientFunds,
    ),
)
def commit(loan_id: LoanId, body: CommitmentRequest, idempotency_key: IdempotencyKey) -> Response[CommitmentReceipt]:
    command = CommitmentCommand(
        user_id=authenticated_user_id(app.current_event),
        idempotency_key=validate_idempotency_key(idempotency_key),
        loan_id=loan_id,
        request=body,
    )
    outcome = idempotent_commitment()(command, app.lambda_context)
    receipt = outcome.receipt
    return _created(receipt, f"/api/wallet/transactions/{receipt.reference_id}/", outcome.replayed, "LoanCommitted")


@app.post(
    "/api/loans/<loan_id>/cancel/",
    summary="The borrower withdraws a request not yet fully funded; every commitment goes back",
    tags=["lending"],
    security=BEARER_AUTH,
    responses=responses(200, errors.LoanNotFound, errors.LoanNotCancellable, errors.ConcurrentUpdate),
)
def cancel(loan_id: LoanId) -> Response[LoanDetail]:
    detail = lending_service().cancel(authenticated_user_id(app.current_event), loan_id)
    return Response(status_code=200, content_type="application/json", body=detail, headers={"Cache-Control": "no-store"})


@app.post(
    "/api/loans/<loan_id>/repayments/",
    status_code=201,
    summary="Pay the next installment, or with prepay everything outstanding, exactly once per Idempotency-Key",
    tags=["lending"],
    security=BEARER_AUTH,
    responses=responses(
        201, *IDEMPOTENT, errors.UserNotFound, errors.LoanNotFound, errors.LoanNotActive, errors.InsufficientFunds
    ),
)
def repay(loan_id: LoanId, body: RepaymentRequest, idempotency_key: IdempotencyKey) -> Response[RepaymentReceipt]:
    command = RepaymentCommand(
        user_id=authenticated_user_id(app.current_event),
        idempotency_key=validate_idempotency_key(idempotency_key),
        loan_id=loan_id,
        request=body,
    )
    outcome = idempotent_repayment()(command, app.lambda_context)
    receipt = outcome.receipt
    return _created(receipt, f"/api/wallet/transactions/{receipt.reference_id}/", outcome.replayed, "LoanRepaid")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
