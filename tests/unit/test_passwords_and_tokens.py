"""Password policy and hashing; refresh tokens (access tokens: test_access_tokens.py)."""

from __future__ import annotations

import pytest
from argon2.exceptions import InvalidHashError

from vaultpay.core.errors import WeakPassword
from vaultpay.core.passwords import check_password_policy, hash_password, verify_password
from vaultpay.identity.tokens import hash_refresh_token, new_refresh_token


@pytest.mark.parametrize("password", ["short", "password", "12345678", "Password1", "qwertyuiop", "x" * 129])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_password_policy(password)


@pytest.mark.parametrize("password", ["correct horse battery staple", "vaultpay-demo", "ñandú-säntökü-42"])
def test_reasonable_passwords_pass(password: str) -> None:
    check_password_policy(password)


def test_the_length_counts_code_points_as_sent_as_the_document_says() -> None:
    # "ﬃ" is one code point and three letters after NFKC: seven of them are too short
    with pytest.raises(WeakPassword):
        check_password_policy("\ufb03" * 7)
    # and eight code points are enough even where NFKC makes them four ("é" from "e" + accent)
    check_password_policy("e\u0301" * 4)
    check_password_policy("x" * 120 + "\ufb03" * 8)  # 128 as sent, 144 after NFKC


def test_hashes_are_argon2id_with_owasp_parameters_and_verify() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapler")
    with pytest.raises(InvalidHashError):  # a corrupt stored hash is a failure, not a wrong password
        verify_password("not a hash", "anything")


def test_unicode_compatible_forms_are_the_same_password() -> None:
    assert verify_password(hash_password("ﬁsh and chips"), "fish and chips")


def test_refresh_tokens_are_random_and_stored_hashed() -> None:
    first, second = new_refresh_token(), new_refresh_token()
    assert first != second
    assert len(first) >= 43
    assert hash_refresh_token(first) != first
    assert len(hash_refresh_token(first)) == 64
