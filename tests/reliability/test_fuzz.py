"""API fuzzing with Schemathesis, against the OpenAPI document the API itself publishes.

Every operation gets schema-valid and schema-invalid requests, with a real access token: no
answer may be a 5xx, and every answer must match what the document promises (status codes,
content types, bodies, headers).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.api import Api, User
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack
EXAMPLES_PER_OPERATION_AND_MODE = 25
WITHOUT_INPUT = {"GET /api/health", "GET /api/users/profile/"}  # nothing to make invalid


@pytest.fixture(scope="module")
def fuzz_user(stack: RunningStack) -> User:
    api = Api(stack.url)
    user = api.new_user()
    api.transfer(user, api.new_user(), "1.00")
    return user


@pytest.fixture(scope="module")
def operations(stack: RunningStack) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{stack.url}/api/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # an Err raises


def call(case: Any, stack: RunningStack, user: User) -> None:
    headers = {"Authorization": f"Bearer {user.access}"}
    if not any(name.lower() == "idempotency-key" for name in (case.headers or {})):
        headers["Idempotency-Key"] = str(uuid.uuid4())
    # positive_data_acceptance expects every schema-valid request to succeed, but a schema cannot
    # say that a receiver must exist or a password be right: those 4xx answers are correct.
    case.call_and_validate(base_url=stack.url, headers=headers, excluded_checks=[positive_data_acceptance])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_fails_or_breaks_its_contract(
    operations: list[Any], stack: RunningStack, fuzz_user: User, mode: GenerationMode
) -> None:
    assert len(operations) == 11
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and operation.label in WITHOUT_INPUT:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION_AND_MODE, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def fuzz(case: Any) -> None:
            call(case, stack, fuzz_user)

        fuzz()
