"""Abuse of the login and registration paths, through the local stack: guessing in parallel, locking
someone else out, spraying from one address, flooding the edge, registering as the platform, and
invisible characters; and no caching of any answer."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest
import requests

from local.template import ROOT
from tests.support.api import Api, User, stranger_address
from tests.support.data import registration
from tests.support.stack import RunningStack
from vaultpay.core.settings import LockoutSettings

pytestmark = pytest.mark.stack
PROBLEMS = "https://vaultpay.example/problems/"
OPENAPI = ROOT / "functions" / "health" / "openapi.json"
FREE_FAILURES = int(LockoutSettings.model_fields["login_max_failures"].default)
ADDRESS_MAX_FAILURES = int(LockoutSettings.model_fields["login_address_max_failures"].default)
SHORT_DELAY_SECONDS = 2 * int(LockoutSettings.model_fields["login_delay_base_seconds"].default)
EDGE_REGISTRATIONS_PER_WINDOW = 20  # edge/template.yaml, RegisterPerClient


def problem_code(response: requests.Response) -> str:
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.text
    return str(response.json()["type"]).removeprefix(PROBLEMS)


def login(api: Api, email: str, password: str) -> requests.Response:
    return api.post("/api/users/login/", {"email": email, "password": password})


def streak_count(stack: RunningStack, email: str) -> int:
    item = stack.client("dynamodb").get_item(
        TableName=stack.resource("MainTable"), Key={"PK": {"S": f"LOGIN#{email}"}, "SK": {"S": "FAILURES"}}, ConsistentRead=True
    )
    return int(item.get("Item", {}).get("count", {"N": "0"})["N"])


def items_naming(stack: RunningStack, email: str) -> list[dict[str, Any]]:
    client = stack.client("dynamodb")
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": stack.resource("MainTable"),
        # The system account's own items (its shards, USER#SYSTEM-NN) name system@vaultpay.internal: those are the platform's.
        "FilterExpression": "(email = :email OR PK = :guard) AND NOT begins_with(PK, :system)",
        "ExpressionAttributeValues": {":email": {"S": email}, ":guard": {"S": f"EMAIL#{email}"}, ":system": {"S": "USER#SYSTEM"}},
    }
    while True:
        page = client.scan(**request)
        found.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


SLOW_SECONDS = 180  # twenty requests at once on a shared two-core machine


def warm_up_identity(base_url: str, count: int) -> None:
    """``count`` execution environments of the identity function started (malformed logins, from
    the suite's own addresses): the guesses then run at once, not one cold start after another."""

    def malformed(_: int) -> int:
        client = Api(base_url, timeout=SLOW_SECONDS)
        try:
            return client.post("/api/users/login/", {}).status_code
        finally:
            client.close()

    with ThreadPoolExecutor(count) as pool:
        assert set(pool.map(malformed, range(count))) == {422}


class TestPasswordGuessing:
    def test_twenty_parallel_wrong_passwords_check_at_most_five(self, api: Api, stack: RunningStack) -> None:
        # Given an account, and a stranger at one address with twenty guesses ready
        owner = api.register()
        address = stranger_address()
        warm_up_identity(api.base_url, 20)
        barrier = threading.Barrier(20)

        def guess(index: int) -> requests.Response:
            client = Api(api.base_url, source_address=address, timeout=SLOW_SECONDS)
            barrier.wait()
            try:
                return login(client, owner.email, f"wrong guess {index}")
            finally:
                client.close()

        # When all twenty arrive at once
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(guess, range(20)))
        # Then at most five passwords were checked (each 401), the others refused before any check
        codes = [problem_code(answer) for answer in answers]
        assert codes.count("invalid-credentials") <= FREE_FAILURES
        assert codes.count("too-many-attempts") == 20 - codes.count("invalid-credentials")
        assert all(int(answer.headers["Retry-After"]) > 0 for answer in answers if answer.status_code == 429)
        # And no more than five failures were recorded against the account
        assert streak_count(stack, owner.email) <= FREE_FAILURES

    def test_a_strangers_failures_do_not_keep_the_owner_out(self, api: Api) -> None:
        # Given a stranger who fails at the owner's account from their address, and keeps trying
        owner = api.register()
        stranger = Api(api.base_url, source_address=stranger_address())
        answers = [login(stranger, owner.email, f"guess {index}").status_code for index in range(FREE_FAILURES + 5)]
        assert answers == [401] * FREE_FAILURES + [429] * 5
        # When the owner logs in from their own address, waiting what they are told to, once
        first = login(api, owner.email, owner.password)
        if first.status_code == 429:
            wait = int(first.headers["Retry-After"])
            assert wait <= SHORT_DELAY_SECONDS
            time.sleep(wait)
            first = login(api, owner.email, owner.password)
        # Then they are in
        assert first.status_code == 200, first.text
        # And the stranger's address is still refused at that account, even with the right password
        assert problem_code(login(stranger, owner.email, owner.password)) == "too-many-attempts"

    def test_an_address_spraying_many_accounts_is_refused_and_only_that_address(self, api: Api) -> None:
        # Given a stranger's address that fails at many accounts, a few times each
        stranger = Api(api.base_url, source_address=stranger_address())
        for index in range(ADDRESS_MAX_FAILURES):
            assert login(stranger, f"target-{index % 5}-{uuid.uuid4().hex[:6]}@example.in", "Password123!").status_code == 401
        # When it tries yet another account
        refused = login(stranger, "asha@example.in", "Password123!")
        # Then it is refused, with the time to wait; while the same attempt from elsewhere is checked
        assert refused.status_code == 429
        assert problem_code(refused) == "too-many-attempts"
        assert int(refused.headers["Retry-After"]) > 0
        assert login(api, "asha@example.in", "Password123!").status_code == 401


class TestEdgeLimits:
    def test_registrations_from_one_address_are_limited_at_the_edge(self, api: Api) -> None:
        # Given a stranger's address, sending registrations as fast as it can (bodies that fail validation)
        stranger = Api(api.base_url, source_address=stranger_address())
        statuses = [stranger.post("/api/users/register/", {}).status_code for _ in range(EDGE_REGISTRATIONS_PER_WINDOW)]
        assert statuses == [422] * EDGE_REGISTRATIONS_PER_WINDOW
        # When it sends one more, with or without the trailing slash, in any case
        refused = [stranger.post(path, {}) for path in ("/api/users/register/", "/API/users/register")]
        # Then the gateway refuses it before any function runs: 429 problem+json with Retry-After
        for response in refused:
            assert response.status_code == 429
            assert problem_code(response) == "too-many-requests"
            assert 0 < int(response.headers["Retry-After"]) <= 300
        # And every other address is served
        assert Api(api.base_url, source_address=stranger_address()).post("/api/users/register/", {}).status_code == 422


class TestRegistrationInput:
    @pytest.mark.parametrize("email", ["system@vaultpay.internal", "payouts@vaultpay.internal", "security@vaultpay.example"])
    def test_the_platforms_own_addresses_cannot_be_registered(self, api: Api, stack: RunningStack, email: str) -> None:
        # Given the system account's address, or another of the platform's
        form = registration(email)
        # When someone registers it
        response = api.post("/api/users/register/", form)
        # Then it is refused, and nothing was written: not the address, not the Aadhaar number
        assert response.status_code == 422
        assert problem_code(response) == "email-reserved"
        assert items_naming(stack, email) == []
        assert (
            api.post(
                "/api/users/register/", registration(f"u-{uuid.uuid4().hex[:8]}@example.in", aadhaar=form["aadhaar"])
            ).status_code
            == 201
        )

    @pytest.mark.parametrize("name", ["Ravi\u202egnp.exe", "Ad\u200bmin", "\u2066Asha\u2069"])
    def test_names_with_bidi_or_zero_width_characters_are_refused(self, api: Api, stack: RunningStack, name: str) -> None:
        email = f"u-{uuid.uuid4().hex[:8]}@example.in"
        form = registration(email, full_name=name)
        response = api.post("/api/users/register/", form)
        assert response.status_code == 422
        assert problem_code(response) == "validation-error"
        assert response.json()["errors"][0]["location"] == ["body", "full_name"]
        assert items_naming(stack, email) == []

    @pytest.mark.parametrize("note", ["rent\u202e", "\u200b", "for\u200dyou"])
    def test_notes_with_bidi_or_zero_width_characters_are_refused_and_move_nothing(self, api: Api, note: str) -> None:
        asha, ravi = api.new_user(), api.new_user()
        before = api.balance_paise(asha)
        response = api.transfer(asha, ravi, "10.00", note=note)
        assert response.status_code == 422
        assert problem_code(response) == "validation-error"
        assert api.balance_paise(asha) == before
        assert api.history(asha) == [entry for entry in api.history(asha) if entry["amount"] != "10.00"]


def _calls(api: Api, user: User, other: User) -> dict[tuple[str, str], list[requests.Response]]:
    """One successful call of every route (and the balance's 304), keyed as the OpenAPI document names them."""
    fresh = api.register()
    transfer = api.transfer(user, other, "1.00")
    reference = transfer.json()["reference_id"]
    balance = api.get("/api/wallet/balance/", user)
    to_refresh, to_log_out = login(api, fresh.email, fresh.password).json(), login(api, fresh.email, fresh.password).json()
    to_log_out_everywhere = login(api, fresh.email, fresh.password).json()
    return {
        ("post", "/api/users/register"): [api.post("/api/users/register/", registration(f"u-{uuid.uuid4().hex[:8]}@example.in"))],
        ("post", "/api/users/login"): [login(api, user.email, user.password)],
        ("post", "/api/users/token/refresh"): [api.post("/api/users/token/refresh/", {"refresh": to_refresh["refresh"]})],
        ("post", "/api/users/logout"): [
            api.post(
                "/api/users/logout/",
                {"refresh": to_log_out["refresh"]},
                headers={"Authorization": f"Bearer {to_log_out['access']}"},
            )
        ],
        ("get", "/api/users/profile"): [api.get("/api/users/profile/", user)],
        ("post", "/api/users/profile/aadhaar"): [api.post("/api/users/profile/aadhaar/", {"password": user.password}, user)],
        ("post", "/api/wallet/transfer"): [transfer],
        ("get", "/api/wallet/balance"): [
            balance,
            api.get("/api/wallet/balance/", user, headers={"If-None-Match": balance.headers["ETag"]}),
        ],
        ("get", "/api/wallet/history"): [api.get("/api/wallet/history/", user)],
        ("get", "/api/wallet/transactions/{reference_id}"): [api.get(f"/api/wallet/transactions/{reference}/", user)],
        ("get", "/api/health"): [api.get("/api/health")],
        ("get", "/api/openapi.json"): [api.get("/api/openapi.json")],
        ("get", "/api/wallet/limits"): [api.get("/api/wallet/limits/", user)],
        **_second_factor_calls(api),
        **_lending_calls(api, user, other),
        ("get", "/api/wallet/statements/{month}"): [
            api.get(
                f"/api/wallet/statements/{datetime.now(UTC).strftime('%Y-%m')}/", user, headers={"Accept": "application/json"}
            )
        ],
        ("post", "/api/users/logout/all"): [
            api.post("/api/users/logout/all/", {}, headers={"Authorization": f"Bearer {to_log_out_everywhere['access']}"})
        ],
    }


def _lending_calls(api: Api, borrower: User, lender: User) -> dict[tuple[str, str], list[requests.Response]]:
    """A request funded by one lender and an installment repaid; another request withdrawn."""
    key = {"Idempotency-Key": str(uuid.uuid4())}
    terms = {"amount": "1000.00", "tenure_months": 6, "annual_rate": "12.00", "purpose": "Cache test"}
    requested = api.post("/api/loans/", terms, borrower, headers=key)
    loan_id = requested.json()["id"]
    withdrawn = api.post("/api/loans/", terms, borrower, headers={"Idempotency-Key": str(uuid.uuid4())}).json()["id"]
    committed = api.post(
        f"/api/loans/{loan_id}/commitments/", {"amount": "1000.00"}, lender, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    return {
        ("get", "/api/loans/quote"): [
            api.get("/api/loans/quote/", borrower, params={"amount": "1000", "tenure_months": "6", "annual_rate": "12"})
        ],
        ("post", "/api/loans"): [requested],
        ("get", "/api/loans"): [api.get("/api/loans/", borrower)],
        ("get", "/api/loans/open"): [api.get("/api/loans/open/", lender)],
        ("post", "/api/loans/{loan_id}/commitments"): [committed],
        ("get", "/api/loans/{loan_id}"): [api.get(f"/api/loans/{loan_id}/", lender)],
        ("post", "/api/loans/{loan_id}/repayments"): [
            api.post(f"/api/loans/{loan_id}/repayments/", {}, borrower, headers={"Idempotency-Key": str(uuid.uuid4())})
        ],
        ("post", "/api/loans/{loan_id}/cancel"): [api.post(f"/api/loans/{withdrawn}/cancel/", {}, borrower)],
    }


def _second_factor_calls(api: Api) -> dict[tuple[str, str], list[requests.Response]]:
    """Step-up, then authenticator enrolment with that grant and its confirmation, for a user of their own
    (once enrolled, a password alone no longer steps up)."""
    enrolling = api.new_user()
    step_up = api.post("/api/users/step-up/", {"password": enrolling.password}, enrolling)
    enrol = api.post("/api/users/totp/", {}, enrolling, headers={"X-Step-Up": step_up.json()["grant"]})
    code = pyotp.TOTP(pyotp.parse_uri(enrol.json()["secret_uri"]).secret).now()
    return {
        ("post", "/api/users/step-up"): [step_up],
        ("post", "/api/users/totp"): [enrol],
        ("post", "/api/users/totp/confirm"): [api.post("/api/users/totp/confirm/", {"code": code}, enrolling)],
    }


def test_no_answer_of_any_route_may_be_stored(api: Api) -> None:
    # Given one successful call of every route the API publishes
    user, other = api.new_user(), api.new_user()
    calls = _calls(api, user, other)
    published = {
        (method, path.rstrip("/"))
        for path, operations in json.loads(OPENAPI.read_text())["paths"].items()
        for method in operations
    }
    assert set(calls) - {("get", "/api/openapi.json")} == published, "a route was added: add a call of it here"
    for route, responses in calls.items():
        for response in responses:
            # Then each answered as intended, and forbids every cache to keep it
            assert response.status_code in (200, 201, 204, 304), (route, response.status_code, response.text)
            assert "no-store" in response.headers.get("Cache-Control", ""), (route, response.headers)
    # And the balance still answers 304 to the ETag the dashboard keeps, so polling stays cheap
    assert calls[("get", "/api/wallet/balance")][1].status_code == 304
