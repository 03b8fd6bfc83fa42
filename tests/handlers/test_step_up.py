"""Step-up and the daily limit through the handlers, against moto: a large transfer without a
grant writes nothing, a grant serves only its own session and only once, a TOTP code and a
recovery code work once, the authorizer hands the session on."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.handlers.conftest import Invoke, body, table_snapshot
from tests.support.data import PASSWORD, registration
from tests.support.events import authorizer_event, http_event
from tests.support.totp import authenticator


@pytest.fixture
def people(identity: Invoke, wallet: Invoke) -> dict[str, str]:
    """Asha with Rs 20,000.00 (her welcome credit, and Rs 5,000 each from Ravi and Meera), Ravi and Meera."""
    ids = {}
    for name in ("asha", "ravi", "meera"):
        response = identity(http_event("POST", "/api/users/register/", body=registration(f"{name}@example.com")))
        ids[name] = body(response)["id"]
    for sender, key in (("ravi", "fund-key-0001"), ("meera", "fund-key-0002")):
        funded = wallet(
            http_event(
                "POST",
                "/api/wallet/transfer/",
                body={"receiver_email": "asha@example.com", "amount": "5000.00"},
                headers={"idempotency-key": key},
                user_id=ids[sender],
            )
        )
        assert funded["statusCode"] == 201, funded
    return ids


def step_up(vault: Invoke, user_id: str, session_id: str, proof: dict[str, str]) -> dict[str, Any]:
    return vault(http_event("POST", "/api/users/step-up/", body=proof, user_id=user_id, session_id=session_id))


def large_transfer(
    wallet: Invoke, user_id: str, session_id: str, grant: str | None, key: str = "large-key-0001"
) -> dict[str, Any]:
    headers = {"idempotency-key": key} | ({"x-step-up": grant} if grant else {})
    event = http_event(
        "POST",
        "/api/wallet/transfer/",
        body={"receiver_email": "ravi@example.com", "amount": "15000.00"},
        headers=headers,
        user_id=user_id,
        session_id=session_id,
    )
    return wallet(event)


def test_the_authorizer_hands_the_tokens_session_to_the_functions(identity: Invoke, authorizer: Invoke) -> None:
    identity(http_event("POST", "/api/users/register/", body=registration("asha@example.com")))
    tokens = body(identity(http_event("POST", "/api/users/login/", body={"email": "asha@example.com", "password": PASSWORD})))
    answer = authorizer(authorizer_event(tokens["access"]))
    assert answer["isAuthorized"] is True
    assert set(answer["context"]) == {"user_id", "session_id"}
    assert answer["context"]["session_id"]


def test_a_large_transfer_without_step_up_writes_nothing(
    wallet: Invoke, people: dict[str, str], dynamodb: Any, aws_stack: dict[str, str]
) -> None:
    # Given Asha with Rs 20,000 and a snapshot of every table
    before = table_snapshot(dynamodb, aws_stack)
    # When she sends Rs 15,000 (above the Rs 10,000 threshold) without a grant
    response = large_transfer(wallet, people["asha"], "asha-session", None)
    # Then it is a 403 step-up-required naming the threshold and the proofs, and no table changed
    assert response["statusCode"] == 403, response
    problem = body(response)
    assert problem["type"].endswith("/step-up-required")
    assert (problem["threshold"], problem["methods"]) == ("10000.00", ["password", "totp", "recovery_code"])
    assert response["headers"]["Cache-Control"] == "no-store"
    assert table_snapshot(dynamodb, aws_stack) == before


def test_a_grant_serves_its_own_session_once(
    wallet: Invoke, vault: Invoke, people: dict[str, str], dynamodb: Any, aws_stack: dict[str, str]
) -> None:
    # Given a grant earned with the password in Asha's session A
    granted = step_up(vault, people["asha"], "session-a", {"password": PASSWORD})
    assert granted["statusCode"] == 201
    assert granted["headers"]["Cache-Control"] == "no-store"
    grant = body(granted)["grant"]
    # When a request in another session B (a stolen grant) presents it: refused, nothing written
    before = table_snapshot(dynamodb, aws_stack)
    refused = large_transfer(wallet, people["asha"], "session-b", grant)
    assert refused["statusCode"] == 403
    assert body(refused)["type"].endswith("/step-up-required")
    assert table_snapshot(dynamodb, aws_stack) == before
    # When session A retries with the same key: the money moves, once, and the grant is spent
    sent = large_transfer(wallet, people["asha"], "session-a", grant)
    assert sent["statusCode"] == 201, sent
    again = large_transfer(wallet, people["asha"], "session-a", grant, key="large-key-0002")
    assert again["statusCode"] == 403


def test_the_daily_limit_problem_says_what_remains(
    wallet: Invoke, vault: Invoke, people: dict[str, str], monkeypatch: Any
) -> None:
    # Given a daily limit of Rs 12,000 (the setting), and Rs 10,000 already sent by Ravi today
    monkeypatch.setenv("DAILY_LIMIT_PAISE", "1200000")
    from vaultpay.core import settings
    from vaultpay.wallet import composition

    settings.get_wallet_settings.cache_clear()
    composition.wallet_service.cache_clear()
    composition.idempotent_transfer.cache_clear()
    limits = body(wallet(http_event("GET", "/api/wallet/limits/", user_id=people["ravi"])))
    assert (limits["daily_limit"], limits["sent_today"], limits["remaining_today"]) == ("12000.00", "5000.00", "7000.00")
    # When Asha sends Rs 15,000 with a valid grant
    grant = body(step_up(vault, people["asha"], "session-a", {"password": PASSWORD}))["grant"]
    refused = large_transfer(wallet, people["asha"], "session-a", grant)
    # Then it is refused with what remains (all of it: she has sent nothing) and when the day ends
    assert refused["statusCode"] == 422, refused
    problem = body(refused)
    assert problem["type"].endswith("/daily-limit-exceeded")
    assert (problem["limit"], problem["remaining"]) == ("12000.00", "12000.00")
    assert problem["resets_at"].endswith("T18:30:00.000000Z")


def test_a_totp_code_and_a_recovery_code_each_work_once(vault: Invoke, people: dict[str, str]) -> None:
    asha = people["asha"]
    # Given Asha enrolled an authenticator (enrolment itself needs a password grant)
    grant = body(step_up(vault, asha, "s", {"password": PASSWORD}))["grant"]
    no_grant = vault(http_event("POST", "/api/users/totp/", user_id=asha, session_id="s"))
    assert no_grant["statusCode"] == 403
    begun = vault(http_event("POST", "/api/users/totp/", headers={"x-step-up": grant}, user_id=asha, session_id="s"))
    assert begun["statusCode"] == 201, begun
    assert begun["headers"]["Cache-Control"] == "no-store"
    enrolment = body(begun)
    assert enrolment["qr_svg"].lstrip().startswith("<svg")
    totp = authenticator(enrolment["secret_uri"])
    confirmed = vault(http_event("POST", "/api/users/totp/confirm/", body={"code": totp.now()}, user_id=asha))
    assert body(confirmed) == {"enabled": True, "recovery_codes_left": 10}
    # The password alone no longer steps up
    assert body(step_up(vault, asha, "s", {"password": PASSWORD}))["methods"] == ["totp", "recovery_code"]
    # A code of the next step works once; the same code again is refused
    code = totp.at(time.time() + 30)
    assert step_up(vault, asha, "s", {"totp": code})["statusCode"] == 201
    replay = step_up(vault, asha, "s", {"totp": code})
    assert replay["statusCode"] == 403
    assert body(replay)["type"].endswith("/code-incorrect")
    # A recovery code works once
    recovery = enrolment["recovery_codes"][3]
    assert step_up(vault, asha, "s", {"recovery_code": recovery})["statusCode"] == 201
    assert step_up(vault, asha, "s", {"recovery_code": recovery})["statusCode"] == 403


def test_the_reveal_takes_a_grant_or_the_password(vault: Invoke, people: dict[str, str]) -> None:
    asha = people["asha"]
    by_password = vault(http_event("POST", "/api/users/profile/aadhaar/", body={"password": PASSWORD}, user_id=asha))
    assert by_password["statusCode"] == 200
    grant = body(step_up(vault, asha, "s", {"password": PASSWORD}))["grant"]
    event = http_event("POST", "/api/users/profile/aadhaar/", body={}, headers={"x-step-up": grant}, user_id=asha, session_id="s")
    assert vault(event)["statusCode"] == 200
    assert vault(event)["statusCode"] == 403  # spent
    assert vault(http_event("POST", "/api/users/profile/aadhaar/", body={}, user_id=asha))["statusCode"] == 403
