"""Identity: registration, login, lockout, refresh rotation, logout and profile (moto)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handlers.conftest import Invoke, body, table_snapshot
from tests.support.data import PASSWORD, make_aadhaar, registration
from tests.support.events import http_event


def register(identity: Invoke, email: str, **overrides: Any) -> dict[str, Any]:
    response = identity(http_event("POST", "/api/users/register/", body=registration(email, **overrides)))
    assert response["statusCode"] == 201, response
    user: dict[str, Any] = body(response)
    return user


def login(identity: Invoke, email: str, password: str = PASSWORD) -> dict[str, Any]:
    return identity(http_event("POST", "/api/users/login/", body={"email": email, "password": password}))


class TestRegister:
    def test_register_returns_the_profile_with_the_welcome_credit(self, identity: Invoke) -> None:
        # Given a new person
        form = registration("Asha.Verma@Example.COM", aadhaar="2341 2341 2346")
        # When they register
        response = identity(http_event("POST", "/api/users/register/", body=form))
        # Then the account exists, e-mail normalized, Aadhaar masked, Rs 10,000 credited
        assert response["statusCode"] == 201
        user = body(response)
        assert user["email"] == "asha.verma@example.com"
        assert user["aadhaar_masked"] == "XXXX XXXX 2346"
        assert user["balance"] == "10000.00"
        assert set(user) == {"id", "email", "full_name", "aadhaar_masked", "balance", "created_at"}

    def test_the_path_without_trailing_slash_works_too(self, identity: Invoke) -> None:
        response = identity(http_event("POST", "/api/users/register", body=registration("a@example.com")))
        assert response["statusCode"] == 201

    @pytest.mark.parametrize("field", ["email", "aadhaar"])
    def test_a_duplicate_email_or_aadhaar_is_409_and_writes_nothing(
        self, identity: Invoke, dynamodb: Any, aws_stack: dict[str, str], field: str
    ) -> None:
        # Given a registered user
        first = registration("first@example.com")
        register(identity, first["email"], aadhaar=first["aadhaar"])
        before = table_snapshot(dynamodb, aws_stack)
        # When someone registers with the same e-mail (any case) or the same Aadhaar
        second = registration("second@example.com")
        second[field] = first[field].upper() if field == "email" else first[field]
        response = identity(http_event("POST", "/api/users/register/", body=second))
        # Then it is a 409 problem and no table changed
        assert response["statusCode"] == 409
        assert response["headers"]["Content-Type"] == "application/problem+json"
        assert body(response)["type"].endswith("email-taken" if field == "email" else "aadhaar-taken")
        assert table_snapshot(dynamodb, aws_stack) == before

    @pytest.mark.parametrize(
        ("change", "status"),
        [
            ({"email": "not-an-email"}, 422),
            ({"aadhaar": "234123412347"}, 422),  # bad check digit
            ({"aadhaar": "123412341234"}, 422),  # starts with 1
            ({"aadhaar": "23412341234"}, 422),  # 11 digits
            ({"password": "short"}, 422),
            ({"password": "password1234"}, 422),  # common
            ({"full_name": ""}, 422),
            ({"full_name": 42}, 422),
            ({"balance": "99999.00"}, 422),  # mass assignment
            ({"is_admin": True}, 422),
        ],
    )
    def test_bad_input_is_a_4xx_problem_and_writes_nothing(
        self, identity: Invoke, dynamodb: Any, aws_stack: dict[str, str], change: dict[str, Any], status: int
    ) -> None:
        before = table_snapshot(dynamodb, aws_stack)
        response = identity(http_event("POST", "/api/users/register/", body={**registration("x@example.com"), **change}))
        assert response["statusCode"] == status
        assert response["headers"]["Content-Type"] == "application/problem+json"
        assert table_snapshot(dynamodb, aws_stack) == before

    @pytest.mark.parametrize(
        ("raw", "status"),
        [
            ("{not json", 400),
            ('{"email": "a@b.co", "email": "c@d.co"}', 400),  # duplicate keys
            ("[" * 100_000 + "]" * 100_000, 413),
            ("[" * 5000 + "]" * 5000, 400),  # nested beyond the parser's depth
            ('{"email": NaN}', 400),
            ("", 422),
        ],
    )
    def test_malformed_bodies_are_4xx_problems(self, identity: Invoke, raw: str, status: int) -> None:
        response = identity(http_event("POST", "/api/users/register/", raw_body=raw))
        assert response["statusCode"] == status
        assert response["headers"]["Content-Type"] == "application/problem+json"

    @pytest.mark.parametrize("missing", ["email", "password", "full_name", "aadhaar"])
    def test_a_missing_field_is_a_422_naming_it_and_writes_nothing(
        self, identity: Invoke, dynamodb: Any, aws_stack: dict[str, str], missing: str
    ) -> None:
        before = table_snapshot(dynamodb, aws_stack)
        form = {name: value for name, value in registration("x@example.com").items() if name != missing}
        response = identity(http_event("POST", "/api/users/register/", body=form))
        assert response["statusCode"] == 422
        assert [error["location"] for error in body(response)["errors"]] == [["body", missing]]
        assert table_snapshot(dynamodb, aws_stack) == before

    @pytest.mark.parametrize(("raw", "status"), [("{not json", 400), ('{"email": "a@b.co", "email": "c@d.co"}', 400)])
    def test_a_malformed_body_writes_nothing(
        self, identity: Invoke, dynamodb: Any, aws_stack: dict[str, str], raw: str, status: int
    ) -> None:
        before = table_snapshot(dynamodb, aws_stack)
        assert identity(http_event("POST", "/api/users/register/", raw_body=raw))["statusCode"] == status
        assert table_snapshot(dynamodb, aws_stack) == before

    def test_validation_errors_never_echo_the_input(self, identity: Invoke) -> None:
        form = registration("x@example.com", aadhaar="234123412347")
        response = identity(http_event("POST", "/api/users/register/", body={**form, "password": "hunter2"}))
        assert "234123412347" not in response["body"]
        assert "hunter2" not in response["body"]


class TestLogin:
    def test_login_returns_access_and_refresh_tokens(self, identity: Invoke) -> None:
        register(identity, "asha@example.com")
        response = login(identity, "ASHA@example.com")
        assert response["statusCode"] == 200
        tokens = body(response)
        assert set(tokens) == {"access", "refresh", "expires_in"}
        assert tokens["expires_in"] == 300

    def test_token_responses_are_never_stored_by_a_browser_or_proxy(self, identity: Invoke) -> None:
        # Given a login and a refresh
        register(identity, "asha@example.com")
        logged_in = login(identity, "asha@example.com")
        refreshed = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": body(logged_in)["refresh"]}))
        # Then both answers carry tokens and say no-store
        for response in (logged_in, refreshed):
            assert response["statusCode"] == 200
            assert response["headers"]["Cache-Control"] == "no-store"

    def test_unknown_email_and_wrong_password_answer_alike(self, identity: Invoke) -> None:
        register(identity, "asha@example.com")
        wrong_password = login(identity, "asha@example.com", "not the password")
        unknown_email = login(identity, "nobody@example.com", "not the password")
        assert wrong_password["statusCode"] == unknown_email["statusCode"] == 401
        assert body(wrong_password) == body(unknown_email)

    def test_five_failures_lock_the_account_with_retry_after(self, identity: Invoke) -> None:
        # Given five failed logins
        register(identity, "asha@example.com")
        for _ in range(5):
            assert login(identity, "asha@example.com", "wrong password!")["statusCode"] == 401
        # When the right password is tried
        response = login(identity, "asha@example.com")
        # Then the account is locked for a while
        assert response["statusCode"] == 429
        assert 0 < int(response["headers"]["Retry-After"]) <= 900

    def test_unknown_addresses_lock_too_so_lockout_enumerates_no_one(self, identity: Invoke) -> None:
        for _ in range(5):
            login(identity, "ghost@example.com", "wrong password!")
        assert login(identity, "ghost@example.com", "wrong password!")["statusCode"] == 429


class TestRefreshTokens:
    def test_refresh_rotates_and_the_old_token_is_spent(self, identity: Invoke) -> None:
        register(identity, "asha@example.com")
        first = body(login(identity, "asha@example.com"))
        rotated = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": first["refresh"]}))
        assert rotated["statusCode"] == 200
        assert body(rotated)["refresh"] != first["refresh"]

    def test_reusing_a_spent_token_revokes_the_whole_family(self, identity: Invoke) -> None:
        # Given a session rotated once
        register(identity, "asha@example.com")
        first = body(login(identity, "asha@example.com"))
        second = body(identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": first["refresh"]})))
        # When the spent token is presented again (a thief replaying it)
        replay = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": first["refresh"]}))
        # Then it is refused, and so is the newest token of that family
        assert replay["statusCode"] == 401
        latest = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": second["refresh"]}))
        assert latest["statusCode"] == 401

    def test_an_unknown_refresh_token_is_401(self, identity: Invoke) -> None:
        response = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": "made-up"}))
        assert response["statusCode"] == 401

    def test_logout_revokes_the_session(self, identity: Invoke) -> None:
        user = register(identity, "asha@example.com")
        tokens = body(login(identity, "asha@example.com"))
        response = identity(http_event("POST", "/api/users/logout/", body={"refresh": tokens["refresh"]}, user_id=user["id"]))
        assert response["statusCode"] == 204
        refresh = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": tokens["refresh"]}))
        assert refresh["statusCode"] == 401

    def test_logout_cannot_revoke_someone_elses_session(self, identity: Invoke) -> None:
        register(identity, "asha@example.com")
        mallory = register(identity, "mallory@example.com")
        tokens = body(login(identity, "asha@example.com"))
        identity(http_event("POST", "/api/users/logout/", body={"refresh": tokens["refresh"]}, user_id=mallory["id"]))
        refresh = identity(http_event("POST", "/api/users/token/refresh/", body={"refresh": tokens["refresh"]}))
        assert refresh["statusCode"] == 200


class TestProfile:
    def test_profile_is_the_callers_own_with_aadhaar_masked(self, identity: Invoke) -> None:
        aadhaar = make_aadhaar()
        user = register(identity, "asha@example.com", aadhaar=aadhaar)
        response = identity(http_event("GET", "/api/users/profile/", user_id=user["id"]))
        assert response["statusCode"] == 200
        profile = body(response)
        assert profile["aadhaar_masked"] == f"XXXX XXXX {aadhaar[-4:]}"
        assert aadhaar not in response["body"]
        assert set(profile) == {"id", "email", "full_name", "aadhaar_masked", "created_at"}
        assert response["headers"]["Cache-Control"] == "no-store"

    def test_profile_without_an_authorizer_context_is_401(self, identity: Invoke) -> None:
        assert identity(http_event("GET", "/api/users/profile/"))["statusCode"] == 401

    def test_a_user_id_in_the_query_is_not_trusted(self, identity: Invoke) -> None:
        # Given a registered user, and a request without an authenticated user naming her in the query
        user = register(identity, "asha@example.com")
        response = identity(http_event("GET", "/api/users/profile/", query={"user_id": user["id"]}))
        # Then the query is ignored (as API Gateway passes unknown parameters on): unauthenticated, nothing shown
        assert response["statusCode"] == 401
        assert user["id"] not in response["body"]


def test_a_form_encoded_body_is_415_not_a_guess(identity: Invoke) -> None:
    response = identity(
        http_event(
            "POST",
            "/api/users/login/",
            raw_body="email=a%40b.co&password=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )
    assert response["statusCode"] == 415
    assert response["headers"]["Content-Type"] == "application/problem+json"
