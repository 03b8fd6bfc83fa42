"""Each function's role grants every AWS call its code makes.

moto enforces no IAM, and neither does the local stack, so a missing permission would first
show on AWS. Here each function serves its routes (or its stream) in-process while every
botocore call is recorded with the IAM action and resource it needs; each must be allowed by
an Allow statement of that function's own role in template.yaml, conditions included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import TEMPLATE, body, load_function
from tests.handlers.test_audit import main_stream
from tests.support.data import PASSWORD, registration
from tests.support.events import LambdaContextStub, authorizer_event, http_event
from tests.support.totp import authenticator
from tests.tooling.test_template import as_list, role_of, statements
from vaultpay.core import secrets


@dataclass(frozen=True)
class Call:
    function: str
    action: str  # the IAM action, e.g. dynamodb:PutItem
    resource: str  # the template's logical id, with "/index/<name>" for a secondary index
    context: tuple[tuple[str, str], ...] = ()  # a KMS encryption context


@dataclass
class CallRecorder:
    physical_to_logical: dict[str, str]
    function: str = ""
    calls: set[Call] = field(default_factory=set)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.function:
            return  # the test's own calls
        service = model.service_model.endpoint_prefix
        for action, resource, context in required_permissions(service, model.name, params):
            logical = self.physical_to_logical.get(resource.split("/index/")[0], resource)
            index = resource.partition("/index/")[2]
            self.calls.add(Call(self.function, action, f"{logical}/index/{index}" if index else logical, context))


TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def required_permissions(service: str, operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str, tuple[Any, ...]]]:
    """The (action, resource, encryption context) pairs IAM checks for one API call."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, request),) = item.items()
                yield f"dynamodb:{TRANSACT_ACTIONS[kind]}", request["TableName"], ()
        elif operation == "TransactGetItems":
            for item in params["TransactItems"]:
                yield "dynamodb:GetItem", item["Get"]["TableName"], ()
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for table in params["RequestItems"]:
                yield f"dynamodb:{operation}", table, ()
        else:
            index = params.get("IndexName")
            yield f"dynamodb:{operation}", params["TableName"] + (f"/index/{index}" if index else ""), ()
    elif service == "kms":
        yield f"kms:{operation}", params["KeyId"], tuple(sorted(params.get("EncryptionContext", {}).items()))
    elif service == "secretsmanager":
        yield f"secretsmanager:{operation}", params["SecretId"], ()
    else:
        raise AssertionError(f"a call to {service}:{operation} this test does not know how to check")


def resource_refers_to(resource: Any, logical: str) -> bool:
    table, _, index = logical.partition("/index/")
    if index:
        return bool(resource == {"Fn::Sub": f"${{{table}.Arn}}/index/{index}"})
    return resource in ({"Fn::GetAtt": [logical, "Arn"]}, {"Ref": logical})


def condition_holds(condition: dict[str, Any] | None, call: Call) -> bool:
    """Whether ``call`` meets a statement's conditions (those on the KMS encryption context)."""
    for operator, requirements in (condition or {}).items():
        if operator != "StringEquals":
            return False  # a condition this test cannot evaluate is not taken as a grant
        context = dict(call.context)
        for key, expected in requirements.items():
            name = key.removeprefix("kms:EncryptionContext:")
            if name == key or context.get(name) not in as_list(expected):
                return False
    return True


def allowed(call: Call) -> bool:
    function_logical_id = {spec.code_uri.name: logical for logical, spec in TEMPLATE.functions().items()}[call.function]
    return any(
        statement["Effect"] == "Allow"
        and call.action in as_list(statement["Action"])
        and any(resource_refers_to(resource, call.resource) for resource in as_list(statement["Resource"]))
        and condition_holds(statement.get("Condition"), call)
        for statement in statements(role_of(function_logical_id))
    )


def physical_names(environment: dict[str, str]) -> dict[str, str]:
    """Physical name or ARN (as the functions receive them) -> the template's logical id."""
    mapping: dict[str, str] = {}
    for spec in TEMPLATE.functions().values():
        for name, value in spec.environment.items():
            reference = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0] if isinstance(value, dict) else None
            if reference and name in environment:
                mapping[environment[name]] = reference
    return mapping


@pytest.fixture
def recorder(aws_stack: dict[str, str]) -> Iterator[CallRecorder]:
    recording = CallRecorder(physical_names(aws_stack))
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    # Clients the functions create from now on (their caches were cleared) inherit the hook.
    boto3.DEFAULT_SESSION.events.register("before-parameter-build", recording)
    yield recording
    boto3.DEFAULT_SESSION.events.unregister("before-parameter-build", recording)


def exercise_every_function(recorder: CallRecorder, environment: dict[str, str]) -> None:
    handlers = {folder: load_function(folder) for folder in ("identity", "vault", "wallet", "authorizer", "audit")}

    def invoke(folder: str, event: dict[str, Any]) -> Any:
        recorder.function = folder
        return body(handlers[folder].lambda_handler(event, LambdaContextStub()))

    asha = invoke("identity", http_event("POST", "/api/users/register/", body=registration("asha@example.com")))
    invoke("identity", http_event("POST", "/api/users/register/", body=registration("ravi@example.com")))
    wrong = {"email": "asha@example.com", "password": "not-the-password"}
    invoke("identity", http_event("POST", "/api/users/login/", body=wrong))
    tokens = invoke("identity", http_event("POST", "/api/users/login/", body={"email": "asha@example.com", "password": PASSWORD}))
    tokens = invoke("identity", http_event("POST", "/api/users/token/refresh/", body={"refresh": tokens["refresh"]}))
    invoke("identity", http_event("GET", "/api/users/profile/", user_id=asha["id"]))
    secrets._provider.cache_clear()  # each function has a secrets cache of its own
    recorder.function = "authorizer"
    handlers["authorizer"].lambda_handler(authorizer_event(tokens["access"]), LambdaContextStub())

    invoke("vault", http_event("POST", "/api/users/profile/aadhaar/", body={"password": "not-the-password"}, user_id=asha["id"]))
    invoke("vault", http_event("POST", "/api/users/profile/aadhaar/", body={"password": PASSWORD}, user_id=asha["id"]))

    def step_up(proof: dict[str, str]) -> str:
        return str(invoke("vault", http_event("POST", "/api/users/step-up/", body=proof, **session))["grant"])

    session = {"user_id": asha["id"], "session_id": "grants-session"}
    invoke(
        "vault",
        http_event(
            "POST", "/api/users/profile/aadhaar/", body={}, headers={"x-step-up": step_up({"password": PASSWORD})}, **session
        ),
    )
    enrolment = invoke(
        "vault", http_event("POST", "/api/users/totp/", headers={"x-step-up": step_up({"password": PASSWORD})}, **session)
    )
    totp = authenticator(enrolment["secret_uri"])
    invoke("vault", http_event("POST", "/api/users/totp/confirm/", body={"code": totp.now()}, **session))
    step_up({"recovery_code": enrolment["recovery_codes"][0]})
    large_transfer_grant = step_up({"totp": totp.at(time.time() + 30)})

    def transfer(amount: str, key: str) -> Any:
        return invoke(
            "wallet",
            http_event(
                "POST",
                "/api/wallet/transfer/",
                body={"receiver_email": "ravi@example.com", "amount": amount},
                headers={"idempotency-key": key},
                user_id=asha["id"],
            ),
        )

    invoke(
        "wallet",
        http_event(
            "POST",
            "/api/wallet/transfer/",
            body={"receiver_email": "ravi@example.com", "amount": "10000.01"},
            headers={"idempotency-key": "grants-key-large", "x-step-up": large_transfer_grant},
            **session,
        ),
    )
    invoke("wallet", http_event("GET", "/api/wallet/limits/", user_id=asha["id"]))
    sent = transfer("10.00", "grants-key-0001")
    transfer("10.00", "grants-key-0001")  # a replay
    transfer("99999.00", "grants-key-0002")  # insufficient funds: a FAILED transaction
    invoke("wallet", http_event("GET", "/api/wallet/balance/", user_id=asha["id"]))
    invoke("wallet", http_event("GET", "/api/wallet/history/", query={"limit": "1"}, user_id=asha["id"]))
    invoke("wallet", http_event("GET", "/api/wallet/history/", query={"direction": "sent"}, user_id=asha["id"]))
    reference = sent["reference_id"]
    invoke(
        "wallet",
        http_event(
            "GET",
            f"/api/wallet/transactions/{reference}/",
            path_parameters={"reference_id": reference},
            user_id=asha["id"],
        ),
    )
    invoke("identity", http_event("POST", "/api/users/logout/", body={"refresh": tokens["refresh"]}, user_id=asha["id"]))

    # One record per batch: a balance change never arrives with its transaction, as happens when
    # they come from different shards, so the consumer must read the transaction from the table.
    recorder.function = ""
    for record in main_stream(environment):
        recorder.function = "audit"
        assert handlers["audit"].lambda_handler({"Records": [record]}, LambdaContextStub()) == {"batchItemFailures": []}
        recorder.function = ""


def test_every_call_a_function_makes_is_granted_by_its_own_role(recorder: CallRecorder, aws_stack: dict[str, str]) -> None:
    # Given every function serving each of its routes (or its stream), calls recorded
    exercise_every_function(recorder, aws_stack)
    # Then each function made calls, and every one of them is allowed by its role
    assert {call.function for call in recorder.calls} == {"identity", "vault", "wallet", "authorizer", "audit"}
    assert Call("audit", "dynamodb:BatchGetItem", "MainTable") in recorder.calls
    denied = sorted(
        f"{call.function}: {call.action} on {call.resource} {dict(call.context)}" for call in recorder.calls if not allowed(call)
    )
    assert denied == []


def test_the_checker_refuses_what_a_role_does_not_grant() -> None:
    # Given calls that no role grants as made
    audit_update = Call("audit", "dynamodb:UpdateItem", "AuditTable")
    wallet_decrypt = Call("wallet", "kms:Decrypt", "VaultKey", (("purpose", "aadhaar"),))
    vault_decrypt_other_purpose = Call("vault", "kms:Decrypt", "VaultKey", (("purpose", "other"),))
    # Then none of them is allowed, while the vault's real decrypt is
    assert not allowed(audit_update)
    assert not allowed(wallet_decrypt)
    assert not allowed(vault_decrypt_other_purpose)
    assert allowed(Call("vault", "kms:Decrypt", "VaultKey", (("purpose", "aadhaar"), ("user_id", "u1"))))


# Grants no request path exercises, each for a reason: Lambda's event source mapping reads the
# stream with the consumer's role, and Powertools idempotency reads a record whose conditional
# put failed (older DynamoDB responses carry no item) and deletes its in-progress record when
# the function raises.
NOT_CALLED_BY_THE_CODE = {
    ("audit", "dynamodb:DescribeStream"),
    ("audit", "dynamodb:GetRecords"),
    ("audit", "dynamodb:GetShardIterator"),
    ("audit", "dynamodb:ListStreams"),
    ("wallet", "dynamodb:GetItem", "IdempotencyTable"),
    ("wallet", "dynamodb:DeleteItem", "IdempotencyTable"),
}


def test_every_data_grant_is_used_by_the_code_that_holds_it(recorder: CallRecorder, aws_stack: dict[str, str]) -> None:
    # Given every function serving each of its routes (or its stream), calls recorded
    exercise_every_function(recorder, aws_stack)
    # Then every DynamoDB, KMS and Secrets Manager grant was needed by a call, or has its reason
    unused = []
    for folder, logical_id in {spec.code_uri.name: logical for logical, spec in TEMPLATE.functions().items()}.items():
        for statement in statements(role_of(logical_id)):
            for action in as_list(statement["Action"]):
                if action.split(":")[0] not in ("dynamodb", "kms", "secretsmanager"):
                    continue
                for resource in as_list(statement["Resource"]):
                    needed = any(
                        call.function == folder and call.action == action and resource_refers_to(resource, call.resource)
                        for call in recorder.calls
                    )
                    reasons = {(folder, action), (folder, action, repr(resource))} | {
                        (folder, action, name) for name in TEMPLATE.resources if resource_refers_to(resource, name)
                    }
                    if not needed and not reasons & NOT_CALLED_BY_THE_CODE:
                        unused.append(f"{folder}: {action} on {resource}")
    assert unused == []
