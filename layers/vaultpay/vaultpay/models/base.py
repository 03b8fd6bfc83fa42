"""What every request and response model of the API shares.

Requests forbid unknown fields (no mass assignment: a ``balance`` or ``is_admin`` in a body is a
422, not silently dropped). Kept apart from ``vaultpay.models.api`` so that a function whose
requests carry no e-mail address (the vault) never loads e-mail validation at cold start.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(frozen=True)


Password = Annotated[str, Field(min_length=1, max_length=1024)]
"""Any string; the policy (length, common passwords) is checked by the logic on register."""
