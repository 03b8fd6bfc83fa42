"""The OpenAPI document the API publishes is generated from the handlers, never edited by hand,
and states what the API enforces."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
import pytest
from openapi_spec_validator import validate

from local.template import SamTemplate
from tools.openapi import DOCUMENT, build_document
from vaultpay.core import errors
from vaultpay.core.http.problems import PROBLEM_BASE_URI, PROBLEM_JSON, STATUS_BY_ERROR
from vaultpay.core.money import MAX_TRANSFER_PAISE, format_paise

DOCUMENT_BODY: dict[str, Any] = json.loads(build_document())


def schema_of(name: str) -> dict[str, Any]:
    return dict(DOCUMENT_BODY["components"]["schemas"][name])


def validator(name: str) -> jsonschema_rs.Validator:
    """A JSON Schema validator for a component, its references resolved within the document: the
    engine Schemathesis generates and checks with (patterns with look-around, formats checked)."""
    return jsonschema_rs.validator_for(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema_of(name), "components": DOCUMENT_BODY["components"]},
        validate_formats=True,
        pattern_options=jsonschema_rs.FancyRegexOptions(),
    )


def problem_types(path: str, method: str, status: int) -> set[str]:
    response = DOCUMENT_BODY["paths"][path][method]["responses"][str(status)]
    (schema,) = [part for part in response["content"][PROBLEM_JSON]["schema"]["allOf"] if "properties" in part]
    return {uri.removeprefix(PROBLEM_BASE_URI) for uri in schema["properties"]["type"]["enum"]}


def test_the_published_document_matches_the_handlers() -> None:
    # Given the routes and models of the handlers, When the document is generated,
    # Then it is exactly the one committed and served at /api/openapi.json (`make openapi` refreshes it)
    assert DOCUMENT.read_text(encoding="utf-8") == build_document()


def test_the_document_is_valid_openapi() -> None:
    validate(DOCUMENT_BODY)  # raises on the first violation of the OpenAPI 3.1 schema


def test_every_route_the_gateway_serves_is_documented_and_nothing_else() -> None:
    # Given the HTTP API's routes in the template (a new feature's routes included, once routed;
    # the template routes each path with and without its trailing slash)
    routes = {
        (route.method.lower(), route.path.rstrip("/"))
        for route in SamTemplate.load().routes()
        if route.path not in ("$default", "/api/openapi.json")
    }
    documented = {(method, path.rstrip("/")) for path, methods in DOCUMENT_BODY["paths"].items() for method in methods}
    assert documented == routes


def test_every_problem_is_problem_json_and_names_its_types() -> None:
    for path, operations in DOCUMENT_BODY["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM_JSON], f"{method} {path} {status}"
                    assert problem_types(path, method, int(status)), f"{method} {path} {status}"


def test_a_routes_problems_are_documented_under_the_status_they_are_answered_with() -> None:
    # The transfer's refusals, each under the status problems.py maps it to
    transfer = {status: problem_types("/api/wallet/transfer/", "post", status) for status in (400, 403, 404, 409, 422, 503)}
    for error in (
        errors.MissingIdempotencyKey,
        errors.MalformedIdempotencyKey,
        errors.StepUpRequired,
        errors.ReceiverNotFound,
        errors.RequestInFlight,
        errors.IdempotencyKeyReused,
        errors.SelfTransfer,
        errors.AmountAboveLimit,
        errors.DailyLimitExceeded,
        errors.InsufficientFunds,
        errors.OutcomeUnknown,
    ):
        assert error.code in transfer[STATUS_BY_ERROR[error]], error.__name__
    # and what the layers around the logic answer, by the operation's shape
    assert "validation-error" in transfer[422]
    assert "malformed-request" in transfer[400]
    assert problem_types("/api/wallet/transfer/", "post", 401) == {"unauthenticated"}
    assert problem_types("/api/users/login/", "post", 401) == {"invalid-credentials"}  # a public route: no authorizer
    assert "422" not in DOCUMENT_BODY["paths"]["/api/health"]["get"]["responses"]


def test_the_idempotency_key_is_documented_as_required_with_its_format() -> None:
    (key,) = [p for p in DOCUMENT_BODY["paths"]["/api/wallet/transfer/"]["post"]["parameters"] if p["name"] == "idempotency-key"]
    assert key["required"] is True
    assert key["in"] == "header"
    pattern = re.compile(key["schema"]["pattern"])
    assert pattern.search("5f0c6f1e-2a4b-4c8e-9d3a-7b1e2f4a6c8d")
    assert pattern.search("x" * 128)
    assert not pattern.search("short")
    assert not pattern.search("has spaces in it")
    assert not pattern.search("x" * 129)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        (
            {
                "email": "asha@example.in",
                "password": "correct horse battery staple",
                "full_name": "Asha",
                "aadhaar": "2341 2341 2346",
            },
            True,
        ),
        ({"email": "asha@example.in", "password": "short", "full_name": "Asha", "aadhaar": "234123412346"}, False),
        ({"email": "asha@example.in", "password": "x" * 129, "full_name": "Asha", "aadhaar": "234123412346"}, False),
        (
            {
                "email": "asha@example.test",
                "password": "correct horse battery staple",
                "full_name": "Asha",
                "aadhaar": "234123412346",
            },
            False,
        ),
        (
            {
                "email": "Asha <asha@example.in>",
                "password": "correct horse battery",
                "full_name": "Asha",
                "aadhaar": "234123412346",
            },
            False,
        ),
        (
            {
                "email": "asha@example.in",
                "password": "correct horse battery staple",
                "full_name": "   ",
                "aadhaar": "234123412346",
            },
            False,
        ),
        (
            {
                "email": "asha@example.in",
                "password": "correct horse battery",
                "full_name": "Ravi\u202egnp.exe",
                "aadhaar": "234123412346",
            },
            False,
        ),
        (
            {
                "email": "asha@example.in",
                "password": "correct horse battery staple",
                "full_name": "Asha",
                "aadhaar": "134123412346",
            },
            False,
        ),
        (
            {
                "email": "asha@example.in",
                "password": "correct horse battery staple",
                "full_name": "Asha",
                "aadhaar": "2341-2341-2346",
            },
            False,
        ),
    ],
)
def test_the_registration_schema_states_the_limits(body: dict[str, Any], valid: bool) -> None:
    assert validator("RegisterRequest").is_valid(body) is valid


@pytest.mark.parametrize(
    ("amount", "valid"),
    [
        ("0.01", True),
        ("250", True),
        ("250.5", True),
        (format_paise(MAX_TRANSFER_PAISE), True),
        (250.25, True),
        (MAX_TRANSFER_PAISE // 100, True),
        ("0", False),
        ("0.00", False),
        ("0250.00", False),
        (" 250.00", False),
        ("250.001", False),
        ("1e3", False),
        (format_paise(MAX_TRANSFER_PAISE + 1), False),
        (0, False),
        (250.001, False),
        (MAX_TRANSFER_PAISE // 100 + 0.01, False),
    ],
)
def test_the_transfer_schema_states_the_amounts_limits_and_form(amount: Any, valid: bool) -> None:
    body = {"receiver_email": "ravi@example.in", "amount": amount}
    assert validator("TransferRequest").is_valid(body) is valid


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"password": "correct horse"}, True),
        ({"totp": "123456"}, True),
        ({"recovery_code": "k7qm-3xva-w9fe"}, True),
        ({"password": None, "totp": "123456"}, True),
        ({}, False),
        ({"password": None}, False),
        ({"password": "correct horse", "totp": "123456"}, False),
    ],
)
def test_the_step_up_schema_says_exactly_one_proof(body: dict[str, Any], valid: bool) -> None:
    from pydantic import ValidationError

    from vaultpay.vault.models import StepUpRequest

    assert validator("StepUpRequest").is_valid(body) is valid
    # as the model decides
    try:
        StepUpRequest.model_validate(body)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is valid


def test_the_history_query_states_its_bounds() -> None:
    parameters = {p["name"]: p for p in DOCUMENT_BODY["paths"]["/api/wallet/history/"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["direction"]["schema"]["enum"] == ["sent", "received"]
    assert parameters["cursor"]["schema"]["maxLength"] == 512
    assert re.fullmatch(parameters["cursor"]["schema"]["pattern"], "eyJwIjoiMjAyNi0xMS0zMFQwNjo0MDowMC4wMDAwMDBaIn0")


def test_no_parameter_is_documented_as_null() -> None:
    # A query parameter or a header is absent or a string: never JSON null
    for path, operations in DOCUMENT_BODY["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                assert {"type": "null"} not in parameter["schema"].get("anyOf", ()), f"{method} {path} {parameter['name']}"
