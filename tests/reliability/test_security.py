"""OWASP API Security checks against the running stack: broken object-level authorization,
token tampering, session revocation, brute force and enumeration, mass assignment, hostile
bodies, and the Aadhaar number never leaking."""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import time
import uuid
from typing import Any

import jwt
import pytest

from local.template import ROOT
from tests.support.api import Api, User
from tests.support.data import make_aadhaar
from tests.support.stack import RunningStack
from tests.support.tokens import Minter, b64url, kms_minter, local_minter, session_of
from tools.reconcile import scan
from vaultpay.core.settings import LockoutSettings

pytestmark = pytest.mark.stack
OPENAPI = ROOT / "functions" / "health" / "openapi.json"
# The identity function's failure limit (the template leaves it at the settings' default).
MAX_LOGIN_FAILURES = int(LockoutSettings.model_fields["login_max_failures"].default)


def json_routes(document: dict[str, Any]) -> list[tuple[str, bool]]:
    """Every operation that takes a JSON body, and whether it needs a token."""
    return sorted(
        (path, bool(operation.get("security")))
        for path, operations in document["paths"].items()
        for operation in operations.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    )


JSON_ROUTES = json_routes(json.loads(OPENAPI.read_text()))
HOSTILE_BODIES: dict[str, tuple[bytes, int]] = {
    "oversized-array": (b"[" * 50_000 + b"]" * 50_000, 413),
    "oversized-field": (b'{"email": "x@example.com", "password": "' + b"p" * 20_000 + b'"}', 413),
    "deeply-nested": (b'{"a":' * 2000 + b"1" + b"}" * 2000, 400),
    "duplicate-keys": (
        b'{"email": "a@example.com", "email": "b@example.com", "password": "long enough pass", "password": "x",'
        b' "refresh": "x", "refresh": "y", "receiver_email": "a@example.com", "receiver_email": "b@example.com",'
        b' "amount": "1.00", "amount": "9999.00"}',
        400,
    ),
    "not-utf8": (b"\xff\xfe garbage", 400),
}


@pytest.fixture(scope="module")
def hostile_user(stack: RunningStack) -> User:
    return Api(stack.url).new_user()


@pytest.fixture
def genuine_minter(stack: RunningStack) -> Minter:
    """Signs as the identity function does: the stack's token key, in (local) KMS."""
    return kms_minter(stack.client("kms"), stack.resource("TokenSigningKey"))


def claims(user: User, now: int | None = None, **changes: Any) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    base = {
        "iss": "vaultpay-local",
        "aud": "vaultpay-api",
        "sub": user.id,
        "sid": session_of(user.access) if user.access else "session-1",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "token_use": "access",
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


class TestBrokenObjectLevelAuthorization:
    def test_another_users_transaction_is_not_found(self, api: Api) -> None:
        asha, ravi, mallory = api.new_user(), api.new_user(), api.new_user()
        reference = api.transfer(asha, ravi, "1.00").json()["reference_id"]
        nowhere = api.get(f"/api/wallet/transactions/{uuid.uuid4()}/", mallory)
        for path in (f"/api/wallet/transactions/{reference}/", f"/api/wallet/transactions/{reference}"):
            # Both parties read it, so the transaction is there to be found
            for owner in (asha, ravi):
                mine = api.get(path, owner)
                assert mine.status_code == 200, mine.text
                assert mine.json()["reference_id"] == reference
            # And to anyone else it is exactly as absent as a reference that never existed
            theirs = api.get(path, mallory)
            assert theirs.status_code == nowhere.status_code == 404
            assert theirs.json() | {"instance": None} == nowhere.json() | {"instance": None}
            assert reference not in theirs.text.replace(path, "")

    def test_another_users_cursor_reads_only_your_own_history(self, api: Api) -> None:
        asha, ravi, mallory = api.new_user(), api.new_user(), api.new_user()
        for _ in range(3):
            api.transfer(asha, ravi, "1.00")
        cursor = api.get("/api/wallet/history/", asha, params={"limit": "1"}).json()["next_cursor"]
        page = api.get("/api/wallet/history/", mallory, params={"cursor": cursor}).json()
        asha_references = {entry["reference_id"] for entry in api.history(asha)}
        assert not {entry["reference_id"] for entry in page["results"]} & asha_references

    def test_a_forged_cursor_is_refused(self, api: Api) -> None:
        user = api.new_user()
        forged = "eyJwIjoiVVNFUiNzb21lb25lLWVsc2UiLCJkIjoiYWxsIn0"  # {"p":"USER#someone-else","d":"all"}
        assert api.get("/api/wallet/history/", user, params={"cursor": forged}).status_code == 400

    def test_the_user_id_is_never_taken_from_the_request(self, api: Api) -> None:
        asha, mallory = api.new_user(), api.new_user()
        spoofed_query = api.get("/api/users/profile/", mallory, params={"user_id": asha.id})
        assert spoofed_query.status_code == 200  # an unknown query parameter is ignored, as API Gateway does
        assert spoofed_query.json()["id"] == mallory.id
        assert asha.email not in spoofed_query.text
        assert api.get("/api/users/profile/", mallory).json()["id"] == mallory.id
        spoofed = api.post(
            "/api/wallet/transfer/",
            {"receiver_email": mallory.email, "amount": "1.00", "sender_id": asha.id},
            user=mallory,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert spoofed.status_code == 422
        assert api.balance_paise(asha) == 1_000_000

    def test_logout_with_someone_elses_refresh_token_revokes_nothing(self, api: Api) -> None:
        asha, mallory = api.new_user(), api.new_user()
        assert api.post("/api/users/logout/", {"refresh": asha.refresh}, user=mallory).status_code == 204
        assert api.post("/api/users/token/refresh/", {"refresh": asha.refresh}).status_code == 200


def genuine(user: User, minter: Minter, now: int) -> str:
    return minter.token(claims(user, now))


def hs256(secret: bytes | str) -> Any:
    return lambda user, minter, now: jwt.encode(claims(user, now), secret, algorithm="HS256", headers={"kid": minter.kid})


def hs256_keyed_with_the_public_key(user: User, minter: Minter, now: int) -> str:
    """Algorithm confusion: an HMAC whose key is the (public) verification key (PyJWT itself refuses to make one)."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": minter.kid}).encode())
    signing_input = f"{header}.{b64url(json.dumps(claims(user, now)).encode())}"
    return f"{signing_input}.{b64url(hmac.new(minter.public_key, signing_input.encode(), hashlib.sha256).digest())}"


# Each forgery changes exactly one thing from the genuine token (checked below).
FORGERIES: dict[str, Any] = {
    "alg-none": lambda user, minter, now: jwt.encode(claims(user, now), key="", algorithm="none", headers={"kid": minter.kid}),
    "hs256-with-a-secret": hs256("the-old-shared-hs256-secret-" * 2),
    "hs256-keyed-with-the-public-key": hs256_keyed_with_the_public_key,
    "another-ecc-key": lambda user, minter, now: local_minter(minter.kid).token(claims(user, now)),
    "no-kid": lambda user, minter, now: local_minter(minter.kid).token(claims(user, now), kid=None),
    "unknown-kid": lambda user, minter, now: local_minter("d9d7f5a4-0000-4000-8000-000000000000").token(claims(user, now)),
    "expired": lambda user, minter, now: minter.token(claims(user, now, exp=now - 5)),
    "wrong-audience": lambda user, minter, now: minter.token(claims(user, now, aud="someone-else")),
    "wrong-issuer": lambda user, minter, now: minter.token(claims(user, now, iss="evil")),
    "no-subject": lambda user, minter, now: minter.token(claims(user, now, sub=None)),
    "no-session": lambda user, minter, now: minter.token(claims(user, now, sid=None)),
    "unknown-session": lambda user, minter, now: minter.token(claims(user, now, sid=str(uuid.uuid4()))),
    "refresh-token": lambda user, minter, now: minter.token(claims(user, now, token_use="refresh")),
    "id-token": lambda user, minter, now: minter.token(claims(user, now, token_use="id")),
}


def differences(token: str, reference: str) -> set[str]:
    """What differs between two tokens: header fields, claims, or (when neither) the signing key."""
    header, reference_header = jwt.get_unverified_header(token), jwt.get_unverified_header(reference)
    payload = jwt.decode(token, options={"verify_signature": False})
    reference_payload = jwt.decode(reference, options={"verify_signature": False})
    changed = {
        f"header.{name}" for name in header.keys() | reference_header.keys() if header.get(name) != reference_header.get(name)
    }
    changed |= {name for name in payload.keys() | reference_payload.keys() if payload.get(name) != reference_payload.get(name)}
    if not changed and token != reference:
        changed.add("signature")
    return changed


class TestTokenTampering:
    @pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
    def test_a_forged_or_stale_token_is_401(self, api: Api, genuine_minter: Minter, forge: Any) -> None:
        # Given a live session, and a token that differs from a genuine one of it in one way
        user = api.new_user()
        now = int(time.time())
        token = forge(user, genuine_minter, now)
        assert len(differences(token, genuine(user, genuine_minter, now))) == 1  # one change at a time
        # Then the gateway refuses it
        response = api.get("/api/wallet/balance/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    def test_each_forgery_changes_exactly_one_thing(self) -> None:
        user = User(id="u-1", email="u@example.com", password="-", aadhaar="-")
        minter, now = local_minter("the-token-key"), 1_800_000_000
        changed = {name: differences(forge(user, minter, now), genuine(user, minter, now)) for name, forge in FORGERIES.items()}
        assert changed.pop("unknown-session") == {"sid"}
        assert changed == {
            "alg-none": {"header.alg"},
            "hs256-with-a-secret": {"header.alg"},
            "hs256-keyed-with-the-public-key": {"header.alg"},
            "another-ecc-key": {"signature"},
            "no-kid": {"header.kid"},
            "unknown-kid": {"header.kid"},
            "expired": {"exp"},
            "wrong-audience": {"aud"},
            "wrong-issuer": {"iss"},
            "no-subject": {"sub"},
            "no-session": {"sid"},
            "refresh-token": {"token_use"},
            "id-token": {"token_use"},
        }

    def test_a_token_with_its_payload_edited_is_401(self, api: Api) -> None:
        asha, mallory = api.new_user(), api.new_user()
        header, _, signature = mallory.access.split(".")
        payload = jwt.utils.base64url_encode(
            jwt.utils.base64url_decode(mallory.access.split(".")[1]).replace(mallory.id.encode(), asha.id.encode())
        ).decode()
        response = api.get("/api/wallet/balance/", headers={"Authorization": f"Bearer {header}.{payload}.{signature}"})
        assert response.status_code == 401

    def test_the_genuine_token_works(self, api: Api, genuine_minter: Minter) -> None:
        user = api.new_user()
        token = genuine(user, genuine_minter, int(time.time()))
        assert api.get("/api/wallet/balance/", headers={"Authorization": f"Bearer {token}"}).status_code == 200


class TestSessions:
    def test_refresh_token_reuse_revokes_the_family(self, api: Api) -> None:
        user = api.new_user()
        first = user.refresh
        second = api.post("/api/users/token/refresh/", {"refresh": first}).json()["refresh"]
        assert api.post("/api/users/token/refresh/", {"refresh": first}).status_code == 401
        assert api.post("/api/users/token/refresh/", {"refresh": second}).status_code == 401


class TestBruteForceAndEnumeration:
    def test_unknown_email_and_wrong_password_are_indistinguishable(self, api: Api) -> None:
        user = api.register()
        unknown = api.post("/api/users/login/", {"email": f"nobody-{uuid.uuid4()}@example.com", "password": "guess-1234"})
        wrong = api.post("/api/users/login/", {"email": user.email, "password": "guess-1234"})
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json() | {"instance": None} == wrong.json() | {"instance": None}

    def test_an_unknown_email_costs_a_password_verification_too(self, api: Api) -> None:
        # Not a speed target: without the dummy argon2 verification an unknown e-mail answers
        # several times faster than a wrong password, which tells an attacker who has an account.
        user = api.register()
        nobody = f"nobody-{uuid.uuid4()}@example.com"

        def seconds(email: str) -> float:
            started = time.perf_counter()
            api.post("/api/users/login/", {"email": email, "password": f"guess-{uuid.uuid4()}"})
            return time.perf_counter() - started

        # Taken in turns (four of each: a fifth failure would lock the account), so that the load
        # the machine is under weighs on both alike.
        turns = [(seconds(user.email), seconds(nobody)) for _ in range(4)]
        known = statistics.median(pair[0] for pair in turns)
        unknown = statistics.median(pair[1] for pair in turns)
        assert unknown > known * 0.5, turns

    def test_repeated_failures_lock_the_account_then_it_answers_429(self, api: Api) -> None:
        user = api.register()
        for _ in range(MAX_LOGIN_FAILURES):
            api.post("/api/users/login/", {"email": user.email, "password": "wrong-password"})
        locked = api.post("/api/users/login/", {"email": user.email, "password": user.password})
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) > 0

    def test_an_unknown_email_locks_exactly_like_a_known_one(self, api: Api) -> None:
        # Given a registered e-mail and one that never was, each failing as often as it takes to lock, and once more
        user = api.register()
        unknown = f"nobody-{uuid.uuid4()}@example.com"

        def attempts(email: str) -> list[tuple[int, dict[str, Any], bool]]:
            answers = []
            for _ in range(MAX_LOGIN_FAILURES + 2):
                response = api.post("/api/users/login/", {"email": email, "password": "wrong-password"})
                answers.append((response.status_code, response.json() | {"instance": None}, "Retry-After" in response.headers))
            return answers

        known, unknown_answers = attempts(user.email), attempts(unknown)
        # Then both lock after the same number of failures, with the same answers: lockout tells no one who has an account
        assert [status for status, _, _ in known] == [401] * MAX_LOGIN_FAILURES + [429, 429]
        assert unknown_answers == known


class TestHostileBodies:
    @pytest.mark.parametrize(
        ("body", "status"),
        [
            (
                {
                    "email": "a@example.com",
                    "password": "long enough pass",
                    "full_name": "A",
                    "aadhaar": make_aadhaar(),
                    "balance": "1e9",
                },
                422,
            ),
            (
                {
                    "email": "a@example.com",
                    "password": "long enough pass",
                    "full_name": "A",
                    "aadhaar": make_aadhaar(),
                    "is_admin": True,
                },
                422,
            ),
        ],
    )
    def test_mass_assignment_is_refused(self, api: Api, body: dict[str, Any], status: int) -> None:
        assert api.post("/api/users/register/", body).status_code == status

    def test_the_published_document_lists_the_same_json_routes(self, api: Api) -> None:
        assert json_routes(api.get("/api/openapi.json").json()) == JSON_ROUTES
        assert len(JSON_ROUTES) >= 6

    @pytest.mark.parametrize(("raw", "status"), HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
    @pytest.mark.parametrize(("path", "authenticated"), JSON_ROUTES, ids=[path for path, _ in JSON_ROUTES])
    def test_hostile_bodies_are_4xx_problems_on_every_json_route(
        self, api: Api, hostile_user: User, path: str, authenticated: bool, raw: bytes, status: int
    ) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        response = api.post(path, data=raw, user=hostile_user if authenticated else None, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
        assert api.balance_paise(hostile_user) == 1_000_000  # and nothing moved


def test_the_aadhaar_number_is_never_in_a_table_a_log_line_or_an_error(api: Api, stack: RunningStack) -> None:
    # Given a registration (typed with spaces), a reveal, a failed duplicate and an invalid number
    aadhaar = make_aadhaar()
    spaced = f"{aadhaar[:4]} {aadhaar[4:8]} {aadhaar[8:]}"
    user = api.login(api.register(aadhaar=spaced))
    bodies = [
        api.post("/api/users/profile/aadhaar/", {"password": user.password}, user=user),
        api.post("/api/users/profile/aadhaar/", {"password": "wrong password"}, user=user),
        api.post(
            "/api/users/register/",
            {"email": "dupe@example.com", "password": "long enough pass", "full_name": "D", "aadhaar": aadhaar},
        ),
        api.post(
            "/api/users/register/",
            {
                "email": "bad@example.com",
                "password": "long enough pass",
                "full_name": "B",
                "aadhaar": aadhaar[:-1] + str((int(aadhaar[-1]) + 1) % 10),
            },
        ),
        api.get("/api/users/profile/", user),
    ]
    assert bodies[0].json()["aadhaar"] == aadhaar  # the owner's reveal is the one place it appears
    # Then no other answer, no table and no log line holds it, in either spelling
    leaked = [response.text for response in bodies[1:] if aadhaar in response.text or spaced in response.text]
    assert leaked == []
    for table in stack.client("dynamodb").list_tables()["TableNames"]:
        dump = repr(scan(stack.client("dynamodb"), table))
        assert aadhaar not in dump, table
        assert spaced not in dump, table
    time.sleep(1)  # let the stream consumer log its batch
    logs = stack.logs()
    assert aadhaar not in logs
    assert spaced not in logs
    assert user.password not in logs
    assert user.refresh not in logs
    assert user.access not in logs
