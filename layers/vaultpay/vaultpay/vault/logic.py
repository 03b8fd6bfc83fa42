"""The Aadhaar vault: envelope encryption, the uniqueness index, and the owner-only reveal.

Envelope: KMS makes a fresh AES-256 data key per number, bound to the encryption context
{purpose: aadhaar, user_id}; the number is sealed with AES-256-GCM under a random 96-bit
nonce with the same context as associated data; only the KMS-wrapped key is stored. An entry
moved to another user fails twice over: KMS refuses the context, and GCM refuses the AAD.

Index: a MAC of the number under a KMS HMAC key that never leaves KMS (the ``IndexMac`` port):
equal numbers collide, so the guard item makes the number unique, yet whoever holds a copy of
the table (a backup, the stream, an export) cannot test guesses offline: 10^12 candidates (10^4
knowing the last four digits) each need a ``GenerateMac`` call that only the identity
function's role is allowed to make.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vaultpay.core.errors import StepUpFailed, UserNotFound, VaultEntryNotFound, VaultIntegrityError
from vaultpay.core.passwords import verify_password
from vaultpay.identity.lockout import LoginGuard
from vaultpay.vault.models import RevealAadhaarRequest, RevealedAadhaar, SealedAadhaar
from vaultpay.vault.ports import DataKeyProvider, IndexMac, ProfileReader, RevealLog, SealedStore

PURPOSE = "aadhaar"
NONCE_BYTES = 12


def encryption_context(user_id: str) -> dict[str, str]:
    return {"purpose": PURPOSE, "user_id": user_id}


def _associated_data(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


def seal_aadhaar(aadhaar: str, user_id: str, data_keys: DataKeyProvider) -> SealedAadhaar:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    context = encryption_context(user_id)
    data_key = data_keys.generate(context)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key.plaintext).encrypt(nonce, aadhaar.encode(), _associated_data(context))
    return SealedAadhaar(key_id=data_key.key_id, wrapped_key=data_key.wrapped, nonce=nonce, ciphertext=ciphertext)


def open_aadhaar(sealed: SealedAadhaar, user_id: str, data_keys: DataKeyProvider) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    context = encryption_context(user_id)
    key = data_keys.unwrap(sealed.key_id, sealed.wrapped_key, context)
    try:
        return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, _associated_data(context)).decode()
    except InvalidTag:
        raise VaultIntegrityError() from None


def aadhaar_index(aadhaar: str, index_mac: IndexMac) -> str:
    """The uniqueness index of a number: its MAC under the KMS index key, hex. Equal numbers
    collide; nothing about the number can be learnt or tested without calling KMS."""
    return index_mac.mac(aadhaar.encode()).hex()


@dataclass(frozen=True)
class VaultService:
    profiles: ProfileReader
    reveals: RevealLog
    sealed: SealedStore
    data_keys: DataKeyProvider
    login_guard: LoginGuard
    clock: Callable[[], datetime]
    reveal_event_ttl_seconds: int

    def reveal(self, user_id: str, request_id: str, client_address: str, request: RevealAadhaarRequest) -> RevealedAadhaar:
        """The owner's number, after the password is re-entered. The reveal is recorded (for the
        audit trail) before the number leaves; each password check counts toward the login
        limits of the account and of the client address, before it runs."""
        profile = self.profiles.get_profile(user_id)
        if profile is None:
            raise UserNotFound()
        reservation = self.login_guard.reserve(profile.email, client_address)
        if not verify_password(profile.password_hash, request.password):
            raise StepUpFailed()
        self.login_guard.succeeded(reservation)
        sealed = self.sealed.get(user_id)
        if sealed is None:
            raise VaultEntryNotFound()
        aadhaar = open_aadhaar(sealed, user_id, self.data_keys)
        now = self.clock()
        self.reveals.record_reveal(user_id, request_id, now, now + timedelta(seconds=self.reveal_event_ttl_seconds))
        return RevealedAadhaar(aadhaar=aadhaar)
