"""Fault injection in the data-access layer, for reliability tests only.

Dormant unless the environment variable ``VAULTPAY_FAULT_PLAN`` names a plan file. The
template never sets it; only the local stack does, and only when a test asks for it
(``python -m local run --faults``). Faults are injected where real ones happen: in
botocore's request pipeline, so botocore's own retries, and our handling above them, see
exactly what they would see from DynamoDB.

Plan file (JSON), re-read whenever it changes, shared by every worker process::

    {"rules": [{"fault": "throttle", "operation": "TransactWriteItems",
                "table": null, "probability": 1.0, "remaining": 3}]}

Faults:
  throttle             DynamoDB answers ThrottlingException (botocore retries it).
  conflict             TransactWriteItems is cancelled with TransactionConflict.
  lost_response        the request reaches DynamoDB and commits, the response is lost
                       (a read timeout); botocore retries the request.
  crash_after_commit   the request commits, then the process dies (os._exit), as a Lambda
                       that times out or runs out of memory would.
  error_after_commit   the request commits, then the invocation raises.
  server_error         DynamoDB answers InternalServerError (botocore retries it).

``remaining`` counts down across processes (the file is locked while it is updated); omit it
for no limit. Each rule counts what it injected in ``injected``. ``table`` matches the
TableName of the request and ``function`` the end of AWS_LAMBDA_FUNCTION_NAME (a logical id
such as "WalletFunction"), when given.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

PLAN_ENV = "VAULTPAY_FAULT_PLAN"
FAULTS = ("throttle", "conflict", "lost_response", "crash_after_commit", "error_after_commit", "server_error")
CRASH_EXIT_CODE = 70


class InjectedFault(RuntimeError):
    """Raised by ``error_after_commit``: the write happened, the invocation fails."""


class _FakeRaw:
    """Just enough of a urllib3 response for botocore to parse an error body."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_args: Any, **_kwargs: Any) -> Any:
        yield self._body


def _error_response(request: AWSPreparedRequest, status: int, error_type: str, extra: dict[str, Any]) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{error_type}", **extra}).encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    headers["x-amzn-RequestId"] = "injected-fault"
    return AWSResponse(request.url, status, headers, _FakeRaw(body))


class FaultInjector:
    def __init__(self, plan_path: Path, function_name: str) -> None:
        self._plan_path = plan_path
        self._function_name = function_name
        self._http = URLLib3Session()

    def _take(self, operation: str, table: str | None, when: tuple[str, ...]) -> str | None:
        """The fault to inject now for this call, if any (decrementing its ``remaining``)."""
        if not self._plan_path.exists():
            return None
        with self._plan_path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                plan = json.loads(handle.read() or "{}")
                for rule in plan.get("rules", []):
                    if rule.get("fault") not in when:
                        continue
                    if rule.get("operation") not in (None, operation):
                        continue
                    if rule.get("table") not in (None, table):
                        continue
                    if rule.get("function") and not self._function_name.endswith(str(rule["function"])):
                        continue
                    if rule.get("remaining") is not None and rule["remaining"] <= 0:
                        continue
                    if random.random() >= float(rule.get("probability", 1.0)):  # noqa: S311 - test faults, not crypto
                        continue
                    if rule.get("remaining") is not None:
                        rule["remaining"] -= 1
                    rule["injected"] = rule.get("injected", 0) + 1
                    handle.seek(0)
                    handle.truncate()
                    handle.write(json.dumps(plan))
                    return str(rule["fault"])
                return None
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def before_send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"")
        operation_name = (operation.decode() if isinstance(operation, bytes) else operation).rpartition(".")[2]
        raw = request.body
        body = json.loads(raw) if isinstance(raw, (str, bytes, bytearray)) and raw else {}
        table = body.get("TableName")
        fault = self._take(
            operation_name,
            table,
            ("throttle", "conflict", "lost_response", "server_error", "crash_after_commit", "error_after_commit"),
        )
        if fault is None:
            return None
        if fault == "throttle":
            return _error_response(
                request, 400, "ThrottlingException", {"message": "Rate of requests exceeds the allowed throughput."}
            )
        if fault == "server_error":
            return _error_response(request, 500, "InternalServerError", {"message": "Internal server error (injected)"})
        if fault == "conflict":
            reasons = [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                for _ in body.get("TransactItems", [{}])
            ]
            return _error_response(
                request,
                400,
                "TransactionCanceledException",
                {"message": "Transaction cancelled (injected conflict)", "CancellationReasons": reasons},
            )
        response = self._http.send(request)
        if fault == "lost_response":
            raise ReadTimeoutError(endpoint_url=request.url, error="injected: response lost after commit")
        if response.status_code >= 300:
            return response
        if fault == "crash_after_commit":
            os._exit(CRASH_EXIT_CODE)
        raise InjectedFault("injected: invocation failed after the write committed")


def install(client: Any) -> None:
    """Hook the injector into a DynamoDB client when (and only when) a plan is configured."""
    plan = os.environ.get(PLAN_ENV)
    if not plan:
        return
    injector = FaultInjector(Path(plan), os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    client.meta.events.register("before-send.dynamodb", injector.before_send)
