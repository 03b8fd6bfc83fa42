"""The vault's models: the reveal (step-up with the password or a grant, the number in the clear),
the step-up and TOTP enrolment requests and answers, and the sealed secrets with the data keys
that wrap them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vaultpay.core.models import Password, RequestModel, ResponseModel

TotpCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", examples=["123456"])]
RecoveryCode = Annotated[str, Field(min_length=8, max_length=40, examples=["k7qm-3xva-w9fe"])]


class RevealAadhaarRequest(RequestModel):
    """The password (while no authenticator is enrolled), or nothing with an ``X-Step-Up`` grant."""

    password: Password | None = None


STEP_UP_PROOFS = ("password", "totp", "recovery_code")


class StepUpRequest(RequestModel):
    """Exactly one proof: the password (while no authenticator is enrolled), a TOTP code from the
    enrolled authenticator, or one of its recovery codes. A proof given as null is no proof."""

    # The rule of _exactly_one_proof, in the schema: exactly one of the proofs is a string.
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [name], "properties": {name: {"type": "string"}}} for name in STEP_UP_PROOFS]}
    )

    password: Password | None = None
    totp: TotpCode | None = None
    recovery_code: RecoveryCode | None = None

    @model_validator(mode="after")
    def _exactly_one_proof(self) -> StepUpRequest:
        if sum(proof is not None for proof in (self.password, self.totp, self.recovery_code)) != 1:
            raise ValueError("give exactly one of password, totp or recovery_code")
        return self


class StepUpGrant(ResponseModel):
    grant: str = Field(description="Send it as the X-Step-Up header; it serves once, in this session, until it expires.")
    expires_in: int = Field(description="Seconds until the grant expires.")


class TotpEnrolment(ResponseModel):
    secret_uri: str = Field(description="otpauth:// URI for an authenticator app (holds the secret: show it, never store it).")
    qr_svg: str = Field(description="The same URI as a QR code, an SVG document.")
    recovery_codes: list[str] = Field(description="Ten single-use codes, shown this once; each replaces a TOTP code once.")


class ConfirmTotpRequest(RequestModel):
    code: TotpCode


class TotpStatus(ResponseModel):
    enabled: bool
    recovery_codes_left: int


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


SealedSecret = SealedAadhaar
"""Any short secret under the same envelope (the TOTP secret: purpose "totp")."""


class TotpFactor(_Record):
    """A person's authenticator: PENDING until a first code confirms it, then ACTIVE."""

    status: Literal["PENDING", "ACTIVE"]
    sealed: SealedSecret
    last_step: int | None = None  # the last 30-second step whose code was accepted (replay guard)
    recovery_codes_left: int = 0
