"""The identity feature's KMS adapters: the access tokens' signer and the public keys that verify them.

The signing key is an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY): its private half never
leaves KMS, only the identity function's role may call ``kms:Sign`` on it, and the authorizer's
role may only call ``kms:GetPublicKey``. Verification is local, with the public key fetched once
per container.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

SIGNING_ALGORITHM = "ECDSA_SHA_256"
SHA256_DIGEST_BYTES = 32


class KmsTokenSigner:
    """Signs a SHA-256 digest with KMS (``MessageType=DIGEST``): the token itself never goes to KMS."""

    def __init__(self, client: Any, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign_digest(self, digest: bytes) -> bytes:
        if len(digest) != SHA256_DIGEST_BYTES:
            raise ValueError("a SHA-256 digest is 32 bytes")
        response = self._client.sign(KeyId=self._key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=SIGNING_ALGORITHM)
        return bytes(response["Signature"])


class KmsPublicKeys:
    """The public keys of the trusted key ids, from ``kms:GetPublicKey``, cached for the life of the
    container (a key id's public key never changes). A key id outside the trusted set is never
    looked up: a forged ``kid`` costs no call to KMS."""

    def __init__(self, client: Any, trusted_key_ids: frozenset[str]) -> None:
        self._client = client
        self._trusted = trusted_key_ids
        self._keys: dict[str, EllipticCurvePublicKey] = {}

    def get(self, key_id: str) -> EllipticCurvePublicKey | None:
        if key_id not in self._trusted:
            return None
        if key_id not in self._keys:
            self._keys[key_id] = self._fetch(key_id)
        return self._keys[key_id]

    def _fetch(self, key_id: str) -> EllipticCurvePublicKey:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        response = self._client.get_public_key(KeyId=key_id)
        if response.get("KeyUsage") != "SIGN_VERIFY" or SIGNING_ALGORITHM not in response.get("SigningAlgorithms", []):
            raise RuntimeError(f"KMS key {key_id} is not an ECDSA P-256 signing key")
        public_key = load_der_public_key(bytes(response["PublicKey"]))
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
            raise RuntimeError(f"KMS key {key_id} is not an ECDSA P-256 signing key")
        return public_key
