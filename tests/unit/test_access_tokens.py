"""Access tokens: ES256 signed through the signer port (KMS in production), verified locally with
the public key their ``kid`` names, algorithm pinned, every claim checked; no secret can mint one."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.unit.fakes_identity import FakePublicKeys, FakeSigner
from vaultpay.core.errors import Unauthenticated
from vaultpay.identity.tokens import AccessClaims, AccessTokenIssuer, AccessTokenVerifier, der_to_jose

ISSUER, AUDIENCE = "vaultpay-test", "vaultpay-api"


@pytest.fixture
def signer() -> FakeSigner:
    return FakeSigner("key-1")


@pytest.fixture
def public_keys(signer: FakeSigner) -> FakePublicKeys:
    return FakePublicKeys({signer.key_id: signer.public_key})


@pytest.fixture
def issuer(signer: FakeSigner) -> AccessTokenIssuer:
    return AccessTokenIssuer(signer=signer, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=300)


@pytest.fixture
def verifier(public_keys: FakePublicKeys) -> AccessTokenVerifier:
    return AccessTokenVerifier(public_keys=public_keys, issuer=ISSUER, audience=AUDIENCE)


def far_end() -> int:
    return int(time.time()) + 30 * 24 * 3600


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def genuine_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "sid": "session-1",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "j",
        "token_use": "access",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def es256(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey, **header: Any) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers=header or None)


def test_an_issued_token_verifies_to_its_user_and_session(
    issuer: AccessTokenIssuer, verifier: AccessTokenVerifier, signer: FakeSigner
) -> None:
    # Given a token issued for a user's session
    issued = issuer.issue("user-1", "session-1", datetime.now(UTC), far_end())
    # Then it verifies to that user and session, names its key, and lasts the configured 5 minutes
    assert verifier.verify(issued.token) == AccessClaims(user_id="user-1", session_id="session-1")
    assert jwt.get_unverified_header(issued.token) == {"alg": "ES256", "typ": "JWT", "kid": "key-1"}
    assert issued.expires_in == 300
    # And the signer was given only the SHA-256 digest of the signing input, never the token
    signing_input = issued.token.rsplit(".", 1)[0].encode()
    assert signer.digests == [hashlib.sha256(signing_input).digest()]


def test_the_signature_is_standard_es256_any_jose_library_verifies(issuer: AccessTokenIssuer, signer: FakeSigner) -> None:
    # Given an issued token
    token = issuer.issue("user-1", "session-1", datetime.now(UTC), far_end()).token
    # Then its signature is JOSE's raw r || s (64 bytes), not KMS's DER, and PyJWT verifies it
    assert len(base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==")) == 64
    claims = jwt.decode(token, signer.public_key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)
    assert (claims["sub"], claims["sid"], claims["token_use"]) == ("user-1", "session-1", "access")
    assert claims["exp"] - claims["iat"] == 300


def test_der_to_jose_pads_short_coordinates_to_32_bytes() -> None:
    # Given a DER signature whose r and s are short integers (leading zero bytes dropped in DER)
    der = encode_dss_signature(1, 2**200)
    # Then the JOSE form keeps each coordinate at 32 bytes, big-endian
    raw = der_to_jose(der)
    assert len(raw) == 64
    assert int.from_bytes(raw[:32], "big") == 1
    assert int.from_bytes(raw[32:], "big") == 2**200


def test_a_token_never_outlives_its_session(issuer: AccessTokenIssuer, verifier: AccessTokenVerifier) -> None:
    # Given a session that ends in 100 seconds
    now = datetime.now(UTC)
    ends_at = int(now.timestamp()) + 100
    # When a token is issued in it
    issued = issuer.issue("user-1", "session-1", now, ends_at)
    # Then it expires with the session, not 5 minutes later
    assert issued.expires_in == 100
    assert jwt.decode(issued.token, options={"verify_signature": False})["exp"] == ends_at


def public_pem(signer: FakeSigner) -> bytes:
    return signer.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def hs256_with_a_secret(signer: FakeSigner) -> str:
    return jwt.encode(genuine_claims(), "the-old-shared-secret-" * 3, algorithm="HS256", headers={"kid": signer.key_id})


def hs256_with_the_public_key_as_secret(signer: FakeSigner) -> str:
    """Algorithm confusion: an HMAC keyed with the (public) verification key."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signer.key_id}).encode())
    payload = b64(json.dumps(genuine_claims()).encode())
    import hmac

    signature = hmac.new(public_pem(signer), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unsigned(signer: FakeSigner) -> str:
    return jwt.encode(genuine_claims(), key="", algorithm="none", headers={"kid": signer.key_id})


def another_ecc_key_same_kid(signer: FakeSigner) -> str:
    return es256(genuine_claims(), ec.generate_private_key(ec.SECP256R1()), kid=signer.key_id)


def without_kid(signer: FakeSigner) -> str:
    token = jwt.encode(genuine_claims(), signer.private_key, algorithm="ES256")
    assert "kid" not in jwt.get_unverified_header(token)
    return token


def unknown_kid(signer: FakeSigner) -> str:
    return es256(genuine_claims(), signer.private_key, kid="key-that-is-not-trusted")


def der_signature(signer: FakeSigner) -> str:
    """KMS's DER signature pasted as is: not a JOSE signature."""
    header = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": signer.key_id}).encode())
    payload = b64(json.dumps(genuine_claims()).encode())
    digest = hashlib.sha256(f"{header}.{payload}".encode()).digest()
    return f"{header}.{payload}.{b64(signer.sign_digest(digest))}"


def relabelled(token: str, **header: Any) -> str:
    """The same token with header fields changed (its signature no longer covers them)."""
    first, rest = token.split(".", 1)
    original = json.loads(base64.urlsafe_b64decode(first + "=="))
    return f"{b64(json.dumps(original | header).encode())}.{rest}"


def with_claims(**changes: Any) -> Callable[[FakeSigner], str]:
    return lambda signer: es256(genuine_claims(**changes), signer.private_key, kid=signer.key_id)


FORGERIES: dict[str, Callable[[FakeSigner], str]] = {
    "hs256-with-a-secret": hs256_with_a_secret,
    "hs256-keyed-with-the-public-key": hs256_with_the_public_key_as_secret,
    "alg-none": unsigned,
    "another-ecc-key": another_ecc_key_same_kid,
    "no-kid": without_kid,
    "unknown-kid": unknown_kid,
    "der-signature": der_signature,
    "expired": with_claims(exp=int(time.time()) - 1),
    "not-yet-valid": with_claims(nbf=int(time.time()) + 3600, iat=int(time.time()) + 3600, exp=int(time.time()) + 3900),
    "wrong-audience": with_claims(aud="elsewhere"),
    "wrong-issuer": with_claims(iss="elsewhere"),
    "no-subject": with_claims(sub=None),
    "no-session": with_claims(sid=None),
    "no-expiry": with_claims(exp=None),
    "refresh-token-use": with_claims(token_use="refresh"),
    "es384-header": lambda signer: relabelled(es256(genuine_claims(), signer.private_key, kid=signer.key_id), alg="ES384"),
    "garbage": lambda signer: "not.a.token",
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_stale_or_foreign_tokens_are_refused(forgery: str, signer: FakeSigner, verifier: AccessTokenVerifier) -> None:
    # Given a token that differs from a genuine one in one way
    token = FORGERIES[forgery](signer)
    # Then verification refuses it
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_the_genuine_control_token_of_the_forgeries_verifies(signer: FakeSigner, verifier: AccessTokenVerifier) -> None:
    # The forgeries above differ from this one token only in what they name
    token = es256(genuine_claims(), signer.private_key, kid=signer.key_id)
    assert verifier.verify(token) == AccessClaims(user_id="user-1", session_id="session-1")


def test_an_untrusted_kid_is_never_looked_up_as_a_key(signer: FakeSigner) -> None:
    # Given the verifier's key source, which knows only the trusted key ids
    public_keys = FakePublicKeys({signer.key_id: signer.public_key})
    verifier = AccessTokenVerifier(public_keys=public_keys, issuer=ISSUER, audience=AUDIENCE)
    # When a token with an alg other than ES256 arrives, its kid is not even looked up
    with pytest.raises(Unauthenticated):
        verifier.verify(hs256_with_a_secret(signer))
    assert public_keys.lookups == []


def test_a_rotated_key_set_verifies_tokens_of_both_keys(issuer: AccessTokenIssuer, signer: FakeSigner) -> None:
    # Given a new signing key, and a verifier trusting the old and the new during the rotation
    new_signer = FakeSigner("key-2")
    verifier = AccessTokenVerifier(
        public_keys=FakePublicKeys({signer.key_id: signer.public_key, new_signer.key_id: new_signer.public_key}),
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    new_issuer = AccessTokenIssuer(signer=new_signer, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=300)
    now = datetime.now(UTC)
    # Then tokens of either key verify, each by its own kid
    assert verifier.verify(issuer.issue("u", "s", now, far_end()).token).user_id == "u"
    assert verifier.verify(new_issuer.issue("u", "s", now, far_end()).token).user_id == "u"
    assert jwt.get_unverified_header(new_issuer.issue("u", "s", now, far_end()).token)["kid"] == "key-2"


def test_a_token_issued_in_the_future_is_refused(issuer: AccessTokenIssuer, verifier: AccessTokenVerifier) -> None:
    token = issuer.issue("user-1", "session-1", datetime.now(UTC) + timedelta(hours=1), far_end()).token
    with pytest.raises(Unauthenticated):
        verifier.verify(token)
