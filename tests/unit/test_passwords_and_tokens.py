"""Password policy and hashing; access tokens pinned to HS256 with every claim checked."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2.exceptions import InvalidHashError

from vaultpay.core.errors import Unauthenticated, WeakPassword
from vaultpay.core.passwords import check_password_policy, hash_password, verify_password
from vaultpay.identity.tokens import AccessTokenCodec, hash_refresh_token, new_refresh_token

KEY = "k" * 64
codec = AccessTokenCodec(signing_key=lambda: KEY, issuer="vaultpay-test", audience="vaultpay-api", ttl_seconds=900)


@pytest.mark.parametrize("password", ["short", "password", "12345678", "Password1", "qwertyuiop", "x" * 129])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_password_policy(password)


@pytest.mark.parametrize("password", ["correct horse battery staple", "vaultpay-demo", "ñandú-säntökü-42"])
def test_reasonable_passwords_pass(password: str) -> None:
    check_password_policy(password)


def test_hashes_are_argon2id_with_owasp_parameters_and_verify() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapler")
    with pytest.raises(InvalidHashError):  # a corrupt stored hash is a failure, not a wrong password
        verify_password("not a hash", "anything")


def test_unicode_compatible_forms_are_the_same_password() -> None:
    assert verify_password(hash_password("ﬁsh and chips"), "fish and chips")


def test_an_issued_token_verifies_to_its_subject() -> None:
    token = codec.issue("user-1", datetime.now(UTC))
    assert codec.verify(token) == "user-1"
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda claims: jwt.encode(claims, "", algorithm="none"),
        lambda claims: jwt.encode(claims, "other" * 16, algorithm="HS256"),
        lambda claims: jwt.encode(claims | {"exp": int(time.time()) - 1}, KEY, algorithm="HS256"),
        lambda claims: jwt.encode(claims | {"aud": "elsewhere"}, KEY, algorithm="HS256"),
        lambda claims: jwt.encode(claims | {"iss": "elsewhere"}, KEY, algorithm="HS256"),
        lambda claims: jwt.encode({k: v for k, v in claims.items() if k != "sub"}, KEY, algorithm="HS256"),
        lambda claims: jwt.encode(claims | {"token_use": "refresh"}, KEY, algorithm="HS256"),
        lambda claims: jwt.encode(claims, KEY, algorithm="HS384"),
        lambda claims: "not.a.token",
    ],
)
def test_tampered_tokens_are_refused(tamper: object) -> None:
    claims = jwt.decode(codec.issue("user-1", datetime.now(UTC)), KEY, algorithms=["HS256"], audience="vaultpay-api")
    with pytest.raises(Unauthenticated):
        codec.verify(tamper(claims))  # type: ignore[operator]


def test_a_token_from_the_future_is_refused() -> None:
    token = codec.issue("user-1", datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(Unauthenticated):
        codec.verify(token)


def test_refresh_tokens_are_random_and_stored_hashed() -> None:
    first, second = new_refresh_token(), new_refresh_token()
    assert first != second
    assert len(first) >= 43
    assert hash_refresh_token(first) != first
    assert len(hash_refresh_token(first)) == 64
