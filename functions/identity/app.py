"""Identity: register, login, token refresh, logout and profile."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

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


@app.post(
    "/api/users/register/",
    status_code=201,
    summary="Register with e-mail, password, full name and Aadhaar number",
    tags=["identity"],
    responses=responses(201, 400, 409, 413, 415),
)
def register(body: RegisterRequest) -> RegisteredUser:
    user = identity_service().register(body)
    metrics.add_metric(name="UserRegistered", unit=MetricUnit.Count, value=1)
    return user


@app.post(
    "/api/users/login/",
    summary="Log in: an access token and a refresh token",
    tags=["identity"],
    responses=responses(200, 400, 401, 413, 415, 429),
)
def login(body: LoginRequest) -> TokenPair:
    return identity_service().login(body, client_address(app.current_event))


@app.post(
    "/api/users/token/refresh/",
    summary="Rotate a refresh token for a new pair",
    tags=["identity"],
    responses=responses(200, 400, 401, 409, 413, 415),
)
def refresh(body: RefreshRequest) -> TokenPair:
    return identity_service().refresh(body)


@app.post(
    "/api/users/logout/",
    status_code=204,
    summary="Log out: revoke the session of this refresh token",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(204, 400, 401, 413, 415),
)
def logout(body: LogoutRequest) -> Response[None]:
    identity_service().logout(authenticated_user_id(app.current_event), body)
    return Response(status_code=204)


@app.get(
    "/api/users/profile/",
    summary="The caller's profile (Aadhaar masked)",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(200, 401, 404),
)
def profile() -> Profile:
    return identity_service().profile(authenticated_user_id(app.current_event))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)  # the response carries tokens: never into X-Ray
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
