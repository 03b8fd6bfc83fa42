"""API fuzzing with Schemathesis, against the OpenAPI document the API itself publishes.

Every operation gets schema-valid and schema-invalid requests, with a real access token: no
answer may be a 5xx, and every answer must match what the document promises (status codes,
content types, bodies, headers).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from local.template import ROOT
from tests.reliability.report import record
from tests.reliability.sizes import SIZES
from tests.support.api import Api, User
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.timeout(SIZES.test_timeout_seconds)]
EXAMPLES_PER_OPERATION_AND_MODE = SIZES.fuzz_examples
# Nothing to make invalid: no parameters, or only If-None-Match (any string is valid); the token
# is the harness's, and requests without one are test_security.py's.
WITHOUT_INPUT = {
    "GET /api/health",
    "GET /api/users/profile/",
    "GET /api/wallet/balance/",
    "GET /api/wallet/limits/",
    "POST /api/users/logout/all/",
    "POST /api/users/totp/",
}


OPENAPI_DOCUMENT = ROOT / "functions" / "health" / "openapi.json"


@pytest.fixture(scope="module")
def fuzz_user(stack: RunningStack) -> User:
    api = Api(stack.url)
    user = api.new_user()
    api.transfer(user, api.new_user(), "1.00")
    return user


@pytest.fixture(scope="module")
def operations(stack: RunningStack) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{stack.url}/api/openapi.json")
    # The token is the harness's (call() sends it on every request), not generated data: a
    # negative case must not "drop" Authorization only for call() to put it back, and have a
    # valid request counted as an invalid one that was accepted.
    # Query parameters a route does not take are ignored, as API Gateway ignores them (docs/api.md):
    # one added by the fuzzer does not make a request invalid. (The switch also stops it adding
    # unknown body fields; that those are a 422 is test_security.py's and the unit tests' to show.)
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # an Err raises


@pytest.fixture(scope="module")
def fuzz_client(stack: RunningStack) -> Iterator[Api]:
    """The fuzzer's connections come from an address of their own: the wrong passwords it sends
    count toward that address's login limit, never toward the one the browser tests use."""
    client = Api(stack.url)
    yield client
    client.close()


def call(case: Any, client: Api, user: User, answers: Counter[str]) -> None:
    headers = {"Authorization": f"Bearer {user.access}"}
    if not any(name.lower() == "idempotency-key" for name in (case.headers or {})):
        headers["Idempotency-Key"] = str(uuid.uuid4())
    # positive_data_acceptance expects every schema-valid request to succeed, but a schema cannot
    # say that a receiver must exist or a password be right: those 4xx answers are correct.
    response = case.call_and_validate(
        base_url=client.base_url, session=client.session, headers=headers, excluded_checks=[positive_data_acceptance]
    )
    answers[f"{response.status_code // 100}xx"] += 1


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_fails_or_breaks_its_contract(
    operations: list[Any], fuzz_client: Api, fuzz_user: User, mode: GenerationMode
) -> None:
    # Every operation of the published document is fuzzed (the health function's own document route aside)
    published = json.loads(OPENAPI_DOCUMENT.read_text())["paths"]
    assert len(operations) == sum(len(methods) for methods in published.values())
    answers: Counter[str] = Counter()
    started = time.monotonic()
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and operation.label in WITHOUT_INPUT:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION_AND_MODE, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def fuzz(case: Any) -> None:
            call(case, fuzz_client, fuzz_user, answers)

        fuzz()
    record(
        f"fuzzing, {mode.value} ({time.monotonic() - started:.0f} s, up to {EXAMPLES_PER_OPERATION_AND_MODE} per operation)",
        [f"  requests sent            {sum(answers.values())} ({', '.join(f'{k} {v}' for k, v in sorted(answers.items()))})"],
        answers["5xx"],
    )
    assert answers["5xx"] == 0
