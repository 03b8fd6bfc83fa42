"""The vault feature's ports: what its logic needs from the outside world, as Protocols.

The DynamoDB and KMS adapters implement them in production; the unit tests use in-memory fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from vaultpay.core.records import ProfileRecord
from vaultpay.vault.models import DataKey, SealedAadhaar


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
    def record_reveal(self, user_id: str, request_id: str, at: datetime, keep_until: datetime) -> None: ...
