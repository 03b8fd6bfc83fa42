"""The vault: reveals the owner's Aadhaar number after the password is re-entered.
The only function whose role may call kms:Decrypt on the vault key."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.core.http.app import BEARER_AUTH, create_app
from vaultpay.core.http.context import authenticated_user_id, client_address, request_id
from vaultpay.core.http.docs import responses
from vaultpay.core.observability import logger, metrics, tracer
from vaultpay.vault.composition import vault_service
from vaultpay.vault.models import RevealAadhaarRequest, RevealedAadhaar

app = create_app("vault")


@app.post(
    "/api/users/profile/aadhaar/",
    summary="Reveal the caller's full Aadhaar number (step-up: re-enter the password)",
    tags=["identity"],
    security=BEARER_AUTH,
    responses=responses(200, 400, 401, 403, 404, 413, 415, 429),
)
def reveal_aadhaar(body: RevealAadhaarRequest) -> Response[RevealedAadhaar]:
    event = app.current_event
    revealed = vault_service().reveal(authenticated_user_id(event), request_id(event), client_address(event), body)
    metrics.add_metric(name="AadhaarRevealed", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=200,
        content_type="application/json",
        body=revealed,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)  # the response carries the Aadhaar number: never into X-Ray
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
