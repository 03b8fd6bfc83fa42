"""Access tokens signed by the KMS key and sessions that can be revoked: the identity function and
the authorizer in-process against moto (KMS with the template's ECC_NIST_P256 key, DynamoDB)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import load_der_public_key

from tests.handlers.conftest import REGION, Invoke, body
from tests.support.data import PASSWORD, registration
from tests.support.events import authorizer_event, http_event
from vaultpay.identity.kms import KmsPublicKeys, KmsTokenSigner
from vaultpay.identity.tokens import der_to_jose


@pytest.fixture(autouse=True)
def no_session_cache(monkeypatch: pytest.MonkeyPatch, aws_stack: dict[str, str]) -> None:
    """The authorizer's container cache is the unit tier's business (tests/unit/test_sessions.py):
    here every request reads the session."""
    monkeypatch.setenv("SESSION_CACHE_SECONDS", "0")


def sign_up_and_log_in(identity: Invoke, email: str) -> tuple[str, dict[str, Any]]:
    user = body(identity(http_event("POST", "/api/users/register/", body=registration(email))))
    response = identity(http_event("POST", "/api/users/login/", body={"email": email, "password": PASSWORD}))
    assert response["statusCode"] == 200
    return user["id"], body(response)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def authorize(authorizer: Invoke, token: str) -> dict[str, Any] | None:
    """The authorizer's context for this token; None when it refuses it (raises "Unauthorized")."""
    try:
        response = authorizer(authorizer_event(token))
    except Exception as error:  # API Gateway's contract: an exception named "Unauthorized" is a 401
        if str(error) != "Unauthorized":
            raise
        return None
    assert response["isAuthorized"] is True
    context: dict[str, Any] = response["context"]
    return context


def test_the_access_token_is_es256_signed_by_the_kms_key_and_names_it(identity: Invoke, aws_stack: dict[str, str]) -> None:
    # Given a login
    _, tokens = sign_up_and_log_in(identity, "asha@example.com")
    # Then the access token names the template's signing key, and its public half verifies it
    header = jwt.get_unverified_header(tokens["access"])
    assert header == {"alg": "ES256", "typ": "JWT", "kid": aws_stack["TOKEN_SIGNING_KEY_ID"]}
    kms = boto3.client("kms", region_name=REGION)
    public_key = load_der_public_key(kms.get_public_key(KeyId=header["kid"])["PublicKey"])
    claims = jwt.decode(tokens["access"], public_key, algorithms=["ES256"], audience="vaultpay-api")  # type: ignore[arg-type]
    assert claims["exp"] - claims["iat"] == 300
    assert claims["sid"]


def test_the_authorizer_passes_the_user_and_the_session(identity: Invoke, authorizer: Invoke) -> None:
    user_id, tokens = sign_up_and_log_in(identity, "asha@example.com")
    context = authorize(authorizer, tokens["access"])
    assert context is not None
    assert context["user_id"] == user_id
    assert context["session_id"] == jwt.decode(tokens["access"], options={"verify_signature": False})["sid"]


def test_after_logout_the_sessions_access_token_is_refused(identity: Invoke, authorizer: Invoke) -> None:
    # Given a session whose access token works
    user_id, tokens = sign_up_and_log_in(identity, "asha@example.com")
    assert authorize(authorizer, tokens["access"]) is not None
    # When the user logs out
    response = identity(http_event("POST", "/api/users/logout/", body={"refresh": tokens["refresh"]}, user_id=user_id))
    assert response["statusCode"] == 204
    # Then its access token, still within its 5 minutes, is refused
    assert authorize(authorizer, tokens["access"]) is None


def test_refresh_token_reuse_kills_the_sessions_access_tokens(identity: Invoke, authorizer: Invoke) -> None:
    # Given a session rotated once (a thief holds the first refresh token)
    _, first = sign_up_and_log_in(identity, "asha@example.com")
    second = body(identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": first["refresh"]})))
    assert authorize(authorizer, second["access"]) is not None
    # When the spent refresh token is replayed
    replay = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": first["refresh"]}))
    assert replay["statusCode"] == 401
    # Then every access token of that session is refused
    assert authorize(authorizer, second["access"]) is None
    assert authorize(authorizer, first["access"]) is None


def test_logout_everywhere_ends_every_session_of_the_caller_only(identity: Invoke, authorizer: Invoke) -> None:
    # Given two sessions of Asha's and one of Ravi's
    asha_id, laptop = sign_up_and_log_in(identity, "asha@example.com")
    phone = body(identity(http_event("POST", "/api/users/login/", body={"email": "asha@example.com", "password": PASSWORD})))
    _, ravi = sign_up_and_log_in(identity, "ravi@example.com")
    # When Asha logs out everywhere
    response = identity(http_event("POST", "/api/users/logout/all/", user_id=asha_id))
    assert response["statusCode"] == 204
    # Then both her sessions are over (access and refresh tokens), and Ravi's is not
    for session in (laptop, phone):
        assert authorize(authorizer, session["access"]) is None
        refresh = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": session["refresh"]}))
        assert refresh["statusCode"] == 401
    assert authorize(authorizer, ravi["access"]) is not None
    # And the path without the trailing slash is the same route; without a caller it is 401
    assert identity(http_event("POST", "/api/users/logout/all", user_id=asha_id))["statusCode"] == 204
    assert identity(http_event("POST", "/api/users/logout/all/"))["statusCode"] == 401


def test_a_session_past_its_absolute_lifetime_is_refused(identity: Invoke, authorizer: Invoke, dynamodb: Any) -> None:
    # Given a session whose 30 days are over (its end moved into the past)
    _, tokens = sign_up_and_log_in(identity, "asha@example.com")
    session_id = jwt.decode(tokens["access"], options={"verify_signature": False})["sid"]
    table = next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith("MainTable"))
    dynamodb.update_item(
        TableName=table,
        Key={"PK": {"S": f"FAMILY#{session_id}"}, "SK": {"S": "FAMILY"}},
        UpdateExpression="SET ends_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    # Then its access token is refused, and its refresh token no longer rotates
    assert authorize(authorizer, tokens["access"]) is None
    refresh = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": tokens["refresh"]}))
    assert refresh["statusCode"] == 401


def test_a_token_signed_by_another_kms_key_is_refused(identity: Invoke, authorizer: Invoke, aws_stack: dict[str, str]) -> None:
    # Given a genuine token, and another ECC key of the same account (same KMS, not the token key)
    _, tokens = sign_up_and_log_in(identity, "asha@example.com")
    kms = boto3.client("kms", region_name=REGION)
    other_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    genuine_kid = aws_stack["TOKEN_SIGNING_KEY_ID"]

    def signed_by_other_key(kid: str) -> str:
        header = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": kid}).encode())
        signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
        der = KmsTokenSigner(kms, other_key).sign_digest(hashlib.sha256(signing_input.encode()).digest())
        return f"{signing_input}.{b64(der_to_jose(der))}"

    # Then it is refused whether it names its own key (untrusted) or the genuine key (bad signature)
    assert authorize(authorizer, signed_by_other_key(other_key)) is None
    assert authorize(authorizer, signed_by_other_key(genuine_kid)) is None
    assert authorize(authorizer, tokens["access"]) is not None


def test_kms_signs_the_digest_as_given_and_public_keys_are_fetched_once(aws_stack: dict[str, str]) -> None:
    # Given the token key, through the adapters
    kms = boto3.client("kms", region_name=REGION)
    key_id = aws_stack["TOKEN_SIGNING_KEY_ID"]
    digest = hashlib.sha256(b"header.payload").digest()
    signature = KmsTokenSigner(kms, key_id).sign_digest(digest)
    keys = KmsPublicKeys(kms, frozenset({key_id}))
    public_key = keys.get(key_id)
    # Then the DER signature is ECDSA over that digest (MessageType=DIGEST: not hashed again)
    assert public_key is not None
    public_key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    # And the public key is cached, and a key id outside the trusted set is never looked up
    assert keys.get(key_id) is public_key
    assert keys.get("0000-not-trusted") is None
