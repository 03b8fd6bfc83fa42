"""`make invoke`: every event in events/ runs through its function, as `sam local invoke` would run it."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jwt
import pytest
from boto3.dynamodb.types import TypeDeserializer

from local.invoke import (
    EXAMPLE_ACCESS_TOKEN,
    EXAMPLE_REFERENCE_ID,
    EXAMPLE_SENDER_ID,
    EXAMPLE_SESSION_ID,
    EXAMPLE_STREAM_ARN,
    RECEIVER,
    DeployedStack,
    Target,
    env_vars,
    invoke,
    print_event,
)
from local.template import ROOT, SamTemplate
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack
EVENTS = ROOT / "events"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
TEMPLATE = SamTemplate.load()
STREAM_ARN = r"arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/[\w.-]+/stream/\d{4}-\d\d-\d\dT[\d:.]+"
PROBLEM = {"type", "title", "status", "detail", "instance"}

# event file -> (function, expected statusCode or None for non-HTTP results, keys of the JSON body)
EXPECTED: dict[str, tuple[str, int | None, set[str]]] = {
    "health.json": ("HealthFunction", 200, {"status"}),
    "openapi.json": ("HealthFunction", 200, {"openapi", "info", "servers", "paths", "components"}),
    "unknown-route.json": ("HealthFunction", 404, PROBLEM),
    "register.json": ("IdentityFunction", 201, {"id", "email", "full_name", "aadhaar_masked", "balance", "created_at"}),
    "login.json": ("IdentityFunction", 200, {"access", "refresh", "expires_in"}),
    "token-refresh.json": ("IdentityFunction", 200, {"access", "refresh", "expires_in"}),
    "logout.json": ("IdentityFunction", 204, set()),
    "logout-all.json": ("IdentityFunction", 204, set()),
    "profile.json": ("IdentityFunction", 200, {"id", "email", "full_name", "aadhaar_masked", "created_at"}),
    "reveal-aadhaar.json": ("VaultFunction", 200, {"aadhaar"}),
    "step-up.json": ("VaultFunction", 201, {"grant", "expires_in"}),
    "totp-enrol.json": ("VaultFunction", 403, PROBLEM | {"methods"}),  # no X-Step-Up grant: step-up-required
    "totp-confirm.json": ("VaultFunction", 409, PROBLEM),  # no enrolment pending: totp-not-pending
    "limits.json": (
        "WalletFunction",
        200,
        {"day", "daily_limit", "sent_today", "remaining_today", "resets_at", "step_up_threshold"},
    ),
    "transfer.json": ("WalletFunction", 201, {"reference_id", "status", "amount", "receiver", "note", "created_at", "balance"}),
    "transfer-insufficient-funds.json": ("WalletFunction", 422, PROBLEM | {"reference_id"}),
    "balance.json": ("WalletFunction", 200, {"balance", "currency", "version"}),
    "balance-not-modified.json": ("WalletFunction", 304, set()),
    "history-page.json": ("WalletFunction", 200, {"results", "next_cursor"}),
    "history-sent.json": ("WalletFunction", 200, {"results", "next_cursor"}),
    "transaction-detail.json": (
        "WalletFunction",
        200,
        {
            "reference_id",
            "kind",
            "status",
            "direction",
            "amount",
            "sender",
            "receiver",
            "note",
            "failure_reason",
            "created_at",
            "loan_id",
        },
    ),
    "statement.json": (
        "WalletFunction",
        200,
        {
            "month",
            "account",
            "currency",
            "period_start",
            "period_end",
            "closed",
            "opening_balance",
            "closing_balance",
            "total_credits",
            "total_debits",
            "lines",
            "generated_at",
        },
    ),
    "loan-quote.json": (
        "LendingFunction",
        200,
        {"amount", "tenure_months", "annual_rate", "installment", "total_interest", "total_payable", "schedule"},
    ),
    "loan-open.json": ("LendingFunction", 200, {"results", "next_cursor"}),
    "loan-mine.json": ("LendingFunction", 200, {"results", "next_cursor"}),
    "loan-detail-missing.json": ("LendingFunction", 404, PROBLEM),  # loan-not-found
    "loan-commit-missing.json": ("LendingFunction", 404, PROBLEM),
    "loan-cancel-missing.json": ("LendingFunction", 404, PROBLEM),
    "loan-repay-missing.json": ("LendingFunction", 404, PROBLEM),
    "loan-request-invalid.json": ("LendingFunction", 422, PROBLEM),  # a rate above the band: loan-terms-invalid
    "authorizer.json": ("AuthorizerFunction", None, {"isAuthorized", "context"}),
    "stream-transfer.json": ("AuditFunction", None, {"batchItemFailures"}),
}
# event file -> (function, errorMessage): events the function is expected to refuse by raising
REFUSED = {"authorizer-bad-token.json": ("AuthorizerFunction", "Unauthorized")}
FUNCTION_OF = {name: spec[0] for name, spec in {**EXPECTED, **REFUSED}.items()}
AUTHORIZER_EVENTS = {name for name, function in FUNCTION_OF.items() if function == TEMPLATE.default_authorizer()}
STREAM_EVENTS = {
    name for name, function in FUNCTION_OF.items() if function in {s.function for s in TEMPLATE.stream_subscriptions()}
}
HTTP_EVENTS = set(FUNCTION_OF) - AUTHORIZER_EVENTS - STREAM_EVENTS


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def same_route(route_key: str) -> str:
    """A route key with its path's trailing slash dropped: the template routes both spellings of
    every path to the same function (tests/handlers/test_template_parity.py), so one event serves both."""
    return route_key if route_key == "$default" else route_key.rstrip("/")


# ---------------------------------------------------------------- the files themselves
def test_every_event_file_has_an_expectation() -> None:
    assert {path.name for path in EVENTS.glob("*.json")} == set(FUNCTION_OF)


def test_every_template_route_has_an_event_for_its_function() -> None:
    covered = {(same_route(load(name)["routeKey"]), FUNCTION_OF[name]) for name in HTTP_EVENTS}
    missing = [route.route_key for route in TEMPLATE.routes() if (same_route(route.route_key), route.function) not in covered]
    assert missing == []


@pytest.mark.parametrize("event_file", sorted(HTTP_EVENTS))
def test_every_route_event_is_a_template_route_as_api_gateway_sends_it(event_file: str) -> None:
    # Given an event for a route
    event = load(event_file)
    routes = {route.route_key: route for route in TEMPLATE.routes()}
    # Then it names a route of the template that goes to its function, consistently
    route = routes[event["routeKey"]]
    assert route.function == FUNCTION_OF[event_file]
    context = event["requestContext"]
    assert context["routeKey"] == event["routeKey"]
    assert context["http"]["path"] == event["rawPath"]
    if route.path != "$default":
        assert context["http"]["method"] == route.method
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.path))
        match = re.fullmatch(pattern, event["rawPath"])
        assert match is not None
        assert match.groupdict() == event.get("pathParameters", {})
    # And it carries the authorizer's context exactly when the route has the authorizer
    if route.authorizer is None:
        assert "authorizer" not in context
    else:
        assert context["authorizer"] in (
            {"lambda": {"user_id": EXAMPLE_SENDER_ID}},
            {"lambda": {"user_id": EXAMPLE_SENDER_ID, "session_id": EXAMPLE_SESSION_ID}},
        )
        assert event["headers"]["authorization"] == f"Bearer {EXAMPLE_ACCESS_TOKEN}"


def test_the_events_are_ready_as_they_are() -> None:
    # No placeholders: sam local invoke takes every file as it is
    for name in FUNCTION_OF:
        assert "{{" not in (EVENTS / name).read_text(encoding="utf-8"), name
    # The authorizer's token is a JWT of this API for the example sender (signed with an example key)
    token = load("authorizer.json")["headers"]["authorization"].removeprefix("Bearer ")
    assert token == EXAMPLE_ACCESS_TOKEN
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "typ": "JWT", "kid": "1234abcd-12ab-34cd-56ef-1234567890ab"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == EXAMPLE_SENDER_ID
    assert claims["sid"]
    assert (claims["iss"], claims["aud"], claims["token_use"]) == ("vaultpay-dev", "vaultpay-api", "access")
    assert claims["exp"] - claims["iat"] == 300
    # The forged one is a JWT too: unsigned (alg none), for the same user
    forged = load("authorizer-bad-token.json")["headers"]["authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(forged)["alg"] == "none"
    assert jwt.decode(forged, options={"verify_signature": False})["sub"] == EXAMPLE_SENDER_ID
    # The stream batch comes from a DynamoDB stream ARN and names the example transfer
    assert re.fullmatch(STREAM_ARN, EXAMPLE_STREAM_ARN)
    for record in load("stream-transfer.json")["Records"]:
        assert record["eventSourceARN"] == EXAMPLE_STREAM_ARN
    assert load("transaction-detail.json")["pathParameters"] == {"reference_id": EXAMPLE_REFERENCE_ID}


@cache
def sam_generated(*kind: str) -> Any:
    if not SAM.exists():
        pytest.skip("the SAM CLI is installed by `make test` (.venv-sam)")
    completed = subprocess.run(
        [str(SAM), "local", "generate-event", *kind],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    return json.loads(completed.stdout)


def assert_shape(event: dict[str, Any], generated: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    assert set(event) <= allowed
    assert required <= set(event)
    for key in set(event) & set(generated):
        assert type(event[key]) is type(generated[key]), key


@pytest.mark.parametrize("event_file", sorted(HTTP_EVENTS | AUTHORIZER_EVENTS))
def test_api_events_have_the_shape_sam_local_generate_event_gives(event_file: str) -> None:
    # Given what `sam local generate-event apigateway http-api-proxy` produces
    generated = sam_generated("apigateway", "http-api-proxy")
    event = load(event_file)
    required = {"version", "routeKey", "rawPath", "rawQueryString", "headers", "requestContext"}
    if event_file in AUTHORIZER_EVENTS:
        # A payload 2.0 REQUEST authorizer gets the same request, without body, plus its identity
        allowed = set(generated) - {"body", "isBase64Encoded"} | {"type", "routeArn", "identitySource"}
        assert_shape(event, generated, allowed, required | {"type", "routeArn", "identitySource"})
        assert event["identitySource"] == [event["headers"]["authorization"]]
    else:
        assert_shape(event, generated, set(generated), required | {"isBase64Encoded"})
    context, generated_context = event["requestContext"], generated["requestContext"]
    assert_shape(context, generated_context, set(generated_context), set(generated_context) - {"authentication", "authorizer"})
    assert set(context["http"]) == set(generated_context["http"])
    assert set(context.get("authorizer", {"lambda": {}})) == {"lambda"}  # a Lambda authorizer's context, not a JWT one
    assert event["version"] == "2.0"
    assert all(name == name.lower() for name in event["headers"])  # HTTP APIs pass header names in lower case


def test_the_stream_event_has_the_shape_sam_local_generate_event_gives() -> None:
    generated = sam_generated("dynamodb", "update")["Records"]
    generated_record = next(record for record in generated if record["eventName"] == "MODIFY")
    for record in load("stream-transfer.json")["Records"]:
        assert_shape(record, generated_record, set(generated_record), set(generated_record))
        dynamodb = record["dynamodb"]
        required = set(generated_record["dynamodb"]) - ({"OldImage"} if record["eventName"] == "INSERT" else set())
        assert_shape(dynamodb, generated_record["dynamodb"], set(generated_record["dynamodb"]), required)


# ---------------------------------------------------------------- invoking them
@pytest.mark.parametrize("event_file", sorted(set(EXPECTED) - STREAM_EVENTS))
def test_every_event_gives_the_expected_answer(stack: RunningStack, event_file: str) -> None:
    # Given an event from events/ and the function that takes it
    function, status, keys = EXPECTED[event_file]
    # When it is invoked as `make invoke` would
    result, failed = invoke(function, EVENTS / event_file, state_dir=stack.state_dir)
    # Then the function answered as expected
    assert not failed, result
    if status is None:
        assert set(result) == keys
        return
    assert result["statusCode"] == status, result
    body = json.loads(result["body"]) if result.get("body") else {}
    assert set(body) == keys


def test_a_stream_batch_is_recorded_and_verified(stack: RunningStack) -> None:
    # Given the stream batch of a transfer: its transaction, both balance changes and a ledger entry
    records = load("stream-transfer.json")["Records"]
    seen: dict[str, Any] = {}

    def audit_trail(where: Target, event: Any) -> None:
        assert where.endpoints is not None
        client = where.endpoints.client("dynamodb")
        table = where.resources["AuditTable"]
        seen["event"] = event
        for record in records:
            item = client.get_item(TableName=table, Key={"event_id": {"S": record["eventID"]}}, ConsistentRead=True).get("Item")
            seen[record["eventID"]] = {name: TypeDeserializer().deserialize(value) for name, value in (item or {}).items()}

    # When the audit function gets it
    result, failed = invoke("audit", EVENTS / "stream-transfer.json", state_dir=stack.state_dir, inspect=audit_trail)
    # Then the whole batch succeeded
    assert not failed, result
    assert result == {"batchItemFailures": []}
    # And the audit table holds one record per auditable change, by stream event id, about the live transfer
    live = seen["event"]["Records"]
    reference_id = live[0]["dynamodb"]["NewImage"]["reference_id"]["S"]
    sender_id = live[1]["dynamodb"]["NewImage"]["user_id"]["S"]
    receiver_id = live[2]["dynamodb"]["NewImage"]["user_id"]["S"]
    assert reference_id != EXAMPLE_REFERENCE_ID
    assert sender_id != EXAMPLE_SENDER_ID
    txn, debit, credit, ledger = (seen[record["eventID"]] for record in records)
    assert txn["kind"] == "transaction_created"
    assert txn["subject"] == f"TXN#{reference_id}"
    assert (txn["details"]["sender_id"], txn["details"]["receiver_id"], txn["details"]["amount"]) == (sender_id, receiver_id, 100)
    assert (debit["kind"], debit["subject"]) == ("account_debited", f"USER#{sender_id}")
    assert (credit["kind"], credit["subject"]) == ("account_credited", f"USER#{receiver_id}")
    for change in (debit, credit):
        # verified against the transaction: the change moved exactly its amount (no mismatch is stored)
        assert change["verified"] is True
        assert change.get("mismatch") is None
        assert (change["details"]["reference_id"], change["details"]["amount"]) == (reference_id, 100)
    assert ledger == {}  # ledger entries are not audited


def test_a_bad_token_is_refused_as_api_gateway_expects(stack: RunningStack) -> None:
    function, message = REFUSED["authorizer-bad-token.json"]
    result, failed = invoke(function, EVENTS / "authorizer-bad-token.json", state_dir=stack.state_dir)
    assert failed
    assert result["errorMessage"] == message


def invoke_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m local.invoke`` with ``arguments``, as `make invoke` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "local.invoke", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_command_line_prints_the_response_and_a_report(stack: RunningStack) -> None:
    completed = invoke_command("wallet", "events/balance.json", "--state-dir", str(stack.state_dir))
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["statusCode"] == 200
    assert "REPORT RequestId:" in completed.stderr
    assert "INIT_REPORT Init Duration:" in completed.stderr


# ---------------------------------------------------------------- for sam local invoke
def test_print_event_writes_the_event_with_a_live_token(stack: RunningStack, tmp_path: Path) -> None:
    # Given the authorizer's event, printed with the running stack's values
    completed = invoke_command("--print-event", "events/authorizer.json", "--state-dir", str(stack.state_dir))
    assert completed.returncode == 0, completed.stderr
    event = json.loads(completed.stdout)
    # Then it carries a real token, minted for the live example sender
    token = event["headers"]["authorization"].removeprefix("Bearer ")
    assert token != EXAMPLE_ACCESS_TOKEN
    assert event["identitySource"] == [f"Bearer {token}"]
    claims = jwt.decode(token, options={"verify_signature": False})
    subject = claims["sub"]
    assert subject != EXAMPLE_SENDER_ID
    # And the authorizer accepts the written file as it is
    path = tmp_path / "authorizer.json"
    path.write_text(completed.stdout)
    result, failed = invoke("authorizer", path, state_dir=stack.state_dir)
    assert not failed, result
    assert result == {"isAuthorized": True, "context": {"user_id": subject, "session_id": claims["sid"]}}


def test_print_event_fills_route_events_with_live_ids(stack: RunningStack) -> None:
    example = load("transfer.json")
    event = print_event(EVENTS / "transfer.json", state_dir=stack.state_dir)
    user_id = event["requestContext"]["authorizer"]["lambda"]["user_id"]
    assert user_id != EXAMPLE_SENDER_ID
    assert (
        jwt.decode(event["headers"]["authorization"].removeprefix("Bearer "), options={"verify_signature": False})["sub"]
        == user_id
    )
    assert event["headers"]["idempotency-key"] != example["headers"]["idempotency-key"]
    assert json.loads(event["body"]) == json.loads(example["body"])  # the receiver is the fixed example receiver


def test_print_event_without_a_running_stack_says_what_it_needs(tmp_path: Path) -> None:
    completed = invoke_command("--print-event", "events/transfer.json", "--state-dir", str(tmp_path))
    assert completed.returncode != 0
    assert "--print-event needs a running stack" in completed.stderr


class FakeCloudFormation:
    """The two CloudFormation calls DeployedStack.describe makes, for a deployed vaultpay-dev."""

    ACCOUNT = "210987654321"

    def __init__(self) -> None:
        self.physical = {}
        for logical_id, resource in TEMPLATE.resources.items():
            kind = resource.get("Type")
            if kind == "AWS::DynamoDB::Table":
                self.physical[logical_id] = f"vaultpay-dev-{logical_id}-1Q2W3E4R5T6Y"
            elif kind == "AWS::SecretsManager::Secret":
                self.physical[logical_id] = f"arn:aws:secretsmanager:ap-south-1:{self.ACCOUNT}:secret:{logical_id}-AbCdEf"
            elif kind == "AWS::KMS::Key":
                self.physical[logical_id] = f"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1{len(self.physical):02d}"
            else:
                self.physical[logical_id] = f"vaultpay-dev-{logical_id}"

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter name
        return {
            "Stacks": [
                {
                    "StackId": f"arn:aws:cloudformation:ap-south-1:{self.ACCOUNT}:stack/{StackName}/4a5b6c7d",
                    "Parameters": [{"ParameterKey": "Stage", "ParameterValue": "dev"}],
                    "Outputs": [
                        {"OutputKey": "ApiUrl", "OutputValue": "https://abcdef1234.execute-api.ap-south-1.amazonaws.com"}
                    ],
                }
            ]
        }

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_stack_resources"
        summaries = [{"LogicalResourceId": key, "PhysicalResourceId": value} for key, value in self.physical.items()]

        class Pages:
            def paginate(self, StackName: str) -> list[dict[str, Any]]:  # noqa: N803
                return [{"StackResourceSummaries": summaries[:10]}, {"StackResourceSummaries": summaries[10:]}]

        return Pages()


def test_env_vars_give_sam_local_invoke_the_deployed_names() -> None:
    # Given a deployed stack
    cloudformation = FakeCloudFormation()
    deployed = DeployedStack.describe("vaultpay-dev", "ap-south-1", cloudformation=cloudformation)
    # When the env-vars file is made for it
    variables = env_vars(TEMPLATE, deployed.intrinsics(TEMPLATE))
    # Then it overrides every variable each function declares (SAM overrides no others)...
    functions = TEMPLATE.functions()
    assert {name: set(values) for name, values in variables.items()} == {
        name: set(spec.environment) for name, spec in functions.items()
    }
    # ...with the deployed resources' names and ARNs, never a logical id as SAM alone would give
    physical = cloudformation.physical
    assert variables["WalletFunction"]["MAIN_TABLE_NAME"] == physical["MainTable"]
    assert variables["AuditFunction"]["AUDIT_TABLE_NAME"] == physical["AuditTable"]
    assert variables["IdentityFunction"]["TOKEN_SIGNING_KEY_ID"] == physical["TokenSigningKey"]
    assert variables["AuthorizerFunction"]["TOKEN_VERIFICATION_KEY_IDS"] == physical["TokenSigningKey"]
    assert variables["VaultFunction"]["VAULT_KEY_ARN"] == f"arn:aws:kms:ap-south-1:210987654321:key/{physical['VaultKey']}"
    assert variables["AuthorizerFunction"]["JWT_ISSUER"] == "vaultpay-dev"
    logical_ids = set(TEMPLATE.resources)
    assert not [value for values in variables.values() for value in values.values() if value in logical_ids]


def test_an_event_generated_by_sam_local_generate_event_is_accepted(stack: RunningStack, tmp_path: Path) -> None:
    # Given the event `sam local generate-event apigateway http-api-proxy` makes, set for the transfer route
    event: dict[str, Any] = json.loads(json.dumps(sam_generated("apigateway", "http-api-proxy")))
    event["routeKey"] = event["requestContext"]["routeKey"] = "POST /api/wallet/transfer/"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/wallet/transfer/"
    event["requestContext"]["http"]["method"] = "POST"
    event["rawQueryString"] = ""
    event.pop("queryStringParameters", None)
    event["headers"] = {**event["headers"], "content-type": "application/json", "idempotency-key": "sam-generated-transfer"}
    event["requestContext"]["authorizer"] = {"lambda": {"user_id": EXAMPLE_SENDER_ID}}
    body = json.dumps({"receiver_email": RECEIVER["email"], "amount": "2.50"})
    event["body"], event["isBase64Encoded"] = base64.b64encode(body.encode()).decode(), True
    path = tmp_path / "generated-transfer.json"
    path.write_text(json.dumps(event))
    # When the wallet function gets it
    result, failed = invoke("wallet", path, state_dir=stack.state_dir)
    # Then it is a real transfer
    assert not failed, result
    assert result["statusCode"] == 201, result
    assert json.loads(result["body"])["amount"] == "2.50"
