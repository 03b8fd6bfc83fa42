"""Passwords: NIST SP 800-63B policy and argon2id hashing (OWASP parameters).

argon2 is imported on first use: only the routes that hash or verify pay for it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from vaultpay.core.errors import WeakPassword

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 8
MAX_LENGTH = 128

# OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1.
ARGON2_MEMORY_KIB = 19456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = resources.files("vaultpay.core.data").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """One of the 10,000 most common passwords (compared after NFKC, in lower case)."""
    return normalize_password(password).lower() in _common_passwords()


def normalize_password(password: str) -> str:
    """NFKC, as NIST 800-63B asks, so the same password typed on two keyboards matches."""
    return unicodedata.normalize("NFKC", password)


def check_password_policy(password: str) -> None:
    """Length 8-128 and not one of the 10,000 most common passwords (compared after NFKC, in
    lower case). The length counts Unicode code points as sent, as JSON Schema's ``minLength`` and
    ``maxLength`` do, so the OpenAPI document can state the rule exactly; NFKC rarely changes it."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"The password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password must be at most {MAX_LENGTH} characters long.")
    if is_common(password):
        raise WeakPassword("This password is too common; choose another.")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(normalize_password(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches. A stored hash that is not an argon2 hash is our corruption,
    not a wrong password: argon2's InvalidHashError propagates (a 500, alarmed), never a quiet False."""
    from argon2.exceptions import VerificationError

    try:
        return _hasher().verify(password_hash, normalize_password(password))
    except VerificationError:
        return False


# A hash of a password nobody has, with the same parameters as every real hash.
_DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$rBJla0Oal09i+pthtoQeJQ$CqBf+ytMMCVoXku58q2lDknO+d3FEm9jjxv5Jl0CIqM"


def burn_verification_time(password: str) -> None:
    """Do the work of one verification against a hash nobody has, so that an unknown
    e-mail address costs the same time as a wrong password (no user enumeration)."""
    verify_password(_DUMMY_HASH, password)
