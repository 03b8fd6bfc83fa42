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

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vaultpay.core.errors import (
    SecondFactorIncorrect,
    StepUpFailed,
    StepUpRequired,
    TotpNotPending,
    UserNotFound,
    VaultEntryNotFound,
    VaultIntegrityError,
)
from vaultpay.core.grants import GrantUse, NewGrant, grant_use, hash_grant, new_grant
from vaultpay.core.passwords import verify_password
from vaultpay.core.records import ProfileRecord
from vaultpay.identity.lockout import LoginGuard
from vaultpay.vault.models import (
    RevealAadhaarRequest,
    RevealedAadhaar,
    SealedAadhaar,
    SealedSecret,
    StepUpGrant,
    StepUpRequest,
    TotpEnrolment,
    TotpFactor,
    TotpStatus,
)
from vaultpay.vault.ports import DataKeyProvider, IndexMac, ProfileReader, RevealLog, SealedStore, StepUpStore

PURPOSE = "aadhaar"
TOTP_PURPOSE = "totp"
NONCE_BYTES = 12
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_DRIFT_STEPS = 1  # a code of the step before or after is accepted too (clock drift, typing time)
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read and typed
PASSWORD_ONLY = ("password",)
SECOND_FACTOR = ("totp", "recovery_code")


def encryption_context(user_id: str, purpose: str = PURPOSE) -> dict[str, str]:
    return {"purpose": purpose, "user_id": user_id}


def _associated_data(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


def seal_secret(plaintext: str, context: dict[str, str], data_keys: DataKeyProvider) -> SealedSecret:
    """Envelope encryption: a fresh KMS data key bound to ``context``, AES-256-GCM with a random
    96-bit nonce and the context as associated data; only the wrapped key is kept."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data_key = data_keys.generate(context)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key.plaintext).encrypt(nonce, plaintext.encode(), _associated_data(context))
    return SealedSecret(key_id=data_key.key_id, wrapped_key=data_key.wrapped, nonce=nonce, ciphertext=ciphertext)


def open_secret(sealed: SealedSecret, context: dict[str, str], data_keys: DataKeyProvider) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = data_keys.unwrap(sealed.key_id, sealed.wrapped_key, context)
    try:
        return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, _associated_data(context)).decode()
    except InvalidTag:
        raise VaultIntegrityError() from None


def seal_aadhaar(aadhaar: str, user_id: str, data_keys: DataKeyProvider) -> SealedAadhaar:
    return seal_secret(aadhaar, encryption_context(user_id), data_keys)


def open_aadhaar(sealed: SealedAadhaar, user_id: str, data_keys: DataKeyProvider) -> str:
    return open_secret(sealed, encryption_context(user_id), data_keys)


# ---------------------------------------------------------------- TOTP (RFC 6238) and recovery codes
def totp_step(moment: datetime) -> int:
    return int(moment.timestamp()) // TOTP_STEP_SECONDS


def totp_code(secret: str, step: int) -> str:
    import pyotp

    return str(pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).generate_otp(step))


def matching_step(secret: str, code: str, moment: datetime) -> int | None:
    """The step (now, or one either side) whose code ``code`` is, compared in constant time; None if none."""
    now = totp_step(moment)
    found = None
    for step in range(now - TOTP_DRIFT_STEPS, now + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp_code(secret, step), code):
            found = step
    return found


def new_recovery_code() -> str:
    """12 characters of a 31-letter alphabet (~59 bits), grouped for reading: k7qm-3xva-w9fe."""
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def hash_recovery_code(code: str) -> str:
    """SHA-256 of the normalized code: high-entropy codes need no slow hash (nothing to brute-force
    offline in reach), and typing it with spaces, dashes or capitals still matches."""
    normalized = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalized.encode()).hexdigest()


def aadhaar_index(aadhaar: str, index_mac: IndexMac) -> str:
    """The uniqueness index of a number: its MAC under the KMS index key, hex. Equal numbers
    collide; nothing about the number can be learnt or tested without calling KMS."""
    return index_mac.mac(aadhaar.encode()).hex()


def _methods(factor: TotpFactor | None) -> tuple[str, ...]:
    return SECOND_FACTOR if factor is not None and factor.status == "ACTIVE" else PASSWORD_ONLY


def _wrong_method(methods: tuple[str, ...]) -> StepUpRequired:
    if methods == SECOND_FACTOR:
        return StepUpRequired(
            "Two-step verification is on: prove it with a code from your authenticator app or a recovery code.",
            methods=methods,
        )
    return StepUpRequired("No authenticator app is enrolled: prove it with your password.", methods=methods)


@dataclass(frozen=True)
class StepUpService:
    """Step-up: a fresh proof (the password; once an authenticator is enrolled, a TOTP code or a
    recovery code instead) earns a short-lived grant bound to the session. Every failed proof
    counts toward the login lockout. Also the authenticator's enrolment."""

    profiles: ProfileReader
    store: StepUpStore
    totp_keys: DataKeyProvider
    login_guard: LoginGuard
    clock: Callable[[], datetime]
    grant_ttl_seconds: int
    totp_issuer: str = "VaultPay"

    def _profile(self, user_id: str) -> ProfileRecord:
        profile = self.profiles.get_profile(user_id)
        if profile is None:
            raise UserNotFound()
        return profile

    def _open(self, user_id: str, factor: TotpFactor) -> str:
        return open_secret(factor.sealed, encryption_context(user_id, TOTP_PURPOSE), self.totp_keys)

    def step_up(self, user_id: str, session_id: str, client_address: str, request: StepUpRequest) -> StepUpGrant:
        """A grant for one sensitive operation in ``session_id``. Each proof checked (password, TOTP
        code or recovery code) counts toward the login limits of the account and of the client
        address, before it runs; a proof accepted gives the reservation back."""
        profile = self._profile(user_id)
        factor = self.store.get_totp(user_id)
        methods = _methods(factor)
        grant = new_grant()
        now = self.clock()
        stored = NewGrant(
            grant_hash=hash_grant(grant),
            session_id=session_id,
            expires_at=int(now.timestamp()) + self.grant_ttl_seconds,
            method="password" if request.password is not None else "totp" if request.totp is not None else "recovery_code",
        )
        if stored.method not in methods:
            raise _wrong_method(methods)
        reservation = self.login_guard.reserve(profile.email, client_address)
        if request.password is not None:
            if not verify_password(profile.password_hash, request.password):
                raise StepUpFailed()
            self.store.grant_for_password(user_id, stored)
        elif request.totp is not None:
            assert factor is not None
            step = matching_step(self._open(user_id, factor), request.totp, now)
            if step is None:
                raise SecondFactorIncorrect()
            self.store.grant_for_totp(user_id, step, stored)  # SecondFactorIncorrect if replayed: counted
        else:
            assert request.recovery_code is not None
            # SecondFactorIncorrect if unknown or spent: counted
            self.store.grant_for_recovery_code(user_id, hash_recovery_code(request.recovery_code), stored)
        self.login_guard.succeeded(reservation)
        return StepUpGrant(grant=grant, expires_in=self.grant_ttl_seconds)

    # ------------------------------------------------------------ enrolment
    def begin_totp(self, user_id: str, session_id: str | None, step_up_grant: str | None) -> TotpEnrolment:
        """A new secret and ten recovery codes, PENDING until a code confirms them. Enrolling
        changes how this person steps up, so it needs a step-up grant itself (a stolen access token
        alone cannot enrol the thief's authenticator)."""
        import pyotp

        profile = self._profile(user_id)
        now = self.clock()
        use = grant_use(step_up_grant, session_id, int(now.timestamp()))
        if use is None:
            raise StepUpRequired("Enrolling an authenticator needs a fresh proof: step up first.", methods=PASSWORD_ONLY)
        secret = pyotp.random_base32()  # 160 bits
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        sealed = seal_secret(secret, encryption_context(user_id, TOTP_PURPOSE), self.totp_keys)
        self.store.begin_totp(user_id, sealed, [hash_recovery_code(code) for code in codes], now, use)
        uri = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
            name=profile.email, issuer_name=self.totp_issuer
        )
        return TotpEnrolment(secret_uri=uri, qr_svg=qr_svg(uri), recovery_codes=codes)

    def confirm_totp(self, user_id: str, client_address: str, code: str) -> TotpStatus:
        """Turn two-step verification on with a first code; the check counts toward the login
        limits like any other proof."""
        profile = self._profile(user_id)
        factor = self.store.get_totp(user_id)
        if factor is None or factor.status != "PENDING":
            raise TotpNotPending()
        reservation = self.login_guard.reserve(profile.email, client_address)
        step = matching_step(self._open(user_id, factor), code, self.clock())
        if step is None:
            raise SecondFactorIncorrect()
        self.store.activate_totp(user_id, factor.sealed.nonce, step)
        self.login_guard.succeeded(reservation)
        return TotpStatus(enabled=True, recovery_codes_left=factor.recovery_codes_left)


def qr_svg(uri: str) -> str:
    """The URI as a QR code, an SVG document (segno: pure Python, no imaging library)."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make_qr(uri, error="m").save(
        buffer, kind="svg", xmldecl=False, scale=4, omitsize=True, svgclass=None, lineclass=None, title="Authenticator setup"
    )
    return buffer.getvalue().decode()


@dataclass(frozen=True)
class VaultService:
    profiles: ProfileReader
    reveals: RevealLog
    sealed: SealedStore
    data_keys: DataKeyProvider
    login_guard: LoginGuard
    clock: Callable[[], datetime]
    reveal_event_ttl_seconds: int
    step_ups: StepUpStore | None = None

    def reveal(
        self,
        user_id: str,
        request_id: str,
        client_address: str,
        request: RevealAadhaarRequest,
        *,
        session_id: str | None = None,
        step_up_grant: str | None = None,
    ) -> RevealedAadhaar:
        """The owner's number, after a fresh proof: a step-up grant of this session (spent by the
        reveal), or the password re-entered while no authenticator is enrolled. The reveal is
        recorded (for the audit trail) before the number leaves; each password check counts toward
        the login limits of the account and of the client address, before it runs."""
        profile = self.profiles.get_profile(user_id)
        if profile is None:
            raise UserNotFound()
        now = self.clock()
        use = self._grant(user_id, session_id, step_up_grant, now)
        if use is None:
            self._check_password(user_id, profile, client_address, request)
        sealed = self.sealed.get(user_id)
        if sealed is None:
            raise VaultEntryNotFound()
        aadhaar = open_aadhaar(sealed, user_id, self.data_keys)
        self.reveals.record_reveal(user_id, request_id, now, now + timedelta(seconds=self.reveal_event_ttl_seconds), use)
        return RevealedAadhaar(aadhaar=aadhaar)

    def _grant(self, user_id: str, session_id: str | None, step_up_grant: str | None, now: datetime) -> GrantUse | None:
        """The grant offered, checked before anything is decrypted (and spent with the reveal event)."""
        if step_up_grant is None:
            return None
        use = grant_use(step_up_grant, session_id, int(now.timestamp()))
        if use is None or self.step_ups is None or not self.step_ups.grant_valid(user_id, use):
            raise StepUpRequired("The step-up grant is not valid: it expired, was used, or belongs to another session.")
        return use

    def _check_password(self, user_id: str, profile: ProfileRecord, client_address: str, request: RevealAadhaarRequest) -> None:
        methods = _methods(self.step_ups.get_totp(user_id) if self.step_ups is not None else None)
        if request.password is None or methods != PASSWORD_ONLY:
            raise _wrong_method(methods) if request.password is not None else StepUpRequired(methods=methods)
        reservation = self.login_guard.reserve(profile.email, client_address)
        if not verify_password(profile.password_hash, request.password):
            raise StepUpFailed()
        self.login_guard.succeeded(reservation)
