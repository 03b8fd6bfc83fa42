"""Wallet: transfers (atomic, exactly once), balance, history and transaction detail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.core import errors
from vaultpay.core.http.app import BEARER_AUTH, create_app
from vaultpay.core.http.conditional import entity_tag, none_match
from vaultpay.core.http.context import authenticated_user_id, optional_session_id
from vaultpay.core.http.docs import responses
from vaultpay.core.http.negotiation import preferred_media_type
from vaultpay.core.observability import logger, metrics, tracer
from vaultpay.wallet import statement_csv
from vaultpay.wallet.composition import idempotent_transfer, wallet_service
from vaultpay.wallet.logic import CURSOR_PATTERN, IDEMPOTENCY_KEY_PATTERN, REFERENCE_PATTERN, validate_idempotency_key
from vaultpay.wallet.models import (
    Balance,
    HistoryPage,
    SendingLimits,
    Statement,
    StatementMonth,
    TransactionDetail,
    TransferCommand,
    TransferReceipt,
    TransferRequest,
)

app = create_app("wallet")


@app.post(
    "/api/wallet/transfer/",
    status_code=201,
    summary="Send money, exactly once per Idempotency-Key",
    tags=["wallet"],
    security=BEARER_AUTH,
    responses=responses(
        201,
        errors.MissingIdempotencyKey,
        errors.MalformedIdempotencyKey,
        errors.StepUpRequired,
        errors.UserNotFound,
        errors.ReceiverNotFound,
        errors.RequestInFlight,
        errors.ConcurrentUpdate,
        errors.DuplicateTransaction,
        errors.IdempotencyKeyReused,
        errors.SelfTransfer,
        errors.AmountAboveLimit,
        errors.DailyLimitExceeded,
        errors.InsufficientFunds,
        errors.OutcomeUnknown,
    ),
)
def transfer(
    body: TransferRequest,
    idempotency_key: Annotated[
        str,
        Header(
            alias="idempotency-key",
            pattern=IDEMPOTENCY_KEY_PATTERN.pattern,
            description=(
                "A fresh key (e.g. a UUID) per intended payment; reuse it to retry. Missing: 400 "
                "idempotency-key-required; not 8-128 of [A-Za-z0-9_.:-]: 400 idempotency-key-malformed."
            ),
            examples=["5f0c6f1e-2a4b-4c8e-9d3a-7b1e2f4a6c8d"],
        ),
    ],
    step_up: Annotated[
        str | None,
        Header(
            alias="x-step-up",
            max_length=128,
            description="A step-up grant (POST /api/users/step-up/), needed above the step-up threshold; spent by the transfer.",
        ),
    ] = None,
) -> Response[TransferReceipt]:
    command = TransferCommand(
        user_id=authenticated_user_id(app.current_event),
        idempotency_key=validate_idempotency_key(idempotency_key),
        transfer=body,
        session_id=optional_session_id(app.current_event),
        step_up_grant=step_up,
    )
    outcome = idempotent_transfer()(command, app.lambda_context)
    receipt = outcome.receipt
    headers = {"Location": f"/api/wallet/transactions/{receipt.reference_id}/", "Cache-Control": "no-store"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
        metrics.add_metric(name="TransferReplayed", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="TransferSucceeded", unit=MetricUnit.Count, value=1)
    return Response(status_code=201, content_type="application/json", body=receipt, headers=headers)


@app.get(
    "/api/wallet/balance/",
    summary="The caller's balance; send If-None-Match with the last ETag to poll cheaply (304)",
    tags=["wallet"],
    security=BEARER_AUTH,
    responses=responses(200, errors.UserNotFound, no_content=(304,)),
)
def balance(
    if_none_match: Annotated[str | None, Header(alias="if-none-match")] = None,
) -> Response[Balance | None]:
    current = wallet_service().balance(authenticated_user_id(app.current_event))
    etag = entity_tag(current.version)
    # no-store, like every answer: the dashboard keeps the ETag itself and sends If-None-Match, so
    # polling still gets its cheap 304 without any cache holding a copy of the balance.
    headers = {"ETag": etag, "Cache-Control": "no-store"}
    if none_match(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(status_code=200, content_type="application/json", body=current, headers=headers)


@app.get(
    "/api/wallet/limits/",
    summary="What the caller may still send today (calendar day in IST), and the step-up threshold",
    tags=["wallet"],
    security=BEARER_AUTH,
    responses=responses(200),
)
def limits() -> Response[SendingLimits]:
    current = wallet_service().limits(authenticated_user_id(app.current_event))
    return Response(status_code=200, content_type="application/json", body=current, headers={"Cache-Control": "no-store"})


@app.get(
    "/api/wallet/history/",
    summary="The caller's transactions, newest first, one page at a time",
    tags=["wallet"],
    security=BEARER_AUTH,
    responses=responses(200, errors.InvalidCursor),
)
def history(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=CURSOR_PATTERN.pattern,
            description="next_cursor of the previous page, as it was, with the same direction; any other: 400 invalid-cursor.",
        ),
    ] = None,
    direction: Annotated[Literal["sent", "received"] | None, Query()] = None,
) -> HistoryPage:
    return wallet_service().history(authenticated_user_id(app.current_event), limit, cursor, direction)


@app.get(
    "/api/wallet/transactions/<reference_id>/",
    summary="One transaction, to its sender or receiver",
    tags=["wallet"],
    security=BEARER_AUTH,
    responses=responses(200, errors.TransactionNotFound),
)
def transaction(
    reference_id: Annotated[str, Path(pattern=REFERENCE_PATTERN.pattern, description="The transaction's reference_id (a UUID).")],
) -> TransactionDetail:
    return wallet_service().transaction(authenticated_user_id(app.current_event), reference_id)


STATEMENT_TYPES = ("text/csv", "application/json")


def _statement_responses() -> dict[int, Any]:
    documented = responses(200, errors.StatementNotAvailable, errors.UserNotFound, errors.ConcurrentUpdate)
    documented[200] = {
        "description": "The month's statement: CSV (the default) or, with Accept: application/json, JSON",
        "content": {
            "text/csv": {
                "schema": {"type": "string", "description": "A header row, the opening balance, every movement, the closing one."}
            },
            "application/json": {"model": Statement},
        },
    }
    return documented


@app.get(
    "/api/wallet/statements/<month>/",
    summary="A monthly statement (IST calendar month): every movement between the opening and closing balance",
    tags=["wallet"],
    security=BEARER_AUTH,
    responses=_statement_responses(),
)
def statement(month: Annotated[StatementMonth, Path()]) -> Response[Statement | str]:
    # Accept is read, not declared: OpenAPI ignores a parameter named Accept (the responses' media types say it).
    current = wallet_service().statement(authenticated_user_id(app.current_event), month)
    headers = {"Cache-Control": "no-store", "Vary": "Accept"}
    if preferred_media_type(app.current_event.headers.get("accept"), STATEMENT_TYPES) == "application/json":
        return Response(status_code=200, content_type="application/json", body=current, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{statement_csv.filename(current)}"'
    return Response(status_code=200, content_type=statement_csv.MEDIA_TYPE, body=statement_csv.render(current), headers=headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
