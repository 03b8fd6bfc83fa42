"""Sessions in the browser: the access token refreshed before it expires, a dead session back to login."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import log_in
from tests.support.api import Api
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

REFRESH_KEY = "vaultpay.refresh"
BALANCE = "/api/wallet/balance/"
REFRESH = "/api/users/token/refresh/"
PROBLEM_401 = {
    "type": "https://vaultpay.example/problems/unauthorized",
    "title": "Unauthorized",
    "status": 401,
    "detail": "The access token has expired.",
}


def test_the_access_token_is_refreshed_before_it_expires(page: Page, stack: RunningStack, api: Api) -> None:
    # Given a login whose access token claims to expire in 61 seconds (the page refreshes a minute
    # early, and never sooner than 5 seconds)
    def short_lived(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "expires_in": 61})

    page.route("**/api/users/login/", short_lived)
    bearers: list[str] = []
    page.on(
        "request",
        lambda request: bearers.append(request.headers["authorization"]) if request.url.endswith(BALANCE) else None,
    )
    with page.expect_response(lambda response: response.url.endswith(REFRESH), timeout=15_000) as refreshed:
        log_in(page, stack.url, api.register())
        first_bearer = bearers[0]
        first_refresh_token = page.evaluate(f"sessionStorage.getItem('{REFRESH_KEY}')")
        # When the page is left alone (no request fails)
    # Then it refreshes the session on its own: the refresh token rotates, later polls carry
    # the new access token, and the dashboard stays
    assert refreshed.value.status == 200
    with page.expect_request(lambda request: request.url.endswith(BALANCE), timeout=5_000) as later:
        pass
    assert later.value.headers["authorization"] != first_bearer
    assert page.evaluate(f"sessionStorage.getItem('{REFRESH_KEY}')") not in (None, first_refresh_token)
    expect(page).to_have_url(re.compile("#/dashboard$"))


def test_a_401_on_a_revoked_session_sends_the_user_to_login(page: Page, stack: RunningStack, api: Api) -> None:
    # Given Asha's dashboard
    asha = api.register()
    log_in(page, stack.url, asha)
    refreshes: list[int] = []
    page.on(
        "response",
        lambda response: refreshes.append(response.status) if response.url.endswith(REFRESH) else None,
    )
    # And her session is revoked from another one (her refresh token logged out through the API)
    browser_refresh = page.evaluate(f"sessionStorage.getItem('{REFRESH_KEY}')")
    elsewhere = api.login(asha)
    assert api.post("/api/users/logout/", {"refresh": browser_refresh}, user=elsewhere).status_code == 204
    # When its access token expires: the API answers 401
    page.route("**/api/wallet/**", lambda route: route.fulfill(status=401, json=PROBLEM_401))
    # Then the next poll tries one refresh, which is refused, and the login page shows
    expect(page).to_have_url(re.compile("#/login$"), timeout=10_000)
    expect(page.get_by_role("heading", name="Log in to VaultPay")).to_be_visible()
    assert refreshes == [401]
    assert page.evaluate(f"sessionStorage.getItem('{REFRESH_KEY}')") is None
    # And the pages behind the login stay closed
    page.goto(f"{stack.url}/#/dashboard")
    expect(page).to_have_url(re.compile("#/login$"))


def test_log_out_everywhere_ends_this_session_and_the_others(page: Page, stack: RunningStack, api: Api) -> None:
    # Given Asha logged in in the browser and, elsewhere, through the API
    asha = api.register()
    log_in(page, stack.url, asha)
    elsewhere = api.login(replace(asha))
    # When she logs out everywhere from her profile
    page.get_by_role("link", name="Profile").first.click()
    page.get_by_role("button", name="Log out everywhere").click()
    # Then the browser is back at the login page, and the other session's refresh token is dead
    expect(page).to_have_url(re.compile("#/login$"))
    assert page.evaluate(f"sessionStorage.getItem('{REFRESH_KEY}')") is None
    assert api.post(REFRESH, {"refresh": elsewhere.refresh}).status_code == 401
