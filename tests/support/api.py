"""A small HTTP client for the VaultPay API, for tests that talk to the local stack."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from local.seed import FromAddress
from tests.support.data import PASSWORD, registration


@dataclass
class User:
    id: str
    email: str
    password: str
    aadhaar: str
    access: str = ""
    refresh: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def suite_address() -> str:
    """A fresh loopback address in 127.0.0.0/9, which the test stack trusts (no edge rate limits):
    each client is its own address to the identity function's per-address limits."""
    return f"127.{random.randint(1, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def stranger_address() -> str:
    """A fresh loopback address in 127.128.0.0/9: subject to every per-address limit, the edge's too."""
    return f"127.{random.randint(128, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Api:
    def __init__(self, base_url: str, timeout: float = 90.0, source_address: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.source_address = source_address or suite_address()
        self.session = requests.Session()
        self.session.mount("http://", FromAddress(self.source_address))
        self.timeout = timeout

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, user: User | None = None, **kwargs: Any) -> requests.Response:
        headers = {**(user.auth if user else {}), **kwargs.pop("headers", {})}
        return self.request("GET", path, headers=headers, **kwargs)

    def post(self, path: str, json: Any = None, user: User | None = None, **kwargs: Any) -> requests.Response:
        headers = {**(user.auth if user else {}), **kwargs.pop("headers", {})}
        return self.request("POST", path, json=json, headers=headers, **kwargs)

    # ------------------------------------------------------------ flows
    def register(
        self, email: str | None = None, *, password: str = PASSWORD, full_name: str = "Test User", aadhaar: str | None = None
    ) -> User:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
        form = registration(email, password=password, full_name=full_name, aadhaar=aadhaar)
        response = self.post("/api/users/register/", form)
        assert response.status_code == 201, response.text
        return User(id=response.json()["id"], email=email.lower(), password=password, aadhaar=form["aadhaar"])

    def login(self, user: User) -> User:
        response = self.post("/api/users/login/", {"email": user.email, "password": user.password})
        assert response.status_code == 200, response.text
        tokens = response.json()
        user.access, user.refresh = tokens["access"], tokens["refresh"]
        return user

    def new_user(self, **kwargs: Any) -> User:
        return self.login(self.register(**kwargs))

    def transfer(
        self, sender: User, receiver: User | str, amount: str, *, key: str | None = None, note: str | None = None
    ) -> requests.Response:
        body: dict[str, Any] = {"receiver_email": receiver if isinstance(receiver, str) else receiver.email, "amount": amount}
        if note is not None:
            body["note"] = note
        return self.post("/api/wallet/transfer/", body, user=sender, headers={"Idempotency-Key": key or str(uuid.uuid4())})

    def balance_paise(self, user: User) -> int:
        response = self.get("/api/wallet/balance/", user)
        assert response.status_code == 200, response.text
        rupees, _, paise = response.json()["balance"].partition(".")
        sign = -1 if rupees.startswith("-") else 1
        return sign * (abs(int(rupees)) * 100 + int(paise))

    def history(self, user: User, **query: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": "100", **query, **({"cursor": cursor} if cursor else {})}
            response = self.get("/api/wallet/history/", user, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            entries.extend(page["results"])
            cursor = page["next_cursor"]
            if not cursor:
                return entries
