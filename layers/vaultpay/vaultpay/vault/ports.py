"""The vault feature's ports: what its logic needs from the outside world, as Protocols.

The DynamoDB and KMS adapters implement them in production; the unit tests use in-memory fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from vaultpay.core.grants import GrantUse, NewGrant
from vaultpay.core.records import ProfileRecord
from vaultpay.vault.models import DataKey, SealedAadhaar, SealedSecret, TotpFactor


class DataKeyProvider(Protocol):
    def generate(self, context: dict[str, str]) -> DataKey: ...
    def unwrap(self, key_id: str, wrapped: bytes, context: dict[str, str]) -> bytes: ...


class IndexMac(Protocol):
    """A MAC under a key that never leaves KMS (GenerateMac): computable only by whom the key
    policy allows, never offline. The Aadhaar uniqueness index is made with it."""

    def mac(self, message: bytes) -> bytes: ...


class SealedStore(Protocol):
    def get(self, user_id: str) -> SealedAadhaar | None: ...


class ProfileReader(Protocol):
    def get_profile(self, user_id: str) -> ProfileRecord | None: ...


class RevealLog(Protocol):
    def record_reveal(
        self, user_id: str, request_id: str, at: datetime, keep_until: datetime, step_up: GrantUse | None = None
    ) -> None:
        """The reveal event; with ``step_up``, the grant is spent in the same transaction
        (StepUpRequired when it is no longer valid, and then no event is recorded)."""
        ...


class StepUpStore(Protocol):
    """Step-up grants and the authenticator (TOTP) they may be earned with. Every write that
    spends a proof (a TOTP step, a recovery code) issues the grant in the same transaction."""

    def get_totp(self, user_id: str) -> TotpFactor | None: ...

    def grant_valid(self, user_id: str, use: GrantUse) -> bool: ...

    def grant_for_password(self, user_id: str, grant: NewGrant) -> None:
        """Store the grant, on condition that no authenticator is ACTIVE (StepUpRequired otherwise)."""
        ...

    def grant_for_totp(self, user_id: str, step: int, grant: NewGrant) -> None:
        """Remember ``step`` as used and store the grant, on condition that the authenticator is
        ACTIVE and no code of this step or a later one was accepted (SecondFactorIncorrect otherwise)."""
        ...

    def grant_for_recovery_code(self, user_id: str, code_hash: str, grant: NewGrant) -> None:
        """Spend the recovery code and store the grant, on condition that the authenticator is
        ACTIVE and holds that unspent code (SecondFactorIncorrect otherwise)."""
        ...

    def begin_totp(self, user_id: str, sealed: SealedSecret, recovery_hashes: list[str], at: datetime, step_up: GrantUse) -> None:
        """A PENDING authenticator (replacing a pending one), the grant spent: TotpAlreadyEnabled when
        one is ACTIVE, StepUpRequired when the grant is not valid."""
        ...

    def activate_totp(self, user_id: str, nonce: bytes, step: int) -> None:
        """PENDING -> ACTIVE for the enrolment sealed with ``nonce`` (a newer enrolment is not
        confirmed by the old secret's code): TotpNotPending otherwise."""
        ...
