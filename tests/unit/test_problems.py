"""Every domain exception has exactly one HTTP status, in one module."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

from vaultpay.core import errors
from vaultpay.core.http.problems import STATUS_BY_ERROR, status_of

DOMAIN_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.DomainError) and cls is not errors.DomainError
]


@pytest.mark.parametrize("error_class", DOMAIN_ERRORS, ids=lambda cls: cls.__name__)
def test_every_domain_error_maps_to_a_status(error_class: type[errors.DomainError]) -> None:
    signature = inspect.signature(error_class)
    arguments: dict[str, Any] = {}
    if "retry_after_seconds" in signature.parameters:
        arguments["retry_after_seconds"] = 1
    if "reference_id" in signature.parameters:
        arguments["reference_id"] = "ref"
    if "resets_at" in signature.parameters:
        arguments |= {"limit": 100, "remaining": 0, "resets_at": datetime(2026, 11, 24, 18, 30, tzinfo=UTC)}
    if "cap" in signature.parameters:
        arguments |= {"detail": "past the cap", "cap": "lender_total", "limit": 100, "remaining": 0}
    elif "remaining" in signature.parameters:
        arguments["remaining"] = 100
    if "minimum" in signature.parameters:
        arguments["minimum"] = 50_000
    if "balance" in signature.parameters:
        arguments["balance"] = 0
    status = status_of(error_class(**arguments))
    assert 400 <= status < 600
    assert error_class.code != errors.DomainError.code


def test_codes_are_unique_except_for_subclasses() -> None:
    codes = [cls.code for cls in DOMAIN_ERRORS if cls.__bases__ == (errors.DomainError,)]
    assert len(codes) == len(set(codes))


def test_the_mapping_names_only_domain_errors() -> None:
    assert all(issubclass(cls, errors.DomainError) for cls in STATUS_BY_ERROR)
