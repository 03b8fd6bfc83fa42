"""Minting access tokens the way the identity function does (ES256 over a SHA-256 digest), with
any signer: the stack's KMS token key (genuine), another key (a forgery), for attack tests."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from vaultpay.identity.kms import KmsTokenSigner
from vaultpay.identity.tokens import der_to_jose


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Minter:
    """Signs tokens with ``sign_digest`` (DER ECDSA over a SHA-256 digest) and names ``kid``."""

    sign_digest: Callable[[bytes], bytes]
    kid: str
    public_key: bytes  # SubjectPublicKeyInfo, DER: what anyone may know

    def token(self, claims: dict[str, Any], **header: Any) -> str:
        fields = {"alg": "ES256", "typ": "JWT", "kid": self.kid} | header
        fields = {name: value for name, value in fields.items() if value is not None}
        signing_input = f"{b64url(json.dumps(fields).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = der_to_jose(self.sign_digest(hashlib.sha256(signing_input.encode()).digest()))
        return f"{signing_input}.{b64url(signature)}"


def kms_minter(kms: Any, key_id: str) -> Minter:
    """Tokens signed by a KMS key (the stack's token key: genuine ones)."""
    return Minter(KmsTokenSigner(kms, key_id).sign_digest, key_id, bytes(kms.get_public_key(KeyId=key_id)["PublicKey"]))


def local_minter(kid: str, private_key: ec.EllipticCurvePrivateKey | None = None) -> Minter:
    """Tokens signed by a P-256 key of the test's own, naming ``kid``."""
    key = private_key or ec.generate_private_key(ec.SECP256R1())
    public_key = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Minter(lambda digest: key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))), kid, public_key)


def session_of(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])
