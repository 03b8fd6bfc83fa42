"""moto's KMS, made faithful where the access tokens depend on it (local only, never deployed).

moto (5.2) ignores ``Sign``'s ``MessageType=DIGEST``: it hashes the digest again, so its
signature verifies against no standard ES256 token. Real KMS signs the digest as given.
``honour_digest_signing`` makes moto do the same for ECDSA keys; the local stack's moto server
and the in-process moto of the handler tests install it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from moto.kms.exceptions import ValidationException
from moto.kms.responses import KmsResponse

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "ECDSA_SHA_256": hashes.SHA256,
    "ECDSA_SHA_384": hashes.SHA384,
    "ECDSA_SHA_512": hashes.SHA512,
}
_installed = False


def _sign_digest(response: KmsResponse) -> str:
    key = response.kms_backend.describe_key(response._get_param("KeyId"))
    algorithm = response._get_param("SigningAlgorithm")
    private_key = getattr(key.private_key, "private_key", None)
    if key.key_usage != "SIGN_VERIFY" or algorithm not in (key.signing_algorithms or []) or algorithm not in _HASHES:
        raise ValidationException(f"{algorithm} is not a signing algorithm of key {key.id}")
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise ValidationException("this local KMS signs digests with ECDSA keys only")
    digest_algorithm = _HASHES[algorithm]()
    digest = response._get_param("Message")
    if len(digest) != digest_algorithm.digest_size:
        raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
    signature = private_key.sign(digest, ec.ECDSA(Prehashed(digest_algorithm)))
    return json.dumps({"KeyId": key.arn, "Signature": base64.b64encode(signature).decode(), "SigningAlgorithm": algorithm})


def honour_digest_signing() -> None:
    """Make moto's ``Sign`` treat ``MessageType=DIGEST`` as KMS does (idempotent)."""
    global _installed
    if _installed:
        return
    original = KmsResponse.sign

    def sign(self: KmsResponse) -> Any:
        if self._get_param("MessageType") == "DIGEST":
            return _sign_digest(self)
        return original(self)

    KmsResponse.sign = sign  # type: ignore[method-assign]
    _installed = True
