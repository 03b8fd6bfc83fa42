"""Fault injection for the reliability tests: part of the local stack, never of the layer.

The local worker installs it from outside the function's code, before the handler is imported,
when (and only when) the environment variable ``VAULTPAY_FAULT_PLAN`` names a plan file (the
local stack sets it only when a test asks: ``python -m local run --faults``): it registers a
``before-send.dynamodb`` hook on boto3's default session, so every DynamoDB client the function
creates carries it. The template never sets the variable (a test checks that), and it is ignored
in a real Lambda runtime (``AWS_LAMBDA_RUNTIME_API`` set). Faults are injected where real ones
happen: in botocore's request pipeline, so botocore's own retries, and our handling above them,
see exactly what they would see from DynamoDB.

Plan file (JSON), re-read on every call, shared by every worker process::

    {"rules": [{"fault": "throttle", "operation": "TransactWriteItems",
                "table": null, "every": 5, "remaining": 3}]}

Faults:
  throttle             DynamoDB answers ThrottlingException (botocore retries it).
  conflict             TransactWriteItems is cancelled with TransactionConflict.
  lost_response        the request reaches DynamoDB and commits, the response is lost
                       (a read timeout); botocore retries the request.
  crash_after_commit   the request commits, then the process dies (os._exit), as a Lambda
                       that times out or runs out of memory would.
  error_after_commit   the request commits, then the invocation raises.
  server_error         DynamoDB answers InternalServerError (botocore retries it).

A rule applies to a call when its ``operation`` (e.g. "TransactWriteItems"), ``table`` (the
request's TableName) and ``function`` (the end of AWS_LAMBDA_FUNCTION_NAME, a logical id
such as "WalletFunction") match, when given. Of the calls it applies to and no earlier rule
took, it fires:

  every        on every N-th (counted in ``seen``, across processes); default every call;
  probability  then with this probability (default 1.0);
  remaining    at most this many more times (counts down; omit for no limit);
  burst        and once fired, on the next N-1 calls it applies to in the same process too:
               a burst longer than botocore's attempts makes one call fail for good.

Rules are tried in order and the first that fires wins; a burst in progress comes first.
Each rule counts the calls it injected in ``injected`` and the times it fired in ``fired``; an
after-commit fault whose write did not commit (a condition failed) injected nothing, and is
given back (``remaining`` too), so ``fired`` counts only faults that really happened.
The file is locked while it is read and updated, so every count holds across processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PLAN_ENV = "VAULTPAY_FAULT_PLAN"
FAULTS = ("throttle", "conflict", "lost_response", "crash_after_commit", "error_after_commit", "server_error")
CRASH_EXIT_CODE = 70
_T = TypeVar("_T")


class FaultSettings(BaseSettings):
    """The switch, read when a DynamoDB client is created. Case-sensitive: only the exact
    variable name turns it on."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)

    fault_plan: str | None = Field(default=None, validation_alias=PLAN_ENV)
    function_name: str = Field(default="", validation_alias="AWS_LAMBDA_FUNCTION_NAME")
    # Set by the real Lambda runtime only; the local stack's workers do not set it.
    lambda_runtime_api: str | None = Field(default=None, validation_alias="AWS_LAMBDA_RUNTIME_API")

    @property
    def plan(self) -> Path | None:
        """The plan file when fault injection is switched on; never in a real Lambda runtime."""
        if self.lambda_runtime_api or not (self.fault_plan or "").strip():
            return None
        return Path(str(self.fault_plan))


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


def _applies(rule: dict[str, Any], operation: str, table: str | None, function_name: str) -> bool:
    if rule.get("fault") not in FAULTS:
        return False
    if rule.get("operation") not in (None, operation):
        return False
    if rule.get("table") not in (None, table):
        return False
    return not (rule.get("function") and not function_name.endswith(str(rule["function"])))


def choose(plan: dict[str, Any], operation: str, table: str | None, function_name: str, pid: int) -> tuple[int, str] | None:
    """The rule (its index) and fault to inject for this call, if any; updates the plan's counters in place."""
    rules = [(index, rule) for index, rule in enumerate(plan.get("rules", [])) if _applies(rule, operation, table, function_name)]
    process = str(pid)
    for index, rule in rules:  # a burst in progress in this process takes the call first
        bursting = rule.get("bursting") or {}
        if bursting.get(process, 0) > 0:
            bursting[process] -= 1
            rule["injected"] = rule.get("injected", 0) + 1
            return index, str(rule["fault"])
    for index, rule in rules:
        if rule.get("remaining") is not None and rule["remaining"] <= 0:
            continue
        rule["seen"] = rule.get("seen", 0) + 1
        if rule["seen"] % max(1, int(rule.get("every", 1))):
            continue
        if random.random() >= float(rule.get("probability", 1.0)):
            continue
        if rule.get("remaining") is not None:
            rule["remaining"] -= 1
        rule["fired"] = rule.get("fired", 0) + 1
        rule["injected"] = rule.get("injected", 0) + 1
        if int(rule.get("burst", 1)) > 1:
            rule.setdefault("bursting", {})[process] = int(rule["burst"]) - 1
        return index, str(rule["fault"])
    return None


def give_back(plan: dict[str, Any], index: int, fault: str) -> None:
    """Uncount a firing that injected nothing (an after-commit fault whose write did not commit)."""
    rules = plan.get("rules", [])
    if index >= len(rules) or rules[index].get("fault") != fault or not rules[index].get("fired"):
        return  # the plan was replaced meanwhile
    rule = rules[index]
    rule["fired"] -= 1
    rule["injected"] -= 1
    if rule.get("remaining") is not None:
        rule["remaining"] += 1


class FaultInjector:
    def __init__(self, plan_path: Path, function_name: str) -> None:
        self._plan_path = plan_path
        self._function_name = function_name
        self._http = URLLib3Session()

    def _update(self, change: Callable[[dict[str, Any]], _T]) -> _T | None:
        """Apply ``change`` to the plan file under an exclusive lock (None when there is no plan)."""
        if not self._plan_path.exists():
            return None
        with self._plan_path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                text = handle.read()
                try:
                    plan, original = json.loads(text or "{}"), json.loads(text or "{}")
                except ValueError:
                    return None  # a test is replacing the plan right now: no fault this time
                result = change(plan)
                # Write only what changed: a plan nothing applies to is never rewritten, so a
                # test replacing it (without this lock) cannot have its new plan overwritten.
                if plan != original:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(json.dumps(plan))
                    handle.flush()  # before the lock is released, or another process reads the old counts
                return result
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _take(self, operation: str, table: str | None) -> tuple[int, str] | None:
        """The rule and fault to inject now for this call, if any (counting it in the plan file)."""
        return self._update(lambda plan: choose(plan, operation, table, self._function_name, os.getpid()))

    def before_send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"")
        operation_name = (operation.decode() if isinstance(operation, bytes) else operation).rpartition(".")[2]
        raw = request.body
        body = json.loads(raw) if isinstance(raw, (str, bytes, bytearray)) and raw else {}
        taken = self._take(operation_name, body.get("TableName"))
        if taken is None:
            return None
        index, fault = taken
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
            # Nothing committed (e.g. a condition failed), so nothing to fail after: count it as not fired.
            self._update(lambda plan: give_back(plan, index, fault))
            return response
        if fault == "crash_after_commit":
            os._exit(CRASH_EXIT_CODE)
        raise InjectedFault("injected: invocation failed after the write committed")


def install(events: Any, settings: FaultSettings | None = None) -> FaultInjector | None:
    """Hook the injector into a botocore event system (a session's, so that every DynamoDB client
    created from it inherits the hook) when (and only when) a plan is configured."""
    settings = settings or FaultSettings()
    plan = settings.plan
    if plan is None:
        return None
    injector = FaultInjector(plan, settings.function_name)
    events.register("before-send.dynamodb", injector.before_send)
    return injector


def install_in_default_session() -> FaultInjector | None:
    """Hook the injector into boto3's default session, which ``boto3.client`` uses: called by the
    local worker before it imports the function's handler."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    return install(boto3.DEFAULT_SESSION.events)
