"""What a handler may know about the caller: only what the authorizer vouched for."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from vaultpay.core.errors import Unauthenticated


def authenticated_user_id(event: APIGatewayProxyEventV2) -> str:
    """The user id the Lambda authorizer put in the request context. Never from the body or query."""
    authorizer = event.request_context.authorizer
    context = authorizer.get_lambda if authorizer else None
    user_id = (context or {}).get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise Unauthenticated()
    return user_id


def optional_session_id(event: APIGatewayProxyEventV2) -> str | None:
    """The session id the authorizer vouched for, or None (a token issued without one)."""
    authorizer = event.request_context.authorizer
    context = authorizer.get_lambda if authorizer else None
    session_id = (context or {}).get("session_id")
    return session_id if isinstance(session_id, str) and session_id else None


def authenticated_session_id(event: APIGatewayProxyEventV2) -> str:
    """The session id (the access token's ``sid``: its refresh-token family) the authorizer vouched
    for; a token without one (issued before sessions were named) cannot do what needs a session."""
    session_id = optional_session_id(event)
    if session_id is None:
        raise Unauthenticated("This needs a session-bound access token: log in again.")
    return session_id


def request_id(event: APIGatewayProxyEventV2) -> str:
    return event.request_context.request_id


def client_address(event: APIGatewayProxyEventV2) -> str:
    """The address of the client's TCP connection to API Gateway (``requestContext.http.sourceIp``),
    as API Gateway saw it: never a header the client can write (X-Forwarded-For)."""
    return event.request_context.http.source_ip or ""
