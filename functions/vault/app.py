"""The vault: reveals the owner's Aadhaar number after a fresh proof, and hosts step-up (grants
earned with the password, a TOTP code or a recovery code) and the authenticator's enrolment.
The only function whose role may call kms:Decrypt on the vault key, and on the TOTP key."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.core import errors
from vaultpay.core.http.app import BEARER_AUTH, create_app
from vaultpay.core.http.context import (
    authenticated_session_id,
    authenticated_user_id,
    client_address,
    optional_session_id,
    request_id,
)
from vaultpay.core.http.docs import responses
from vaultpay.core.observability import logger, metrics, tracer
from vaultpay.vault.composition import step_up_service, vault_service
from vaultpay.vault.models import (
    ConfirmTotpRequest,
    RevealAadhaarRequest,
    RevealedAadhaar,
    StepUpGrant,
    StepUpRequest,
    TotpEnrolment,
    TotpStatus,
)

app = create_app("vault")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
StepUpHeader = Annotated[
    str | None,
    Header(
        alias="x-step-up", max_length=128, description="A step-up grant of this session (POST /api/users/step-up/); spent here."
    ),
]


@app.post(
    "/api/users/profile/aadhaar/",
    summary="Reveal the caller's full Aadhaar number (step-up: an X-Step-Up grant, or the password without an authenticator)",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(
        200,
        errors.StepUpRequired,
        errors.StepUpFailed,
        errors.UserNotFound,
        errors.VaultEntryNotFound,
        errors.AccountLocked,
        errors.ConcurrentUpdate,
        errors.VaultIntegrityError,
    ),
)
def reveal_aadhaar(body: RevealAadhaarRequest, step_up: StepUpHeader = None) -> Response[RevealedAadhaar]:
    event = app.current_event
    revealed = vault_service().reveal(
        authenticated_user_id(event),
        request_id(event),
        client_address(event),
        body,
        session_id=optional_session_id(event),
        step_up_grant=step_up,
    )
    metrics.add_metric(name="AadhaarRevealed", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, content_type="application/json", body=revealed, headers=NO_STORE)


@app.post(
    "/api/users/step-up/",
    status_code=201,
    summary="Prove it is you again (password, or TOTP / recovery code once enrolled): a grant for one sensitive operation",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(
        201,
        errors.Unauthenticated,
        errors.StepUpRequired,
        errors.StepUpFailed,
        errors.SecondFactorIncorrect,
        errors.UserNotFound,
        errors.AccountLocked,
        errors.ConcurrentUpdate,
        errors.VaultIntegrityError,
    ),
)
def step_up(body: StepUpRequest) -> Response[StepUpGrant]:
    event = app.current_event
    grant = step_up_service().step_up(authenticated_user_id(event), authenticated_session_id(event), client_address(event), body)
    metrics.add_metric(name="StepUpGranted", unit=MetricUnit.Count, value=1)
    return Response(status_code=201, content_type="application/json", body=grant, headers=NO_STORE)


@app.post(
    "/api/users/totp/",
    status_code=201,
    summary="Start enrolling an authenticator app (needs an X-Step-Up grant): secret URI, QR code, recovery codes",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(201, errors.StepUpRequired, errors.UserNotFound, errors.TotpAlreadyEnabled, errors.ConcurrentUpdate),
)
def begin_totp(step_up: StepUpHeader = None) -> Response[TotpEnrolment]:
    event = app.current_event
    enrolment = step_up_service().begin_totp(authenticated_user_id(event), optional_session_id(event), step_up)
    return Response(status_code=201, content_type="application/json", body=enrolment, headers=NO_STORE)


@app.post(
    "/api/users/totp/confirm/",
    summary="Confirm the enrolment with a first code from the authenticator app: two-step verification is on",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(
        200,
        errors.SecondFactorIncorrect,
        errors.UserNotFound,
        errors.TotpNotPending,
        errors.AccountLocked,
        errors.ConcurrentUpdate,
        errors.VaultIntegrityError,
    ),
)
def confirm_totp(body: ConfirmTotpRequest) -> Response[TotpStatus]:
    event = app.current_event
    status = step_up_service().confirm_totp(authenticated_user_id(event), client_address(event), body.code)
    return Response(status_code=200, content_type="application/json", body=status, headers=NO_STORE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)  # the response carries the Aadhaar number: never into X-Ray
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
