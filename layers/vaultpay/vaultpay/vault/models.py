"""The vault's models: the reveal (step-up with the password, the number in the clear) and the
sealed entry with the data key that wraps it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vaultpay.core.models import Password, RequestModel, ResponseModel


class RevealAadhaarRequest(RequestModel):
    password: Password


class RevealedAadhaar(ResponseModel):
    aadhaar: str = Field(pattern=r"^[2-9][0-9]{11}$")


# ---------------------------------------------------------------- records
class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SealedAadhaar(_Record):
    """An Aadhaar number under envelope encryption: only the wrapped data key is stored."""

    key_id: str
    wrapped_key: bytes
    nonce: bytes = Field(min_length=12, max_length=12)
    ciphertext: bytes
    algorithm: Literal["AES-256-GCM"] = "AES-256-GCM"


class DataKey(_Record):
    key_id: str
    plaintext: bytes = Field(repr=False)
    wrapped: bytes
