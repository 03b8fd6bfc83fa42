"""OpenAPI documentation helpers: the problem+json responses each route can give.

A route names the domain errors its logic raises; their statuses come from ``problems``
(the one place errors become HTTP), and each status documents the problem ``type``s it can
carry. What the HTTP layer itself answers (a body that is not JSON, request validation, an
unsupported media type, a failure) and what the gateway and the authorizer answer before the
function runs are added to every operation from its shape by ``tools/openapi.py``.
"""

from __future__ import annotations

from collections import defaultdict
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field

from vaultpay.core.errors import DomainError
from vaultpay.core.http.problems import PROBLEM_BASE_URI, PROBLEM_JSON, status_of

PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


class ValidationIssue(BaseModel):
    location: list[str]
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, with the extensions some problems carry."""

    type: str = Field(examples=["https://vaultpay.example/problems/insufficient-funds"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ValidationIssue] | None = Field(default=None, description="validation-error: what is wrong, and where.")
    reference_id: str | None = Field(default=None, description="insufficient-funds: the FAILED transaction it recorded.")
    limit: str | None = Field(default=None, description="daily-limit-exceeded: the daily limit, in rupees.")
    remaining: str | None = Field(default=None, description="daily-limit-exceeded: what may still be sent today.")
    resets_at: str | None = Field(default=None, description="daily-limit-exceeded: when the day ends (UTC).")
    methods: list[str] | None = Field(default=None, description="step-up-required: the proofs accepted.")
    threshold: str | None = Field(default=None, description="step-up-required (a transfer): above it, a step-up is needed.")


def problem_types(codes: set[str] | frozenset[str]) -> list[str]:
    return [PROBLEM_BASE_URI + code for code in sorted(codes)]


def problem_response(status: int, codes: set[str] | frozenset[str]) -> dict[str, Any]:
    """A problem+json response whose ``type`` is one of ``codes``."""
    return {
        "description": f"{HTTPStatus(status).phrase}: {', '.join(sorted(codes))}",
        "content": {
            PROBLEM_JSON: {
                "schema": {"allOf": [{"$ref": PROBLEM_SCHEMA_REF}, {"properties": {"type": {"enum": problem_types(codes)}}}]}
            }
        },
    }


def documented_codes(response: dict[str, Any]) -> set[str] | None:
    """The problem codes a response built by ``problem_response`` documents; None for any problem."""
    schema = response.get("content", {}).get(PROBLEM_JSON, {}).get("schema", {})
    for part in schema.get("allOf", ()):
        enum = part.get("properties", {}).get("type", {}).get("enum")
        if enum is not None:
            return {uri.removeprefix(PROBLEM_BASE_URI) for uri in enum}
    return None


def responses(success: int, *problems: type[DomainError] | int, no_content: tuple[int, ...] = ()) -> dict[int, Any]:
    """The documented responses of a route: its success (schema from the return type), the
    problems its logic raises (a domain error, or a bare status for any problem type), and
    body-less ones."""
    documented: dict[int, Any] = {success: {"description": HTTPStatus(success).phrase}}
    if success == HTTPStatus.NO_CONTENT:
        no_content = (*no_content, success)
    for status in no_content:
        documented[status] = {"description": HTTPStatus(status).phrase, "content": {}}
    codes: dict[int, set[str]] = defaultdict(set)
    for problem in problems:
        if isinstance(problem, int):
            documented[problem] = {"description": HTTPStatus(problem).phrase, "content": {PROBLEM_JSON: {"model": Problem}}}
        else:
            codes[int(status_of(problem))].add(problem.code)
    for status, status_codes in codes.items():
        documented[status] = problem_response(status, status_codes)
    return dict(sorted(documented.items()))
