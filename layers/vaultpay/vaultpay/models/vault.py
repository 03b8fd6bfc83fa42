"""The vault's request and response: step-up with the password, the number in the clear."""

from __future__ import annotations

from pydantic import Field

from vaultpay.models.base import Password, RequestModel, ResponseModel


class RevealAadhaarRequest(RequestModel):
    password: Password


class RevealedAadhaar(ResponseModel):
    aadhaar: str = Field(pattern=r"^[2-9][0-9]{11}$")
