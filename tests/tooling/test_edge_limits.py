"""The edge's per-client limits: the WAF rules of edge/template.yaml, as the local gateway applies them."""

from __future__ import annotations

import ipaddress

import pytest

from local.edge import ClientLimiter, load_rate_rules

RULES = {rule.name: rule for rule in load_rate_rules()}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # a multiple of 300: a window starts here

    def __call__(self) -> float:
        return self.now


def test_password_and_registration_routes_are_limited_more_strictly_than_the_rest() -> None:
    general = RULES["ApiPerClient"].limit
    for name, path in (
        ("LoginPerClient", "/api/users/login/"),
        ("RegisterPerClient", "/api/users/register"),
        ("RevealPerClient", "/api/users/profile/aadhaar/"),
    ):
        assert RULES[name].matches(path)
        assert RULES[name].limit < general / 10
        assert RULES[name].limit >= 10  # WAF's lowest rate limit
        assert RULES[name].window_seconds in (60, 120, 300, 600)


@pytest.mark.parametrize(
    "path", ["/API/users/register/", "/api//users/register", "/api/users/%72egister/", "/api/./users/register"]
)
def test_a_rule_sees_through_case_encoding_and_path_tricks(path: str) -> None:
    assert RULES["RegisterPerClient"].matches(path)


def test_a_client_gets_the_limit_per_window_then_waits_for_the_next_one() -> None:
    # Given the registration limit, from one address
    clock = Clock()
    limiter = ClientLimiter(list(RULES.values()), clock=clock)
    limit = RULES["RegisterPerClient"].limit
    assert all(limiter.admit("198.51.100.7", "/api/users/register/") is None for _ in range(limit))
    # When it sends one more, 100 s into the window
    clock.now += 100
    # Then it is refused until the window ends, while another address and another route pass
    assert limiter.admit("198.51.100.7", "/api/users/register/") == ("RegisterPerClient", 200)
    assert limiter.admit("198.51.100.8", "/api/users/register/") is None
    assert limiter.admit("198.51.100.7", "/api/wallet/balance/") is None
    clock.now += 200
    assert limiter.admit("198.51.100.7", "/api/users/register/") is None


def test_trusted_networks_are_never_limited() -> None:
    limiter = ClientLimiter(list(RULES.values()), trusted=(ipaddress.ip_network("127.0.0.0/9"),))
    assert all(limiter.admit("127.0.0.1", "/api/users/profile/aadhaar/") is None for _ in range(100))
    assert any(limiter.admit("127.200.0.1", "/api/users/profile/aadhaar/") is not None for _ in range(100))
