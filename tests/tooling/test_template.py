"""The deployment a bank's cloud team would accept: least privilege, encryption, recovery, alarms."""

from __future__ import annotations

import fnmatch
import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.provision import LOCAL_PARAMETERS
from local.template import ACCOUNT_ID, ROOT, SamTemplate

TEMPLATE = SamTemplate.load()
RESOURCES = TEMPLATE.resources
SAM = ROOT / ".venv-sam" / "bin" / "sam"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
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
    assert set(assigned) == set(roles()) - {"BreakGlassRole"}  # the break-glass role belongs to people, not code


@pytest.mark.parametrize("role", sorted(roles()))
def test_no_wildcard_actions_and_no_star_resource_where_a_resource_exists(role: str) -> None:
    for statement in statements(role):
        actions = as_list(statement["Action"])
        assert not any(action == "*" or action.endswith(":*") for action in actions), statement
        if statement["Resource"] == "*":
            assert set(actions) <= NO_RESOURCE_LEVEL, statement


# ---------------------------------------------------------------- key policies
# No key policy delegates to the account's IAM policies with kms:*: each names who may use its key.
# These tests evaluate the key policies (Allow, then explicit Deny) for every role of the template,
# a stranger of the account and the account root, under the given parameters.
ACCOUNT_ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"
STRANGER = f"arn:aws:iam::{ACCOUNT_ID}:role/someone-else-in-the-account"
DEPLOYER = f"arn:aws:iam::{ACCOUNT_ID}:role/deployer"
KEY_ADMINISTRATION = (
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
)


def role_arn(logical_id: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}"


def key_policy(key: str, **parameters: str) -> list[dict[str, Any]]:
    """The key's policy statements as CloudFormation would resolve them (roles by logical id)."""
    intrinsics = TEMPLATE.intrinsics(
        stack_name="vaultpay-test",
        region="ap-south-1",
        parameter_overrides=parameters,
        attributes={(name, "Arn"): role_arn(name) for name in roles()},
    )
    resolved: list[dict[str, Any]] = intrinsics.resolve(RESOURCES[key]["Properties"]["KeyPolicy"])["Statement"]
    return resolved


def _names_principal(statement: dict[str, Any], principal: str) -> bool:
    named = statement["Principal"]
    if named == "*":
        return True
    aws = as_list(named.get("AWS", [])) if isinstance(named, dict) else []
    # The account root delegates to IAM: any principal of the account whose IAM policy allows it.
    return "*" in aws or principal in aws or ACCOUNT_ROOT in aws


def _deny_applies(statement: dict[str, Any], principal: str) -> bool:
    condition = statement.get("Condition", {})
    if not condition:
        return True
    if set(condition) == {"ArnNotEquals"} and set(condition["ArnNotEquals"]) == {"aws:PrincipalArn"}:
        return principal not in as_list(condition["ArnNotEquals"]["aws:PrincipalArn"])
    return False  # a condition this evaluator cannot read is not taken as a denial


def _matches(patterns: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in as_list(patterns))


def key_permits(statements: list[dict[str, Any]], principal: str, action: str) -> bool:
    """Whether ``principal`` may call ``action`` on the key directly (not through an AWS service
    that the policy names with kms:ViaService): some Allow names it and no Deny refuses it."""
    allowed = any(
        statement["Effect"] == "Allow"
        and _matches(statement["Action"], action)
        and _names_principal(statement, principal)
        and "kms:ViaService" not in repr(statement.get("Condition"))
        for statement in statements
    )
    denied = any(
        statement["Effect"] == "Deny"
        and _matches(statement["Action"], action)
        and _names_principal(statement, principal)
        and _deny_applies(statement, principal)
        for statement in statements
    )
    return allowed and not denied


def who_may(key: str, action: str, **parameters: str) -> set[str]:
    statements = key_policy(key, **parameters)
    candidates = {role_arn(name): name for name in roles()} | {STRANGER: "stranger", ACCOUNT_ROOT: "root", DEPLOYER: "deployer"}
    return {name for arn, name in candidates.items() if key_permits(statements, arn, action)}


def kms_keys() -> list[str]:
    return sorted(name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::KMS::Key")


def test_no_principal_but_the_vault_function_can_decrypt_reencrypt_or_grant_on_the_vault_key() -> None:
    # Given the vault key's policy as deployed by default
    # When any role of the stack, any other principal of the account, or the root asks KMS
    # Then only the vault function decrypts, and no one re-encrypts a data key under another key or
    # creates a grant (either would hand the power to decrypt to someone else)
    assert who_may("VaultKey", "kms:Decrypt") == {role_of("VaultFunction")}
    for action in ("kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant"):
        assert who_may("VaultKey", action) <= {role_of("VaultFunction")}, action
        assert who_may("VaultKey", action) == set(), action
    # and the vault function decrypts only under the Aadhaar context; identity only seals
    (decrypt,) = [s for s in key_policy("VaultKey") if s["Effect"] == "Allow" and s["Action"] == "kms:Decrypt"]
    assert decrypt["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "aadhaar"}}
    assert who_may("VaultKey", "kms:GenerateDataKey") == {role_of("IdentityFunction")}


def test_only_the_identity_function_can_compute_the_aadhaar_index() -> None:
    # Given the index key: an HMAC key made by KMS, so its material can never be exported
    key = RESOURCES["AadhaarIndexKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    assert key.get("Origin", "AWS_KMS") == "AWS_KMS"
    # Then only the identity function computes a MAC, and no one verifies one or creates a grant
    assert who_may("AadhaarIndexKey", "kms:GenerateMac") == {role_of("IdentityFunction")}
    assert who_may("AadhaarIndexKey", "kms:VerifyMac") == set()
    assert who_may("AadhaarIndexKey", "kms:CreateGrant") == set()
    # and the identity function reads it by ARN from its environment, not a secret
    identity = TEMPLATE.functions()["IdentityFunction"].environment
    assert identity["AADHAAR_INDEX_KEY_ARN"] == {"Fn::GetAtt": ["AadhaarIndexKey", "Arn"]}


def test_no_secret_holds_an_index_key_the_identity_function_could_read() -> None:
    # Given the identity function's own credentials (its role)
    # Then the only secrets it can read are not index keys: the index key exists only inside KMS
    secrets = {name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::SecretsManager::Secret"}
    assert not any("index" in name.lower() or "blind" in name.lower() for name in secrets)
    readable = {
        repr(resource)
        for statement in statements(role_of("IdentityFunction"))
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    assert not any("Index" in resource or "Blind" in resource for resource in readable)


@pytest.mark.parametrize("key", kms_keys())
def test_only_the_break_glass_role_can_change_a_key(key: str) -> None:
    # Given a key of the stack, deployed with the default parameters
    for action in KEY_ADMINISTRATION:
        # Then no function, no other principal of the account and not the root can change it
        assert who_may(key, action) <= {"BreakGlassRole"}, action
    assert who_may(key, "kms:PutKeyPolicy") == {"BreakGlassRole"}
    assert who_may(key, "kms:ScheduleKeyDeletion") == {"BreakGlassRole"}
    # Reading metadata is all the account gets (CloudFormation and auditors need it)
    assert "stranger" in who_may(key, "kms:DescribeKey")


@pytest.mark.parametrize("key", kms_keys())
def test_the_bootstrap_administrator_exists_only_when_a_first_deploy_names_it(key: str) -> None:
    assert "deployer" not in who_may(key, "kms:PutKeyPolicy")
    assert who_may(key, "kms:PutKeyPolicy", KeyBootstrapAdministrator=DEPLOYER) == {"BreakGlassRole", "deployer"}


def test_the_break_glass_role_needs_mfa_and_named_people() -> None:
    trust = RESOURCES["BreakGlassRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    (statement,) = trust
    assert statement["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    assert statement["Principal"]["AWS"]["Fn::If"][1] == {"Ref": "BreakGlassPrincipals"}
    assert rule_violations(Stage="prod", BreakGlassPrincipals="") == ["NamedBreakGlassPrincipalsInProduction"]


def test_a_maintenance_window_lets_the_break_glass_role_reindex_and_nothing_more() -> None:
    # Given BreakGlassDataAccess=true, for tools.reindex
    window = {"BreakGlassDataAccess": "true"}
    # Then the break-glass role may decrypt and compute index MACs, and no one else gains anything
    assert who_may("VaultKey", "kms:Decrypt", **window) == {role_of("VaultFunction"), "BreakGlassRole"}
    assert who_may("AadhaarIndexKey", "kms:GenerateMac", **window) == {role_of("IdentityFunction"), "BreakGlassRole"}
    for action in ("kms:ReEncryptFrom", "kms:CreateGrant"):
        assert who_may("VaultKey", action, **window) == set()
    assert TEMPLATE.parameters()["BreakGlassDataAccess"] == "false"


def test_the_identity_role_calls_kms_only_through_its_services() -> None:
    # Its direct KMS use (GenerateDataKey, GenerateMac, Sign) is granted by the keys' own policies;
    # what its IAM policy holds is the table key, only through DynamoDB.
    for statement in statements(role_of("IdentityFunction")):
        if any(action.startswith("kms:") for action in as_list(statement["Action"])):
            assert statement["Resource"] == {"Fn::GetAtt": ["TableKey", "Arn"]}
            assert set(statement["Condition"]["StringEquals"]) == {"kms:ViaService"}


def kms_actions_of(role: str) -> set[str]:
    return {action for statement in statements(role) for action in as_list(statement["Action"]) if action.startswith("kms:")}


def test_tokens_are_signed_by_an_asymmetric_kms_key_whose_private_half_never_leaves_kms() -> None:
    key = RESOURCES["TokenSigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert "EnableKeyRotation" not in key  # asymmetric keys rotate by a new key id (the tokens' kid)


def test_only_the_identity_role_can_sign_and_only_digests_with_ecdsa_sha_256() -> None:
    # Given the token key: asymmetric, its private half made by KMS and never exportable
    key = RESOURCES["TokenSigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    # When any role of the stack, another principal of the account or the root asks KMS to sign
    # Then only the identity function may, digests only, with ECDSA_SHA_256; no role grants itself more
    assert who_may("TokenSigningKey", "kms:Sign") == {role_of("IdentityFunction")}
    (sign,) = [s for s in key_policy("TokenSigningKey") if s["Effect"] == "Allow" and s["Action"] == "kms:Sign"]
    assert sign["Condition"] == {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "DIGEST"}}
    assert not [role for role in roles() if "kms:Sign" in kms_actions_of(role)]


def test_the_token_keys_policy_denies_signing_to_everyone_but_the_identity_role_and_grants_to_all() -> None:
    policy = key_policy("TokenSigningKey")
    denies = {statement["Action"]: statement for statement in policy if statement["Effect"] == "Deny"}
    assert set(denies) == {"kms:Sign", "kms:CreateGrant"}
    assert denies["kms:Sign"]["Principal"] == {"AWS": "*"}
    assert "Condition" not in denies["kms:CreateGrant"]
    assert who_may("TokenSigningKey", "kms:CreateGrant") == set()
    # and only the break-glass role administers it (a policy change could lift the deny)
    assert who_may("TokenSigningKey", "kms:PutKeyPolicy") == {"BreakGlassRole"}


def test_no_signing_secret_exists_and_no_function_reads_one() -> None:
    # Given the template's secrets and what each role may read of Secrets Manager
    secrets = {name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::SecretsManager::Secret"}
    # Then none of them signs tokens, and no function is told of one
    assert not [name for name in secrets if "jwt" in name.lower() or "token" in name.lower() or "sign" in name.lower()]
    for function in TEMPLATE.functions().values():
        assert not [name for name in function.environment if "JWT_SECRET" in name or "SIGNING_SECRET" in name]
    readable = {
        repr(resource)
        for role in roles()
        for statement in statements(role)
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    assert all("BlindIndexSecret" in resource for resource in readable)


def test_the_authorizer_may_only_read_the_public_key_and_session_items() -> None:
    role = role_of("AuthorizerFunction")
    data_statements = [
        statement
        for statement in statements(role)
        if any(action.split(":")[0] in ("dynamodb", "secretsmanager") for action in as_list(statement["Action"]))
    ]
    by_action = {action: statement for statement in data_statements for action in as_list(statement["Action"])}
    assert set(by_action) == {"dynamodb:GetItem"}
    assert by_action["dynamodb:GetItem"]["Resource"] == {"Fn::GetAtt": ["MainTable", "Arn"]}
    assert by_action["dynamodb:GetItem"]["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["FAMILY#*"]}}
    # Its KMS use: the token key's public half (granted by the key's policy), and the table key
    # only through DynamoDB (to read the session items)
    assert who_may("TokenSigningKey", "kms:GetPublicKey") >= {role}
    for statement in statements(role):
        if any(action.startswith("kms:") for action in as_list(statement["Action"])):
            assert statement["Resource"] == {"Fn::GetAtt": ["TableKey", "Arn"]}
            assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [
                {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}
            ]


def test_a_revoked_session_is_refused_within_60_seconds_authorizer_caches_included() -> None:
    # Given the API's authorizer cache and the authorizer's own session cache, as deployed
    api = RESOURCES["VaultPayApi"]["Properties"]
    reauthorize_every = int(api["Auth"]["Authorizers"]["JwtLambdaAuthorizer"]["Identity"]["ReauthorizeEvery"])
    authorizer = TEMPLATE.functions()["AuthorizerFunction"].environment
    session_cache = int(authorizer["SESSION_CACHE_SECONDS"])
    # Then the worst case (the session read just before the revocation, the answer cached by API
    # Gateway just before the session cache expired) is within the minute
    assert reauthorize_every + session_cache <= 60
    identity = TEMPLATE.functions()["IdentityFunction"].environment
    assert int(identity["ACCESS_TOKEN_TTL_SECONDS"]) == 300
    assert int(identity["SESSION_LIFETIME_SECONDS"]) == 30 * 24 * 3600
    assert authorizer["TOKEN_VERIFICATION_KEY_IDS"] == {"Ref": "TokenSigningKey"}
    assert identity["TOKEN_SIGNING_KEY_ID"] == {"Ref": "TokenSigningKey"}


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


def test_every_encryption_key_rotates() -> None:
    keys = [resource["Properties"] for resource in RESOURCES.values() if resource["Type"] == "AWS::KMS::Key"]
    symmetric = [key for key in keys if key.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"]
    assert len(symmetric) == 3  # tables, the Aadhaar vault, TOTP secrets
    assert all(key["EnableKeyRotation"] is True for key in symmetric)
    # KMS cannot rotate an HMAC key: a new index key is a re-index (tools.reindex)
    assert RESOURCES["AadhaarIndexKey"]["Properties"].get("EnableKeyRotation") is None


# ---------------------------------------------------------------- money the stack mints
def rule_violations(**parameters: str) -> list[str]:
    """The template Rules whose assertions fail for these parameters (as CloudFormation checks them)."""
    intrinsics = TEMPLATE.intrinsics(stack_name="vaultpay-test", region="ap-south-1", parameter_overrides=parameters)
    violated = []
    for name, rule in TEMPLATE.body.get("Rules", {}).items():
        if "RuleCondition" in rule and not intrinsics._evaluate(rule["RuleCondition"]):
            continue
        if not all(intrinsics._evaluate(assertion["Assert"]) for assertion in rule["Assertions"]):
            violated.append(name)
    return violated


def samconfig_parameters() -> dict[str, dict[str, str]]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return {
        env: dict(pair.split("=", 1) for pair in shlex.split(sections["deploy"]["parameters"]["parameter_overrides"]))
        for env, sections in config.items()
        if isinstance(sections, dict) and "deploy" in sections
    }


def test_a_plain_deploy_mints_no_welcome_credit() -> None:
    # Given the template's defaults and every environment of samconfig.toml (make deploy)
    assert TEMPLATE.parameters()["WelcomeCreditPaise"] == "0"
    for env, parameters in samconfig_parameters().items():
        assert parameters.get("WelcomeCreditPaise", "0") == "0", env
    # while the local stack, and only it, credits new accounts
    assert LOCAL_PARAMETERS["WelcomeCreditPaise"] == "1000000"


def test_no_deployment_raises_the_transfer_maximum_above_what_the_api_documents() -> None:
    # Given the largest transfer the OpenAPI document states (and the wallet's default)
    from vaultpay.core.money import MAX_TRANSFER_PAISE
    from vaultpay.core.settings import WalletSettings

    parameter = TEMPLATE.body["Parameters"]["MaxTransferPaise"]
    # Then the template defaults to it and refuses more, every environment keeps within it,
    assert int(parameter["Default"]) == int(parameter["MaxValue"]) == MAX_TRANSFER_PAISE
    for env, parameters in samconfig_parameters().items():
        assert int(parameters.get("MaxTransferPaise", MAX_TRANSFER_PAISE)) <= MAX_TRANSFER_PAISE, env
    # and the wallet refuses a larger setting too
    assert WalletSettings.model_fields["max_transfer_paise"].default == MAX_TRANSFER_PAISE
    assert any(
        getattr(rule, "le", None) == MAX_TRANSFER_PAISE for rule in WalletSettings.model_fields["max_transfer_paise"].metadata
    )


def test_a_production_stack_refuses_a_welcome_credit() -> None:
    # When someone deploys Stage=prod with a welcome credit, CloudFormation refuses the stack
    named = {"BreakGlassPrincipals": f"arn:aws:iam::{ACCOUNT_ID}:user/security-officer"}
    assert rule_violations(Stage="prod", WelcomeCreditPaise="1000000", **named) == ["NoWelcomeCreditInProduction"]
    assert rule_violations(Stage="prod", WelcomeCreditPaise="0", **named) == []
    assert rule_violations(Stage="dev", WelcomeCreditPaise="1000000") == []


# ---------------------------------------------------------------- the edge
def test_the_api_behind_cloudfront_gets_the_security_headers_but_keeps_its_cache_control() -> None:
    config = RESOURCES["WebDistribution"]["Properties"]["DistributionConfig"]
    (api,) = [behavior for behavior in config["CacheBehaviors"] if behavior["PathPattern"] == "/api/*"]
    for behavior in (config["DefaultCacheBehavior"], api):
        policy_id = behavior["ResponseHeadersPolicyId"]["Ref"]
        headers = RESOURCES[policy_id]["Properties"]["ResponseHeadersPolicyConfig"]
        security = headers["SecurityHeadersConfig"]
        assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
        assert security["ContentTypeOptions"] == {"Override": True}
        assert security["FrameOptions"]["FrameOption"] == "DENY"
        assert "frame-ancestors 'none'" in security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        # Cache-Control (no-store on tokens, profiles, the reveal) is the API's own: never overridden
        assert "cache-control" not in repr(headers).lower()
    assert config["Logging"]["Bucket"] == {"Fn::GetAtt": ["LogBucket", "RegionalDomainName"]}


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


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov is installed by `make lint` and `make test` (.venv-checkov)")
def test_checkov_finds_nothing_and_every_waiver_says_why() -> None:
    completed = subprocess.run(
        [str(CHECKOV), "--file", str(TEMPLATE.path), "--framework", "cloudformation", "--compact", "--quiet", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(ROOT),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for name, resource in RESOURCES.items():
        for waiver in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(waiver.get("comment", "")) > 40, (name, waiver)


def test_only_the_vault_function_can_use_the_totp_key() -> None:
    # Given the key that wraps the TOTP secrets' data keys, as deployed by default
    vault = role_of("VaultFunction")
    # Then only the vault function seals and opens TOTP secrets with it
    assert who_may("TotpKey", "kms:GenerateDataKey") == {vault}
    assert who_may("TotpKey", "kms:Decrypt") == {vault}
    # and decrypting, re-encrypting, granting and making data keys are denied to every other principal
    (deny,) = [statement for statement in key_policy("TotpKey") if statement["Effect"] == "Deny"]
    assert deny["Principal"] == {"AWS": "*"}
    assert set(deny["Action"]) >= {"kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:GenerateDataKey*"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role_arn(vault)}}
    for action in ("kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant", "kms:GenerateDataKeyWithoutPlaintext"):
        assert who_may("TotpKey", action) == set(), action
    # even when a maintenance window opens the vault key to the break-glass role
    window = {"BreakGlassDataAccess": "true"}
    assert who_may("TotpKey", "kms:Decrypt", **window) == {vault}
