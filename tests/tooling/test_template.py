"""The deployment a bank's cloud team would accept: least privilege, encryption, recovery, alarms."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.template import ROOT, SamTemplate

TEMPLATE = SamTemplate.load()
RESOURCES = TEMPLATE.resources
SAM = ROOT / ".venv-sam" / "bin" / "sam"
# Actions that have no resource-level permissions: "*" is the only resource they take.
NO_RESOURCE_LEVEL = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def roles() -> dict[str, dict[str, Any]]:
    return {name: resource["Properties"] for name, resource in RESOURCES.items() if resource["Type"] == "AWS::IAM::Role"}


def statements(role: str) -> Iterator[dict[str, Any]]:
    for policy in roles()[role].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(role: str, action: str, resource_ref: str) -> list[dict[str, Any]]:
    """The role's Allow statements granting ``action`` on the resource named by logical id."""
    return [
        statement
        for statement in statements(role)
        if statement["Effect"] == "Allow"
        and action in as_list(statement["Action"])
        and resource_ref in repr(statement["Resource"])
    ]


def role_of(function: str) -> str:
    return str(RESOURCES[function]["Properties"]["Role"]["Fn::GetAtt"][0])


def test_every_function_has_a_role_of_its_own() -> None:
    functions = TEMPLATE.functions()
    assigned = [role_of(name) for name in functions]
    assert len(set(assigned)) == len(functions)
    assert set(assigned) == set(roles())


@pytest.mark.parametrize("role", sorted(roles()))
def test_no_wildcard_actions_and_no_star_resource_where_a_resource_exists(role: str) -> None:
    for statement in statements(role):
        actions = as_list(statement["Action"])
        assert not any(action == "*" or action.endswith(":*") for action in actions), statement
        if statement["Resource"] == "*":
            assert set(actions) <= NO_RESOURCE_LEVEL, statement


def test_only_the_vault_role_can_decrypt_and_only_with_the_aadhaar_context() -> None:
    decrypting = [role for role in roles() if grants(role, "kms:Decrypt", "VaultKey")]
    assert decrypting == [role_of("VaultFunction")]
    (statement,) = grants(role_of("VaultFunction"), "kms:Decrypt", "VaultKey")
    assert statement["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "aadhaar"}}


def test_the_key_policy_denies_decrypt_to_everyone_but_the_vault_role() -> None:
    policy = RESOURCES["VaultKey"]["Properties"]["KeyPolicy"]["Statement"]
    (deny,) = [statement for statement in policy if statement["Effect"] == "Deny"]
    assert deny["Action"] == "kms:Decrypt"
    assert "-vault-fn" in repr(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    assert RESOURCES["VaultRole"]["Properties"]["RoleName"] == {"Fn::Sub": "${AWS::StackName}-vault-fn"}


def test_the_identity_role_may_only_generate_data_keys_under_the_aadhaar_context() -> None:
    role = role_of("IdentityFunction")
    kms_actions = {
        action for statement in statements(role) for action in as_list(statement["Action"]) if action.startswith("kms:")
    }
    assert kms_actions == {"kms:GenerateDataKey"}
    (statement,) = grants(role, "kms:GenerateDataKey", "VaultKey")
    assert statement["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "aadhaar"}}


def test_the_audit_table_is_append_only() -> None:
    for role in roles():
        on_audit = [statement for statement in statements(role) if "AuditTable" in repr(statement["Resource"])]
        actions = {action for statement in on_audit for action in as_list(statement["Action"])}
        if role == role_of("AuditFunction"):
            assert actions == {"dynamodb:PutItem"}
        else:
            assert actions == set()


def test_only_identity_writes_the_vault_and_only_vault_reads_it() -> None:
    for role in roles():
        on_vault = {
            action
            for statement in statements(role)
            if "VaultTable" in repr(statement["Resource"])
            for action in as_list(statement["Action"])
        }
        expected = {role_of("IdentityFunction"): {"dynamodb:PutItem"}, role_of("VaultFunction"): {"dynamodb:GetItem"}}
        assert on_vault == expected.get(role, set()), role


def tables() -> dict[str, dict[str, Any]]:
    return {name: resource["Properties"] for name, resource in RESOURCES.items() if resource["Type"] == "AWS::DynamoDB::Table"}


@pytest.mark.parametrize("table", sorted(tables()))
def test_tables_are_on_demand_recoverable_protected_and_encrypted_with_the_project_key(table: str) -> None:
    properties = tables()[table]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] == {"Ref": "TableDeletionProtection"}
    assert properties["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "TableKey"}}


def test_deletion_protection_is_on_unless_told_otherwise() -> None:
    assert TEMPLATE.parameters()["TableDeletionProtection"] == "true"
    for table in ("MainTable", "VaultTable", "AuditTable"):
        assert RESOURCES[table]["DeletionPolicy"] == "Retain"


def test_ttl_expires_tokens_counters_and_idempotency_records() -> None:
    assert tables()["MainTable"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert tables()["IdempotencyTable"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_every_kms_key_rotates() -> None:
    keys = [resource["Properties"] for resource in RESOURCES.values() if resource["Type"] == "AWS::KMS::Key"]
    assert len(keys) == 3  # tables, the Aadhaar vault, TOTP secrets
    assert all(key["EnableKeyRotation"] is True for key in keys)


def watched_metrics() -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(namespace, metric, dimensions) of every alarm, metric math included; each dimension
    value is the logical id it refers to, or the literal."""

    def refers_to(value: Any) -> str:
        if not isinstance(value, dict):
            return str(value)
        target = next(iter(value.values()))  # Ref: name, Fn::GetAtt: [name, attribute]
        return str(target[0] if isinstance(target, list) else target)

    def dimensions(metric: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((dimension["Name"], refers_to(dimension["Value"])) for dimension in metric.get("Dimensions", [])))

    watched = set()
    for resource in RESOURCES.values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        metrics = [query["MetricStat"]["Metric"] for query in properties.get("Metrics", []) if "MetricStat" in query]
        for metric in metrics or [properties]:
            watched.add((metric["Namespace"], metric["MetricName"], dimensions(metric)))
    return watched


def test_alarms_watch_5xx_throttles_the_dead_letter_queue_audit_mismatches_and_stream_lag() -> None:
    # Each with the dimensions AWS (or Powertools, for our own metrics) publishes it under:
    # DynamoDB's ThrottledRequests, for one, exists only per table *and operation*.
    watched = watched_metrics()
    expected = {
        ("AWS/ApiGateway", "5xx", (("ApiId", "VaultPayApi"),)),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", "AuditDeadLetterQueue"),)),
        ("VaultPay", "AuditMismatch", (("service", "audit"),)),
        ("AWS/Lambda", "IteratorAge", (("FunctionName", "AuditFunction"),)),
    }
    for table in ("MainTable", "IdempotencyTable"):
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            expected.add(("AWS/DynamoDB", metric, (("TableName", table),)))
    for function in TEMPLATE.functions():
        expected.add(("AWS/Lambda", "Throttles", (("FunctionName", function),)))
    assert expected <= watched, expected - watched
    assert not any(metric == "ThrottledRequests" for _, metric, _ in watched)


def test_the_api_caches_authorizations_throttles_and_restricts_cors() -> None:
    api = RESOURCES["VaultPayApi"]["Properties"]
    authorizer = api["Auth"]["Authorizers"]["JwtLambdaAuthorizer"]
    assert 0 < authorizer["Identity"]["ReauthorizeEvery"] <= 300
    default = api["DefaultRouteSettings"]["ThrottlingRateLimit"]
    for route in ("POST /api/users/login/", "POST /api/users/register/"):
        assert api["RouteSettings"][route]["ThrottlingRateLimit"] < default
    assert api["CorsConfiguration"]["AllowOrigins"] == [{"Ref": "DashboardOrigin"}]
    assert "DestinationArn" in api["AccessLogSettings"]


def test_functions_trace_and_run_on_arm64_with_a_supported_python() -> None:
    globals_ = TEMPLATE.body["Globals"]["Function"]
    assert globals_["Tracing"] == "Active"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Runtime"] in {"python3.12", "python3.13"}


def test_traces_and_logs_never_capture_responses_or_events() -> None:
    # Responses carry tokens and the revealed Aadhaar number; events carry passwords.
    variables = TEMPLATE.body["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    for function in TEMPLATE.functions().values():  # Globals merged: no function turns them back on
        assert function.environment["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
        assert function.environment["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"


def test_the_dashboard_bucket_is_private_and_served_only_through_cloudfront() -> None:
    bucket = RESOURCES["WebBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (allow,) = [s for s in RESOURCES["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert "AWS:SourceArn" in allow["Condition"]["StringEquals"]


def test_cfn_lint_finds_nothing() -> None:
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE.path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.skipif(not SAM.exists(), reason="the SAM CLI is installed by `make test` (.venv-sam)")
def test_sam_validate_lint_is_clean() -> None:
    completed = subprocess.run(
        [str(SAM), "validate", "--lint", "--region", "ap-south-1", "--template-file", str(TEMPLATE.path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(ROOT),
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_only_the_vault_function_can_use_the_totp_key() -> None:
    # Given the key that wraps the TOTP secrets' data keys
    statements = RESOURCES["TotpKey"]["Properties"]["KeyPolicy"]["Statement"]
    (deny,) = [statement for statement in statements if statement["Effect"] == "Deny"]
    # Then decrypting, re-encrypting, granting and making data keys are denied to every principal but the vault function's role
    assert deny["Principal"] == {"AWS": "*"}
    assert set(deny["Action"]) >= {"kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:GenerateDataKey*"}
    exempt = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]["Fn::Sub"]
    assert exempt.endswith(":role/${AWS::StackName}-vault-fn")
    assert RESOURCES["VaultRole"]["Properties"]["RoleName"] == {"Fn::Sub": "${AWS::StackName}-vault-fn"}
