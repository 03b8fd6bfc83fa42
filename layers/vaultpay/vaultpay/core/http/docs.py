"""OpenAPI documentation helpers: the problem+json responses each route can give."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field

from vaultpay.core.http.problems import PROBLEM_JSON


class ValidationIssue(BaseModel):
    location: list[str]
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["https://vaultpay.example/problems/insufficient-funds"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ValidationIssue] | None = None
    reference_id: str | None = None


def responses(success: int, *problems: int, no_content: tuple[int, ...] = ()) -> dict[int, Any]:
    """The documented responses of a route: its success (schema from the return type), the
    problem+json failures it can give (422 request validation and 500, always), and body-less ones."""
    documented: dict[int, Any] = {success: {"description": HTTPStatus(success).phrase}}
    if success == HTTPStatus.NO_CONTENT:
        no_content = (*no_content, success)
    for status in no_content:
        documented[status] = {"description": HTTPStatus(status).phrase, "content": {}}
    for status in sorted({422, 500, *problems}):
        documented[status] = {"description": HTTPStatus(status).phrase, "content": {PROBLEM_JSON: {"model": Problem}}}
    return documented
