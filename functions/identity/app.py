"""Identity: register, login, token refresh, logout (this session, or every session) and profile.

Token responses and the profile answer ``Cache-Control: no-store``: no browser or proxy keeps them."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.core import errors
from vaultpay.core.http.app import BEARER_AUTH, create_app
from vaultpay.core.http.context import authenticated_user_id, client_address
from vaultpay.core.http.docs import responses
from vaultpay.core.observability import logger, metrics, tracer
from vaultpay.identity.composition import identity_service
from vaultpay.identity.models import (
    LoginRequest,
    LogoutRequest,
    Profile,
    RefreshRequest,
    RegisteredUser,
    RegisterRequest,
    TokenPair,
)

app = create_app("identity")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _no_store(status_code: int, body: TokenPair | Profile) -> Response[Any]:
    return Response(status_code=status_code, content_type="application/json", body=body, headers=NO_STORE)


@app.post(
    "/api/users/register/",
    status_code=201,
    summary="Register with e-mail, password, full name and Aadhaar number",
    tags=["identity"],
    responses=responses(
        201,
        errors.WeakPassword,
        errors.ReservedEmail,
        errors.EmailAlreadyRegistered,
        errors.AadhaarAlreadyRegistered,
        errors.ConcurrentUpdate,
    ),
)
def register(body: RegisterRequest) -> RegisteredUser:
    user = identity_service().register(body)
    metrics.add_metric(name="UserRegistered", unit=MetricUnit.Count, value=1)
    return user


@app.post(
    "/api/users/login/",
    summary="Log in: an access token and a refresh token",
    tags=["identity"],
    responses=responses(200, errors.InvalidCredentials, errors.AccountLocked, errors.ConcurrentUpdate),
)
def login(body: LoginRequest) -> Response[TokenPair]:
    return _no_store(200, identity_service().login(body, client_address(app.current_event)))


@app.post(
    "/api/users/token/refresh/",
    summary="Rotate a refresh token for a new pair",
    tags=["identity"],
    responses=responses(200, errors.InvalidRefreshToken, errors.ConcurrentUpdate),
)
def refresh(body: RefreshRequest) -> Response[TokenPair]:
    return _no_store(200, identity_service().refresh(body))


@app.post(
    "/api/users/logout/",
    status_code=204,
    summary="Log out: revoke the session of this refresh token",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(204),
)
def logout(body: LogoutRequest) -> Response[None]:
    identity_service().logout(authenticated_user_id(app.current_event), body)
    return Response(status_code=204)


@app.post(
    "/api/users/logout/all/",
    status_code=204,
    summary="Log out everywhere: revoke every session of the caller",
    description="Every access token of the caller's sessions is refused within 60 seconds, authorizer caches included.",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(204),
)
def logout_everywhere() -> Response[None]:
    revoked = identity_service().logout_everywhere(authenticated_user_id(app.current_event))
    metrics.add_metric(name="LoggedOutEverywhere", unit=MetricUnit.Count, value=1)
    logger.info("logged out everywhere", extra={"sessions": revoked})
    return Response(status_code=204)


@app.get(
    "/api/users/profile/",
    summary="The caller's profile (Aadhaar masked)",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(200, errors.UserNotFound),
)
def profile() -> Response[Profile]:
    return _no_store(200, identity_service().profile(authenticated_user_id(app.current_event)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)  # the response carries tokens: never into X-Ray
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
