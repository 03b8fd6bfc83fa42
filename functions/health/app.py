"""Health check, the published OpenAPI document, and problem+json 404s for unknown routes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.core.http.app import create_app
from vaultpay.core.http.docs import responses
from vaultpay.core.models import Health
from vaultpay.core.observability import logger, tracer

app = create_app("health")
OPENAPI_DOCUMENT = Path(__file__).with_name("openapi.json")


@lru_cache(maxsize=1)
def _openapi_document() -> str:
    return OPENAPI_DOCUMENT.read_text(encoding="utf-8")


@app.get("/api/health", summary="Liveness check", tags=["meta"], responses=responses(200))
def health() -> Health:
    return Health()


@app.get("/api/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=_openapi_document())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
