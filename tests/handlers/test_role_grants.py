"""Each function's role grants every AWS call its code makes.

moto enforces no IAM, and neither does the local stack, so a missing permission would first
show on AWS. Here each function serves its routes (or its stream) in-process while every
botocore call is recorded with the IAM action and resource it needs; each must be allowed by
an Allow statement of that function's own role in template.yaml, conditions included. A call
to a KMS key whose policy names the role is allowed by that key policy instead (the vault and
index keys delegate nothing to IAM), and no Deny of the key policy may refuse it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

import boto3
import jwt
import pytest

from tests.handlers.conftest import TEMPLATE, body, load_function
from tests.handlers.test_audit import main_stream
from tests.support.data import PASSWORD, registration
from tests.support.events import LambdaContextStub, authorizer_event, http_event
from tests.support.totp import authenticator
from tests.tooling.test_template import as_list, key_permits, key_policy, kms_keys, role_arn, role_of, statements
from vaultpay.core.clock import utc_now
from vaultpay.lending import composition as lending_composition


@dataclass(frozen=True)
class Call:
    function: str
    action: str  # the IAM action, e.g. dynamodb:PutItem
    resource: str  # the template's logical id, with "/index/<name>" for a secondary index
    # the request's IAM condition keys: kms:EncryptionContext:<name>, kms:MacAlgorithm,
    # kms:SigningAlgorithm, kms:MessageType, dynamodb:LeadingKeys (of a GetItem, a DeleteItem or a transaction's item)
    context: tuple[tuple[str, str], ...] = ()


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
    """The (action, resource, condition keys) IAM checks for one API call."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, request),) = item.items()
                key = request.get("Key") or request.get("Item") or {}
                partition = key.get("PK") or key.get("pk") or key.get("id")
                leading = (("dynamodb:LeadingKeys", partition["S"]),) if partition else ()
                yield f"dynamodb:{TRANSACT_ACTIONS[kind]}", request["TableName"], leading
        elif operation == "TransactGetItems":
            for item in params["TransactItems"]:
                yield "dynamodb:GetItem", item["Get"]["TableName"], ()
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for table in params["RequestItems"]:
                yield f"dynamodb:{operation}", table, ()
        elif operation in ("GetItem", "DeleteItem"):
            key = params["Key"]
            partition = key.get("PK") or key.get("pk") or key["id"]  # the main, vault and idempotency tables
            yield f"dynamodb:{operation}", params["TableName"], (("dynamodb:LeadingKeys", partition["S"]),)
        else:
            index = params.get("IndexName")
            yield f"dynamodb:{operation}", params["TableName"] + (f"/index/{index}" if index else ""), ()
    elif service == "kms":
        context = {f"kms:EncryptionContext:{name}": value for name, value in params.get("EncryptionContext", {}).items()}
        for parameter in ("MacAlgorithm", "SigningAlgorithm", "MessageType"):
            if parameter in params:
                context[f"kms:{parameter}"] = params[parameter]
        yield f"kms:{operation}", params["KeyId"], tuple(sorted(context.items()))
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
    """Whether ``call`` meets a statement's conditions: StringEquals on the request's condition
    keys, ForAllValues:StringLike on its leading keys."""
    context = dict(call.context)
    for operator, requirements in (condition or {}).items():
        for key, expected in requirements.items():
            if operator == "StringEquals":
                holds = context.get(key) in as_list(expected)
            elif operator == "ForAllValues:StringLike":
                holds = key in context and any(fnmatchcase(context[key], pattern) for pattern in as_list(expected))
            else:
                holds = False  # a condition this test cannot evaluate is not taken as a grant
            if not holds:
                return False
    return True


def function_names() -> dict[str, str]:
    """This test's name for each function -> its logical id: the code folder, followed by the
    handler module when it is not app.py (the lending folder holds the API and the sweeper)."""
    names = {}
    for logical, spec in TEMPLATE.functions().items():
        module = spec.handler.partition(".")[0]
        names[spec.code_uri.name if module == "app" else f"{spec.code_uri.name}.{module}"] = logical
    return names


def function_of(name: str) -> str:
    return function_names()[name]


def key_policy_statements_naming(role: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, statement) for every key policy statement that names ``role`` as its principal."""
    for key in kms_keys():
        for statement in key_policy(key):
            if role_arn(role) in as_list(statement["Principal"].get("AWS", [])):
                yield key, statement


def allowed_by_key_policy(call: Call, role: str) -> bool:
    if call.resource not in kms_keys():
        return False
    policy = key_policy(call.resource)
    granted = any(
        key == call.resource
        and statement["Effect"] == "Allow"
        and call.action in as_list(statement["Action"])
        and condition_holds(statement.get("Condition"), call)
        for key, statement in key_policy_statements_naming(role)
    )
    return granted and key_permits(policy, role_arn(role), call.action)


def allowed(call: Call) -> bool:
    role = role_of(function_of(call.function))
    if call.action.startswith("kms:") and allowed_by_key_policy(call, role):
        return True
    return any(
        statement["Effect"] == "Allow"
        and call.action in as_list(statement["Action"])
        and any(resource_refers_to(resource, call.resource) for resource in as_list(statement["Resource"]))
        and condition_holds(statement.get("Condition"), call)
        for statement in statements(role)
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


def exercise_every_function(recorder: CallRecorder, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    handlers = {folder: load_function(folder) for folder in ("identity", "vault", "wallet", "authorizer", "audit", "lending")}
    handlers["lending.sweeper"] = load_function("lending", "sweeper")

    def invoke(folder: str, event: dict[str, Any]) -> Any:
        recorder.function = folder
        response = handlers[folder].lambda_handler(event, LambdaContextStub())
        return body(response) if "statusCode" in response else response  # the sweeper answers no HTTP

    asha = invoke("identity", http_event("POST", "/api/users/register/", body=registration("asha@example.com")))
    invoke("identity", http_event("POST", "/api/users/register/", body=registration("ravi@example.com")))
    wrong = {"email": "asha@example.com", "password": "not-the-password"}
    invoke("identity", http_event("POST", "/api/users/login/", body=wrong))
    tokens = invoke("identity", http_event("POST", "/api/users/login/", body={"email": "asha@example.com", "password": PASSWORD}))
    tokens = invoke("identity", http_event("POST", "/api/users/token/refresh/", body={"refresh": tokens["refresh"]}))
    invoke("identity", http_event("GET", "/api/users/profile/", user_id=asha["id"]))
    recorder.function = "authorizer"
    handlers["authorizer"].lambda_handler(authorizer_event(tokens["access"]), LambdaContextStub())
    ravi = invoke("identity", http_event("POST", "/api/users/login/", body={"email": "ravi@example.com", "password": PASSWORD}))

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
    ravi_id = jwt.decode(ravi["access"], options={"verify_signature": False})["sub"]
    invoke("identity", http_event("POST", "/api/users/logout/all/", user_id=ravi_id))
    exercise_lending(invoke, asha["id"], ravi_id, monkeypatch)

    # One record per batch: a balance change never arrives with its transaction, as happens when
    # they come from different shards, so the consumer must read the transaction from the table.
    recorder.function = ""
    for record in main_stream(environment):
        recorder.function = "audit"
        assert handlers["audit"].lambda_handler({"Records": [record]}, LambdaContextStub()) == {"batchItemFailures": []}
        recorder.function = ""


def exercise_lending(
    invoke: Callable[[str, dict[str, Any]], Any], lender: str, borrower: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every lending route, then the sweeper: a request funded by two commitments and repaid once,
    another cancelled and a third left to expire, each with a commitment in escrow; two months
    later the sweeper expires and refunds the third and collects the second installment."""
    kiran = invoke("identity", http_event("POST", "/api/users/register/", body=registration("kiran@example.com")))["id"]
    terms = {"amount": "1000", "tenure_months": "3", "annual_rate": "12.00"}
    invoke("lending", http_event("GET", "/api/loans/quote/", query=terms, user_id=borrower))

    def post(path: str, payload: dict[str, Any], user: str, key: str) -> Any:
        return invoke("lending", http_event("POST", path, body=payload, headers={"idempotency-key": key}, user_id=user))

    def request_loan(key: str) -> str:
        return str(post("/api/loans/", {**terms, "tenure_months": 3, "purpose": "Books"}, borrower, key)["id"])

    funded, cancelled, expiring = (request_loan(f"grants-loan-{number}") for number in (1, 2, 3))
    for order in ("newest", "rate", "tenure"):
        invoke("lending", http_event("GET", "/api/loans/open/", query={"order": order}, user_id=lender))
    post(f"/api/loans/{funded}/commitments/", {"amount": "500.00"}, lender, "grants-commit-1")
    post(f"/api/loans/{funded}/commitments/", {"amount": "500.00"}, kiran, "grants-commit-2")  # fills and disburses
    post(f"/api/loans/{cancelled}/commitments/", {"amount": "500.00"}, lender, "grants-commit-3")
    post(f"/api/loans/{expiring}/commitments/", {"amount": "500.00"}, lender, "grants-commit-4")
    post(f"/api/loans/{funded}/repayments/", {}, borrower, "grants-repay-1")
    post(f"/api/loans/{funded}/repayments/", {}, borrower, "grants-repay-1")  # a replay
    for role in ("borrower", "lender"):
        invoke("lending", http_event("GET", "/api/loans/", query={"role": role}, user_id=lender))
    invoke("lending", http_event("GET", f"/api/loans/{funded}/", path_parameters={"loan_id": funded}, user_id=lender))
    invoke(
        "lending", http_event("POST", f"/api/loans/{cancelled}/cancel/", path_parameters={"loan_id": cancelled}, user_id=borrower)
    )

    later = utc_now() + timedelta(days=62)
    monkeypatch.setattr(lending_composition, "utc_now", lambda: later)
    lending_composition.lending_service.cache_clear()
    report = invoke("lending.sweeper", {"source": "aws.scheduler", "detail": {}})
    assert report == {"expired": 1, "refunded": 1, "collected": 1, "marked_overdue": 0, "defaulted": 0}


def test_every_call_a_function_makes_is_granted_by_its_own_role(
    recorder: CallRecorder, aws_stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every function serving each of its routes (or its stream), calls recorded
    exercise_every_function(recorder, aws_stack, monkeypatch)
    # Then each function that touches data made calls, and every one of them is allowed by its role
    assert {call.function for call in recorder.calls} == set(function_names()) - {"health"}
    assert Call("audit", "dynamodb:BatchGetItem", "MainTable") in recorder.calls
    assert Call("identity", "kms:GenerateMac", "AadhaarIndexKey", (("kms:MacAlgorithm", "HMAC_SHA_256"),)) in recorder.calls
    assert {(call.action, call.resource) for call in recorder.calls if call.function == "authorizer"} == {
        ("kms:GetPublicKey", "TokenSigningKey"),
        ("dynamodb:GetItem", "MainTable"),
    }
    signing = {call for call in recorder.calls if call.action == "kms:Sign"}
    assert {call.function for call in signing} == {"identity"}
    denied = sorted(
        f"{call.function}: {call.action} on {call.resource} {dict(call.context)}" for call in recorder.calls if not allowed(call)
    )
    assert denied == []


def test_the_checker_refuses_what_a_role_does_not_grant() -> None:
    # Given calls that no role grants as made
    purpose = "kms:EncryptionContext:purpose"
    audit_update = Call("audit", "dynamodb:UpdateItem", "AuditTable")
    wallet_decrypt = Call("wallet", "kms:Decrypt", "VaultKey", ((purpose, "aadhaar"),))
    vault_decrypt_other_purpose = Call("vault", "kms:Decrypt", "VaultKey", ((purpose, "other"),))
    digest = (("kms:MessageType", "DIGEST"), ("kms:SigningAlgorithm", "ECDSA_SHA_256"))
    authorizer_signs = Call("authorizer", "kms:Sign", "TokenSigningKey", digest)
    wallet_signs = Call("wallet", "kms:Sign", "TokenSigningKey", digest)
    identity_signs_a_raw_message = Call(
        "identity", "kms:Sign", "TokenSigningKey", (("kms:MessageType", "RAW"), ("kms:SigningAlgorithm", "ECDSA_SHA_256"))
    )
    authorizer_reads_a_profile = Call("authorizer", "dynamodb:GetItem", "MainTable", (("dynamodb:LeadingKeys", "USER#u1"),))
    authorizer_reads_the_vault = Call("authorizer", "dynamodb:GetItem", "VaultTable", (("dynamodb:LeadingKeys", "USER#u1"),))
    identity_decrypt = Call("identity", "kms:Decrypt", "VaultKey", ((purpose, "aadhaar"),))
    vault_mac = Call("vault", "kms:GenerateMac", "AadhaarIndexKey", (("kms:MacAlgorithm", "HMAC_SHA_256"),))
    identity_weaker_mac = Call("identity", "kms:GenerateMac", "AadhaarIndexKey", (("kms:MacAlgorithm", "HMAC_SHA_224"),))
    wallet_opens_a_totp_secret = Call("wallet", "kms:Decrypt", "TotpKey", ((purpose, "totp"),))
    identity_seals_a_totp_secret = Call("identity", "kms:GenerateDataKey", "TotpKey", ((purpose, "totp"),))
    vault_decrypts_other_data_with_the_totp_key = Call("vault", "kms:Decrypt", "TotpKey", ((purpose, "aadhaar"),))
    # Then none of them is allowed, while the vault's real decrypt, the identity function's
    # signature and the authorizer's session read are
    for call in (
        audit_update,
        wallet_decrypt,
        vault_decrypt_other_purpose,
        authorizer_signs,
        wallet_signs,
        identity_signs_a_raw_message,
        authorizer_reads_a_profile,
        authorizer_reads_the_vault,
        identity_decrypt,
        vault_mac,
        identity_weaker_mac,
        wallet_opens_a_totp_secret,
        identity_seals_a_totp_secret,
        vault_decrypts_other_data_with_the_totp_key,
    ):
        assert not allowed(call), call
    assert allowed(Call("vault", "kms:Decrypt", "VaultKey", ((purpose, "aadhaar"), ("kms:EncryptionContext:user_id", "u1"))))
    assert allowed(Call("identity", "kms:Sign", "TokenSigningKey", digest))
    assert allowed(Call("vault", "kms:Decrypt", "TotpKey", ((purpose, "totp"), ("kms:EncryptionContext:user_id", "u1"))))
    assert allowed(Call("identity", "kms:GenerateMac", "AadhaarIndexKey", (("kms:MacAlgorithm", "HMAC_SHA_256"),)))
    assert allowed(Call("authorizer", "dynamodb:GetItem", "MainTable", (("dynamodb:LeadingKeys", "FAMILY#f1"),)))


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
    ("lending", "dynamodb:GetItem", "IdempotencyTable"),
    ("lending", "dynamodb:DeleteItem", "IdempotencyTable"),
}


def test_every_data_grant_is_used_by_the_code_that_holds_it(
    recorder: CallRecorder, aws_stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every function serving each of its routes (or its stream), calls recorded
    exercise_every_function(recorder, aws_stack, monkeypatch)
    # Then every DynamoDB, KMS and Secrets Manager grant, key policies included, was needed by a call,
    # or has its reason
    unused = []
    for folder, logical_id in function_names().items():
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
                    # The table key is used by DynamoDB, Secrets Manager and SQS with the function's
                    # credentials (kms:ViaService), never by the function's own code.
                    through_a_service = "kms:ViaService" in repr(statement.get("Condition"))
                    if not needed and not through_a_service and not reasons & NOT_CALLED_BY_THE_CODE:
                        unused.append(f"{folder}: {action} on {resource}")
        # and every key policy statement that names the function's role is needed too
        for key, statement in key_policy_statements_naming(role_of(logical_id)):
            for action in as_list(statement["Action"]):
                if not any(call.function == folder and call.action == action and call.resource == key for call in recorder.calls):
                    unused.append(f"{folder}: {action} on {key} (key policy)")
    assert unused == [], "\n".join(unused)
