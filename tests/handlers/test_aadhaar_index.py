"""The Aadhaar uniqueness index (moto): a MAC inside KMS, and guards that say nothing but "taken".

The attack of issue 16: with the index key and a copy of the table (a backup, the stream), an
attacker tries every number (10^4 knowing the last four digits) and recovers each person's. These
tests play the attacker with what the identity function itself holds: its environment, and every
secret its role may read.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import boto3

from tests.handlers.conftest import REGION, TEMPLATE, Invoke, scan_all
from tests.handlers.test_identity import register
from tests.support.data import registration
from tests.support.events import http_event
from tests.tooling.test_template import as_list, role_of, statements
from vaultpay.core import table as keys
from vaultpay.core.dynamo import unmarshal


def aadhaar_guards(dynamodb: Any, environment: dict[str, str]) -> list[dict[str, Any]]:
    items = [unmarshal(item) for item in scan_all(dynamodb, environment["MAIN_TABLE_NAME"])]
    return [item for item in items if item[keys.PK].startswith("AADHAAR#")]


def secrets_the_identity_role_may_read(environment: dict[str, str]) -> list[str]:
    """The physical ARNs of every secret the identity function's role may read, from its environment."""
    readable = {
        resource["Ref"]
        for statement in statements(role_of("IdentityFunction"))
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    identity = TEMPLATE.functions()["IdentityFunction"].environment
    return [environment[name] for name, value in identity.items() if isinstance(value, dict) and value.get("Ref") in readable]


def test_the_identity_functions_own_credentials_cannot_compute_an_index_offline(
    identity: Invoke, dynamodb: Any, aws_stack: dict[str, str]
) -> None:
    # Given a registered person whose number the attacker knows (or can guess among 10^4)
    form = registration("asha@example.com")
    register(identity, form["email"], aadhaar=form["aadhaar"])
    (guard,) = aadhaar_guards(dynamodb, aws_stack)
    index = guard[keys.PK].removeprefix("AADHAAR#")
    # When the attacker, holding the identity function's credentials and a copy of the table,
    # reads every secret that role may read and computes HMACs offline
    secretsmanager = boto3.client("secretsmanager", region_name=REGION)
    candidates = [
        secretsmanager.get_secret_value(SecretId=arn)["SecretString"] for arn in secrets_the_identity_role_may_read(aws_stack)
    ]
    offline = {hmac.new(secret.encode(), form["aadhaar"].encode(), hashlib.sha256).hexdigest() for secret in candidates}
    # Then no secret reproduces the index: the key is inside KMS only
    assert index not in offline
    assert not any(name.endswith("SECRET_ARN") and "INDEX" in name for name in aws_stack)
    # and that key cannot leave KMS: an HMAC key of KMS's own material, usable only to compute MACs
    kms = boto3.client("kms", region_name=REGION)
    metadata = kms.describe_key(KeyId=aws_stack["AADHAAR_INDEX_KEY_ARN"])["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"], metadata["Origin"]) == ("HMAC_256", "GENERATE_VERIFY_MAC", "AWS_KMS")
    # (only a GenerateMac call, which the key policy allows the identity function alone, finds it)
    mac = kms.generate_mac(
        KeyId=aws_stack["AADHAAR_INDEX_KEY_ARN"], Message=form["aadhaar"].encode(), MacAlgorithm="HMAC_SHA_256"
    )
    assert bytes(mac["Mac"]).hex() == index


def test_a_guard_item_holds_no_user_id(identity: Invoke, dynamodb: Any, aws_stack: dict[str, str]) -> None:
    # Given two registered people
    users = [register(identity, f"person{n}@example.com") for n in range(2)]
    # When someone reads the Aadhaar guards (a backup, the stream, a table export)
    guards = aadhaar_guards(dynamodb, aws_stack)
    # Then each proves only that a number is taken: no user id, nothing but its type
    assert len(guards) == 2
    for guard in guards:
        assert set(guard) == keys.AADHAAR_GUARD_ATTRIBUTES
        assert guard["type"] == keys.TYPE_AADHAAR_GUARD
        assert not any(user["id"] in repr(guard) for user in users)


def test_the_same_number_is_still_refused_and_the_refusal_names_no_one(identity: Invoke, aws_stack: dict[str, str]) -> None:
    # Given a registered number
    first = registration("first@example.com")
    register(identity, first["email"], aadhaar=first["aadhaar"])
    # When another person registers with it
    response = identity(
        http_event("POST", "/api/users/register/", body=registration("second@example.com", aadhaar=first["aadhaar"]))
    )
    # Then it is refused (the MAC collides) without saying whose it is
    assert response["statusCode"] == 409
    assert "first@example.com" not in response["body"]
    assert first["aadhaar"] not in response["body"]
