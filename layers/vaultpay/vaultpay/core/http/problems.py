"""The one place where failures become HTTP: RFC 9457 ``application/problem+json``.

Every domain exception maps to a status here, by class (never by message). Validation errors
list what is wrong and where, never the value that was sent: it may be a password or an
Aadhaar number.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from vaultpay.core import errors
from vaultpay.core.models import utc_iso
from vaultpay.core.money import format_paise
from vaultpay.core.observability import logger, metrics

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE_URI = "https://vaultpay.example/problems/"

STATUS_BY_ERROR: dict[type[errors.DomainError], HTTPStatus] = {
    errors.MalformedRequest: HTTPStatus.BAD_REQUEST,
    errors.MissingIdempotencyKey: HTTPStatus.BAD_REQUEST,
    errors.MalformedIdempotencyKey: HTTPStatus.BAD_REQUEST,
    errors.InvalidCursor: HTTPStatus.BAD_REQUEST,
    errors.InvalidCredentials: HTTPStatus.UNAUTHORIZED,
    errors.InvalidRefreshToken: HTTPStatus.UNAUTHORIZED,
    errors.Unauthenticated: HTTPStatus.UNAUTHORIZED,
    errors.StepUpFailed: HTTPStatus.FORBIDDEN,
    errors.StepUpRequired: HTTPStatus.FORBIDDEN,
    errors.SecondFactorIncorrect: HTTPStatus.FORBIDDEN,
    errors.TotpAlreadyEnabled: HTTPStatus.CONFLICT,
    errors.TotpNotPending: HTTPStatus.CONFLICT,
    errors.DailyLimitExceeded: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.UserNotFound: HTTPStatus.NOT_FOUND,
    errors.ReceiverNotFound: HTTPStatus.NOT_FOUND,
    errors.TransactionNotFound: HTTPStatus.NOT_FOUND,
    errors.StatementNotAvailable: HTTPStatus.NOT_FOUND,
    errors.StatementTooLarge: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.VaultEntryNotFound: HTTPStatus.NOT_FOUND,
    errors.EmailAlreadyRegistered: HTTPStatus.CONFLICT,
    errors.AadhaarAlreadyRegistered: HTTPStatus.CONFLICT,
    errors.RequestInFlight: HTTPStatus.CONFLICT,
    errors.OutcomeUnknown: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.ConcurrentUpdate: HTTPStatus.CONFLICT,
    errors.DuplicateTransaction: HTTPStatus.CONFLICT,
    errors.PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.WeakPassword: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.ReservedEmail: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.IdempotencyKeyReused: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.SelfTransfer: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.AmountAboveLimit: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.InsufficientFunds: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.AccountLocked: HTTPStatus.TOO_MANY_REQUESTS,
    errors.VaultIntegrityError: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.LoanNotFound: HTTPStatus.NOT_FOUND,
    errors.LoanTermsInvalid: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.LendingCapExceeded: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.CommitmentBelowMinimum: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.OwnLoan: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.CommitmentLeavesTooLittle: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.LoanNotOpen: HTTPStatus.CONFLICT,
    errors.CommitmentAboveRemaining: HTTPStatus.CONFLICT,
    errors.AlreadyCommitted: HTTPStatus.CONFLICT,
    errors.LoanLendersFull: HTTPStatus.CONFLICT,
    errors.LoanNotCancellable: HTTPStatus.CONFLICT,
    errors.LoanNotActive: HTTPStatus.CONFLICT,
}


# Headers with problems of their own: when a request's only invalid part is one of them, the answer
# is that problem (missing, or malformed), not the general validation-error. Powertools validates
# them as the route declares them (required, pattern), so the OpenAPI document states the rule.
HEADER_PROBLEMS: dict[str, tuple[type[errors.DomainError], type[errors.DomainError]]] = {
    "idempotency-key": (errors.MissingIdempotencyKey, errors.MalformedIdempotencyKey),
}

# Problems the HTTP layer answers itself, not raised by the logic.
VALIDATION_ERROR = "validation-error"
UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
INTERNAL_ERROR = "internal-error"
NOT_FOUND = "not-found"


def status_of(error: errors.DomainError | type[errors.DomainError]) -> HTTPStatus:
    for cls in (error if isinstance(error, type) else type(error)).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    raise LookupError(f"no HTTP status for {error!r}")


def title_of(code: str) -> str:
    return code.replace("-", " ").capitalize()


def problem(
    status: HTTPStatus,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[str]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE_URI + code,
        "title": title_of(code),
        "status": int(status),
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    if status < HTTPStatus.INTERNAL_SERVER_ERROR:
        count_refusal(code)
    return Response(
        status_code=int(status),
        content_type=PROBLEM_JSON,
        body=json.dumps(body),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def count_refusal(code: str) -> None:
    """Failures by reason: every refused request counts once under its problem type."""
    with single_metric(
        name="RequestRefused", unit=MetricUnit.Count, value=1, default_dimensions={"service": metrics.service or "vaultpay"}
    ) as metric:
        metric.add_dimension(name="problem", value=code)


def _safe_validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Where and what, without the offending input (it may be a secret)."""
    safe = []
    for error in raw:
        location = [str(part) for part in error.get("loc", ())]
        safe.append({"location": location, "message": str(error.get("msg", "invalid")), "type": str(error.get("type", ""))})
    return safe


def _header_problem(details: list[dict[str, Any]]) -> errors.DomainError | None:
    """The header's own problem when every validation error is about that one header."""
    locations = {tuple(detail["location"]) for detail in details}
    if len(locations) != 1:
        return None
    location = next(iter(locations))
    if len(location) != 2 or location[0] != "header" or location[1] not in HEADER_PROBLEMS:
        return None
    missing, malformed = HEADER_PROBLEMS[location[1]]
    return missing() if any(detail["type"] == "missing" for detail in details) else malformed()


def _request_path(app: APIGatewayHttpResolver) -> str | None:
    return app.current_event.path if app.current_event else None


def register_problem_handlers(app: APIGatewayHttpResolver) -> None:
    def _instance() -> str | None:
        return _request_path(app)

    def _answer(error: errors.DomainError) -> Response[str]:
        status = status_of(error)
        extensions: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if error.retry_after_seconds is not None:
            headers["Retry-After"] = str(error.retry_after_seconds)
        if isinstance(error, errors.InsufficientFunds) and error.reference_id:
            extensions["reference_id"] = error.reference_id
        if isinstance(error, errors.LendingCapExceeded):
            extensions.update(cap=error.cap, limit=format_paise(error.limit), remaining=format_paise(error.remaining))
        if isinstance(error, errors.CommitmentAboveRemaining):
            extensions["remaining"] = format_paise(error.remaining)
        if isinstance(error, (errors.CommitmentBelowMinimum, errors.CommitmentLeavesTooLittle)):
            extensions["minimum"] = format_paise(error.minimum)
        if isinstance(error, errors.CommitmentLeavesTooLittle):
            extensions["remaining"] = format_paise(error.remaining)
        if isinstance(error, errors.DailyLimitExceeded):
            extensions["limit"] = format_paise(error.limit)
            extensions["remaining"] = format_paise(error.remaining)
            extensions["resets_at"] = utc_iso(error.resets_at)
        if isinstance(error, errors.StepUpRequired):
            extensions["methods"] = list(error.methods)
            if error.threshold is not None:
                extensions["threshold"] = format_paise(error.threshold)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.error("request failed", extra={"problem": error.code})
        else:
            logger.info("request refused", extra={"problem": error.code, "status": int(status)})
        return problem(status, error.code, error.detail, instance=_instance(), headers=headers, **extensions)

    @app.exception_handler(errors.DomainError)
    def _domain_error(error: errors.DomainError) -> Response[str]:
        return _answer(error)

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response[str]:
        details = _safe_validation_errors(error.errors())
        if any(detail["type"] == "json_invalid" for detail in details):
            return problem(
                HTTPStatus.BAD_REQUEST, "malformed-request", "The request body is not valid JSON.", instance=_instance()
            )
        header_problem = _header_problem(details)
        if header_problem is not None:
            return _answer(header_problem)
        return problem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            VALIDATION_ERROR,
            "The request is not valid; see 'errors'.",
            instance=_instance(),
            errors=details,
        )

    @app.exception_handler(ResponseValidationError)
    def _response_invalid(error: ResponseValidationError) -> Response[str]:
        # Our bug, not the caller's: say nothing about it beyond that it failed.
        logger.error("response failed validation", extra={"errors": _safe_validation_errors(error.errors())})
        return problem(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR, "The request failed.", instance=_instance())

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(_: UnicodeDecodeError) -> Response[str]:
        # Raised while decoding a base64 request body that is not UTF-8 text, before any parsing.
        error = errors.MalformedRequest("The request body is not UTF-8 text.")
        return problem(status_of(error), error.code, error.detail, instance=_instance())

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_media(_: RequestUnsupportedContentType) -> Response[str]:
        return problem(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            UNSUPPORTED_MEDIA_TYPE,
            "Send the body as application/json.",
            instance=_instance(),
        )

    @app.exception_handler(NotFoundError)
    def _not_found(_: NotFoundError) -> Response[str]:
        return problem(HTTPStatus.NOT_FOUND, NOT_FOUND, "No such resource.", instance=_instance())
