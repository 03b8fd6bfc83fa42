"""Revocation that bites, through the local gateway with the template's caches (ReauthorizeEvery
30 s, the authorizer's session cache 15 s): logout, refresh-token reuse, "log out everywhere" and
the end of a session's absolute lifetime refuse its access tokens within 60 seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from tests.support.api import Api, User
from tests.support.stack import RunningStack
from tests.support.tokens import session_of

pytestmark = pytest.mark.stack

REVOCATION_BOUND_SECONDS = 60
BALANCE = "/api/wallet/balance/"


def refused_after(url: str, user: User, since: float) -> float:
    """Seconds from ``since`` until the gateway refuses the user's access token (polled each second)."""
    api = Api(url)
    try:
        while time.monotonic() - since <= REVOCATION_BOUND_SECONDS + 5:
            status = api.get(BALANCE, user).status_code
            if status == 401:
                return time.monotonic() - since
            assert status == 200, status
            time.sleep(1)
        return float("inf")
    finally:
        api.close()


def in_use(api: Api, *users: User) -> None:
    """Each token used once: the gateway's and the authorizer's caches now hold a live session."""
    for user in users:
        assert api.get(BALANCE, user).status_code == 200


def test_revoked_sessions_are_refused_within_60_seconds_through_the_gateway(api: Api, stack: RunningStack) -> None:
    # Given live sessions whose access tokens are in use (authorizer caches warm):
    logged_out = api.new_user()  # one that will log out
    thief_target = api.new_user()  # one whose spent refresh token a thief will replay
    rotated = replace(thief_target)
    tokens = api.post("/api/users/token/refresh/", {"refresh": thief_target.refresh}).json()
    rotated.access, rotated.refresh = tokens["access"], tokens["refresh"]
    laptop = api.new_user()  # one with two sessions that logs out everywhere
    phone = api.login(replace(laptop))
    ended = api.new_user()  # one whose 30 days are over
    bystander = api.new_user()  # and someone else, who does nothing
    in_use(api, logged_out, rotated, laptop, phone, ended, bystander)

    # When each is revoked or ended
    revoked_at = time.monotonic()
    assert api.post("/api/users/logout/", {"refresh": logged_out.refresh}, user=logged_out).status_code == 204
    assert api.post("/api/users/token/refresh/", {"refresh": thief_target.refresh}).status_code == 401  # the replay
    assert api.post("/api/users/logout/all/", user=laptop).status_code == 204
    stack.client("dynamodb").update_item(
        TableName=stack.resource("MainTable"),
        Key={"PK": {"S": f"FAMILY#{session_of(ended.access)}"}, "SK": {"S": "FAMILY"}},
        UpdateExpression="SET ends_at = :now",
        ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
    )

    # Then every one of their access tokens, each still within its 5 minutes, is refused within 60 s
    victims = {"logout": logged_out, "refresh reuse": rotated, "laptop": laptop, "phone": phone, "absolute end": ended}
    poll: Callable[[User], float] = lambda user: refused_after(stack.url, user, revoked_at)  # noqa: E731
    with ThreadPoolExecutor(len(victims)) as pool:
        seconds = dict(zip(victims, pool.map(poll, victims.values()), strict=True))
    assert all(elapsed <= REVOCATION_BOUND_SECONDS for elapsed in seconds.values()), seconds
    # And their refresh tokens are dead at once, while the bystander's session lives on
    for user in (logged_out, rotated, laptop, phone, ended):
        assert api.post("/api/users/token/refresh/", {"refresh": user.refresh}).status_code == 401
    assert api.get(BALANCE, bystander).status_code == 200
    assert api.post("/api/users/token/refresh/", {"refresh": bystander.refresh}).status_code == 200


def test_token_and_profile_responses_are_not_stored(api: Api) -> None:
    # Given a login, a refresh and a profile read through the gateway
    user = api.new_user()
    login = api.post("/api/users/login/", {"email": user.email, "password": user.password})
    refresh = api.post("/api/users/token/refresh/", {"refresh": login.json()["refresh"]})
    profile = api.get("/api/users/profile/", user)
    # Then none of them may be kept by a browser or a proxy
    for response in (login, refresh, profile):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


def test_logout_everywhere_needs_a_token(api: Api) -> None:
    response = api.post("/api/users/logout/all/")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
