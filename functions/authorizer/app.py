"""Lambda authorizer (HTTP API, payload 2.0, simple responses): verifies the access token and
hands the user id and the session id to the functions. A missing, malformed, expired or forged token is 401."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.core.errors import Unauthenticated
from vaultpay.core.observability import logger, tracer
from vaultpay.identity.verifier import access_token_verifier

BEARER_PREFIX = "bearer "


class Unauthorized(Exception):
    """API Gateway's contract: an authorizer that raises exactly "Unauthorized" answers 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _bearer_token(event: APIGatewayAuthorizerEventV2) -> str:
    header = (event.headers or {}).get("authorization", "")
    if not header.lower().startswith(BEARER_PREFIX):
        raise Unauthorized()
    return header[len(BEARER_PREFIX) :].strip()


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@event_source(data_class=APIGatewayAuthorizerEventV2)
def lambda_handler(event: APIGatewayAuthorizerEventV2, context: LambdaContext) -> dict[str, Any]:
    try:
        verified = access_token_verifier().verify_claims(_bearer_token(event))
    except Unauthenticated:
        logger.info("access token rejected", extra={"route": event.route_key})
        raise Unauthorized() from None
    claims = {"user_id": verified.user_id}
    if verified.session_id:
        claims["session_id"] = verified.session_id  # the session grants (step-up) are bound to
    return APIGatewayAuthorizerResponseV2(authorize=True, context=claims).asdict()
