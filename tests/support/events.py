"""API Gateway HTTP API (payload 2.0) events, shaped like the ones API Gateway sends."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    route_key: str | None = None,
) -> dict[str, Any]:
    request_id = uuid.uuid4().hex[:20]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {
            "content-type": "application/json",
            "host": "127.0.0.1",
            **{k.lower(): v for k, v in (headers or {}).items()},
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "requestId": request_id,
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795514400000,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    if user_id is not None:
        context = {"user_id": user_id} | ({"session_id": session_id} if session_id else {})
        event["requestContext"]["authorizer"] = {"lambda": context}
    return event


def authorizer_event(token: str | None) -> dict[str, Any]:
    event = http_event("GET", "/api/wallet/balance/", headers={"authorization": f"Bearer {token}"} if token else {})
    event["type"] = "REQUEST"
    event["routeArn"] = "arn:aws:execute-api:ap-south-1:123456789012:local/$default/GET/api/wallet/balance/"
    event["identitySource"] = [f"Bearer {token}"] if token else []
    return event


class LambdaContextStub:
    function_name = "test-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:test-function"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "test"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
