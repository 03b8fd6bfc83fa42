"""The Powertools HTTP resolver every API function uses."""

from __future__ import annotations

import json
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.types import EventHandlerInstance

from vaultpay.core.errors import MalformedRequest, PayloadTooLarge
from vaultpay.core.http.problems import register_problem_handlers
from vaultpay.core.money import ExponentNumber

MAX_BODY_BYTES = 16 * 1024
BEARER_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _json_decimal(literal: str) -> Decimal:
    return ExponentNumber(literal) if "e" in literal or "E" in literal else Decimal(literal)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError("duplicate key")
        result[name] = value
    return result


def parse_json_body(body: str | bytes) -> Any:
    """Strict JSON: numbers with a fraction or an exponent as Decimal (never float; those with an
    exponent marked, see ExponentNumber), no NaN or Infinity, no duplicate keys, a size limit,
    and nesting too deep for the parser is a 400, not a crash."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        return json.loads(
            body,
            parse_float=_json_decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_reject_duplicate_keys,
        )
    except (ValueError, RecursionError):
        raise MalformedRequest() from None


class StrictRequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, stricter first: bodies are JSON (a form-encoded body is a
    415, not a guess, whatever fields it carries). A query parameter the route does not take (a
    cache-busting ``?_=...``) is ignored, as API Gateway ignores it. It replaces the resolver's own
    validation middleware because that one always runs before any middleware added with
    ``use()``, and would parse a form body first."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools' own __init__ is unannotated

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        content_type = app.current_event.headers.get("content-type", "").split(";")[0].strip().lower()
        if app.current_event.body and content_type not in ("", "application/json"):
            raise RequestUnsupportedContentType(
                "Unsupported content type",
                errors=[{"type": "unsupported_content_type", "loc": ("body",), "msg": "Send application/json"}],
            )
        return super().handler(app, next_middleware)


class VaultPayResolver(APIGatewayHttpResolver):
    """HTTP API resolver whose routes match with or without the trailing slash, as the
    original API's paths do (the same rule Powertools applies to REST APIs)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self._enable_validation:
            self._request_validation_middleware = StrictRequestValidation()

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}$") -> Any:
        return APIGatewayHttpResolver._compile_regex(rule.rstrip("/") or "/", "^{}/?$")

    def _add_resolver_response_validation_error_response_to_route(
        self, route_openapi_path: tuple[dict[str, Any], dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        # Every route documents its 500 as problem+json (vaultpay.core.http.docs.responses); keep that.
        return route_openapi_path


def no_store(app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
    """Every answer of the API is about one caller (balances, histories, profiles, tokens, the
    Aadhaar number) or is cheap to recompute: no browser, proxy or CDN may keep a copy. A route
    may still set its own Cache-Control; problem+json answers set ``no-store`` themselves."""
    response = next_middleware(app)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(title: str) -> VaultPayResolver:
    app = VaultPayResolver(
        enable_validation=True,
        response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR,
        json_body_deserializer=parse_json_body,
    )
    app.configure_openapi(
        title=f"VaultPay API ({title})",
        version="1.0.0",
        security_schemes={"bearerAuth": HTTPBearer(scheme="bearer", bearerFormat="JWT")},
    )
    register_problem_handlers(app)
    app.use([no_store])
    return app
