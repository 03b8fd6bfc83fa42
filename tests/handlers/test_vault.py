"""The Aadhaar vault: envelope encryption, owner-only reveal with step-up, no plaintext anywhere (moto)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.handlers.conftest import Invoke, body, scan_all
from tests.support.data import PASSWORD, make_aadhaar, registration
from tests.support.events import http_event
from vaultpay.core.errors import VaultIntegrityError
from vaultpay.vault.dynamo import DynamoVaultStore
from vaultpay.vault.kms import KmsDataKeys
from vaultpay.vault.logic import open_aadhaar, seal_aadhaar


@pytest.fixture
def asha(identity: Invoke) -> dict[str, str]:
    aadhaar = make_aadhaar()
    user = body(identity(http_event("POST", "/api/users/register/", body=registration("asha@example.com", aadhaar=aadhaar))))
    return {"id": user["id"], "aadhaar": aadhaar}


def reveal(vault: Invoke, user_id: str, password: str = PASSWORD) -> dict[str, Any]:
    return vault(http_event("POST", "/api/users/profile/aadhaar/", body={"password": password}, user_id=user_id))


def test_the_owner_sees_the_number_after_re_entering_the_password(vault: Invoke, asha: dict[str, str]) -> None:
    response = reveal(vault, asha["id"])
    assert response["statusCode"] == 200
    assert body(response) == {"aadhaar": asha["aadhaar"]}
    assert response["headers"]["Cache-Control"] == "no-store"


def test_a_wrong_password_is_403_and_reveals_nothing(vault: Invoke, asha: dict[str, str]) -> None:
    response = reveal(vault, asha["id"], "not my password")
    assert response["statusCode"] == 403
    assert asha["aadhaar"] not in response["body"]


def test_repeated_wrong_passwords_lock_the_reveal(vault: Invoke, asha: dict[str, str]) -> None:
    for _ in range(5):
        reveal(vault, asha["id"], "not my password")
    response = reveal(vault, asha["id"])
    assert response["statusCode"] == 429
    assert "Retry-After" in response["headers"]


def test_without_an_authenticated_user_it_is_401(vault: Invoke, asha: dict[str, str]) -> None:
    # Given a valid body but no authorizer context (the gateway never let a token through)
    response = vault(http_event("POST", "/api/users/profile/aadhaar/", body={"password": PASSWORD}))
    # Then nobody's number is revealed
    assert response["statusCode"] == 401
    assert asha["aadhaar"] not in response["body"]


def test_a_user_id_in_the_body_is_refused_not_trusted(vault: Invoke, asha: dict[str, str]) -> None:
    # Given someone else's id smuggled into the body (mass assignment), with no authorizer context
    response = vault(http_event("POST", "/api/users/profile/aadhaar/", body={"password": PASSWORD, "user_id": asha["id"]}))
    # Then the body is refused as invalid before anything is looked up
    assert response["statusCode"] == 422
    assert asha["aadhaar"] not in response["body"]


def test_every_reveal_is_recorded_for_the_audit_trail(
    vault: Invoke, asha: dict[str, str], dynamodb: Any, aws_stack: dict[str, str]
) -> None:
    reveal(vault, asha["id"])
    events = [
        item for item in scan_all(dynamodb, aws_stack["MAIN_TABLE_NAME"]) if item.get("type", {}).get("S") == "AADHAAR_REVEALED"
    ]
    assert len(events) == 1
    assert events[0]["user_id"]["S"] == asha["id"]


def test_no_table_holds_the_plaintext_number(asha: dict[str, str], dynamodb: Any, aws_stack: dict[str, str]) -> None:
    digits = asha["aadhaar"]
    spaced = f"{digits[:4]} {digits[4:8]} {digits[8:]}"
    for table in dynamodb.list_tables()["TableNames"]:
        for item in scan_all(dynamodb, table):
            dump = repr(item)
            assert digits not in dump, f"plaintext Aadhaar in {table}"
            assert spaced not in dump, f"plaintext Aadhaar in {table}"
            for value in item.values():
                if "B" in value:
                    assert digits.encode() not in value["B"]


def test_an_entry_moved_to_another_user_cannot_be_opened(
    asha: dict[str, str], identity: Invoke, aws_stack: dict[str, str]
) -> None:
    # Given two users' vault entries
    ravi = body(identity(http_event("POST", "/api/users/register/", body=registration("ravi@example.com"))))
    store = DynamoVaultStore(boto3.client("dynamodb"), aws_stack["VAULT_TABLE_NAME"])
    keys = KmsDataKeys(boto3.client("kms"), aws_stack["VAULT_KEY_ARN"])
    ashas_entry = store.get(asha["id"])
    assert ashas_entry is not None
    # When Asha's entry is presented as Ravi's (swapped rows)
    # Then the encryption context refuses it
    with pytest.raises(VaultIntegrityError):
        open_aadhaar(ashas_entry, ravi["id"], keys)
    assert open_aadhaar(ashas_entry, asha["id"], keys) == asha["aadhaar"]


def test_swapped_vault_rows_reveal_nothing_through_the_api(
    vault: Invoke, asha: dict[str, str], identity: Invoke, dynamodb: Any, aws_stack: dict[str, str]
) -> None:
    # Given someone with table access copies Asha's vault row over Ravi's
    ravi = body(identity(http_event("POST", "/api/users/register/", body=registration("ravi@example.com"))))
    table = aws_stack["VAULT_TABLE_NAME"]
    ashas_row = dynamodb.get_item(TableName=table, Key={"pk": {"S": f"USER#{asha['id']}"}})["Item"]
    dynamodb.put_item(TableName=table, Item={**ashas_row, "pk": {"S": f"USER#{ravi['id']}"}})
    # When Ravi reveals "his" number
    response = reveal(vault, ravi["id"])
    # Then decryption fails on the encryption context (user id bound to the key and the cipher):
    # a 500 problem that shows nothing, and Asha's number is not revealed to him
    assert response["statusCode"] == 500
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert asha["aadhaar"] not in response["body"]
    # And Asha's own reveal still works
    assert body(reveal(vault, asha["id"])) == {"aadhaar": asha["aadhaar"]}


def test_a_tampered_ciphertext_fails_authentication(aws_stack: dict[str, str]) -> None:
    keys = KmsDataKeys(boto3.client("kms"), aws_stack["VAULT_KEY_ARN"])
    sealed = seal_aadhaar("234123412346", "user-1", keys)
    tampered = sealed.model_copy(update={"ciphertext": bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]})
    with pytest.raises(VaultIntegrityError):
        open_aadhaar(tampered, "user-1", keys)


def test_each_number_gets_its_own_data_key_and_nonce(aws_stack: dict[str, str]) -> None:
    keys = KmsDataKeys(boto3.client("kms"), aws_stack["VAULT_KEY_ARN"])
    first = seal_aadhaar("234123412346", "user-1", keys)
    second = seal_aadhaar("234123412346", "user-1", keys)
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext
