"""Demo data for the local stack, like the original VaultPay's ``seed_data``.

20 people with realistic Indian names (Faker, en_IN) and valid Aadhaar numbers, the demo
login, and 100 transfers among them, all through the real API (registration, login,
transfers with Idempotency-Keys), so every invariant, ledger entry and audit record holds
for demo data too. Deterministic for a given ``--seed``; running it again adds nothing
(registrations answer 409, transfers replay their keys).

    python -m local.seed [--url http://127.0.0.1:3000] [--seed 42] [--force]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import requests
from faker import Faker

from vaultpay.core.aadhaar import verhoeff_check_digit

DEMO_EMAIL = "demo@vaultpay.example"
DEMO_PASSWORD = "vaultpay-demo"  # noqa: S105 - the documented demo login of the local stack
DEMO_NAME = "Demo User"
WELCOME_PAISE = 1_000_000
NOTES = (
    "Chai and samosa",
    "Dinner at Saravana Bhavan",
    "Rent share",
    "Movie tickets",
    "Groceries",
    "Auto fare",
    "Birthday gift",
    "Electricity bill split",
    "Cricket match tickets",
    "Mobile recharge",
    "Diwali sweets",
    None,
)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class SeedRefused(RuntimeError):
    pass


@dataclass
class Person:
    email: str
    full_name: str
    aadhaar: str
    password: str = DEMO_PASSWORD
    access: str = ""


@dataclass
class SeedReport:
    users_created: int = 0
    users_existing: int = 0
    transfers_created: int = 0
    transfers_replayed: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"users: {self.users_created} created, {self.users_existing} already there; "
            f"transfers: {self.transfers_created} created, {self.transfers_replayed} already there"
        )


def _aadhaar(rng: random.Random) -> str:
    body = str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(10))
    return body + verhoeff_check_digit(body)


def people(seed: int, count: int) -> list[Person]:
    """The demo user and ``count`` people, the same ones for the same seed."""
    fake = Faker("en_IN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    crowd = [Person(email=DEMO_EMAIL, full_name=DEMO_NAME, aadhaar=_aadhaar(rng))]
    emails = {DEMO_EMAIL}
    while len(crowd) < count + 1:
        first, last = fake.first_name(), fake.last_name()
        email = f"{first}.{last}".lower().replace(" ", "") + "@example.in"
        if email in emails:
            continue
        emails.add(email)
        crowd.append(Person(email=email, full_name=f"{first} {last}", aadhaar=_aadhaar(rng)))
    return crowd


def transfer_plan(crowd: list[Person], seed: int, count: int) -> list[tuple[int, int, str, str | None]]:
    """(sender, receiver, amount, note) for ``count`` transfers that all succeed: amounts are
    drawn against balances simulated from the welcome credit. The demo user (``crowd[0]``) never
    spends below that credit, so whoever logs in with it has money to send."""
    rng = random.Random(seed * 7919 + 1)
    balances = [WELCOME_PAISE] * len(crowd)
    plan: list[tuple[int, int, str, str | None]] = []
    while len(plan) < count:
        sender, receiver = rng.sample(range(len(crowd)), 2)
        amount = rng.randint(50, 2500) * 100 + rng.choice((0, 0, 50, rng.randint(1, 99)))
        floor = WELCOME_PAISE if sender == 0 else 0
        if balances[sender] - amount < floor:
            continue
        balances[sender] -= amount
        balances[receiver] += amount
        plan.append((sender, receiver, f"{Decimal(amount) / 100:.2f}", rng.choice(NOTES)))
    return plan


def ensure_local(url: str, force: bool) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOCAL_HOSTS and not force:
        raise SeedRefused(f"refusing to seed {url}: not the local stack (pass --force to seed it anyway)")


def run(url: str, *, seed: int = 42, users: int = 20, transfers: int = 100, force: bool = False) -> SeedReport:
    ensure_local(url, force)
    base = url.rstrip("/")
    session = requests.Session()
    report = SeedReport()
    crowd = people(seed, users)
    for person in crowd:
        response = session.post(
            f"{base}/api/users/register/",
            json={"email": person.email, "password": person.password, "full_name": person.full_name, "aadhaar": person.aadhaar},
            timeout=30,
        )
        if response.status_code == 201:
            report.users_created += 1
        elif response.status_code == 409:
            report.users_existing += 1
        else:
            report.failures.append(f"register {person.email}: {response.status_code} {response.text[:200]}")
    for index, (sender, receiver, amount, note) in enumerate(transfer_plan(crowd, seed, transfers)):
        person = crowd[sender]
        if not person.access:
            login = session.post(
                f"{base}/api/users/login/", json={"email": person.email, "password": person.password}, timeout=30
            )
            if login.status_code != 200:
                report.failures.append(f"login {person.email}: {login.status_code}")
                continue
            person.access = login.json()["access"]
        body: dict[str, str] = {"receiver_email": crowd[receiver].email, "amount": amount}
        if note:
            body["note"] = note
        response = session.post(
            f"{base}/api/wallet/transfer/",
            json=body,
            headers={"Authorization": f"Bearer {person.access}", "Idempotency-Key": f"seed-{seed}-transfer-{index:04d}"},
            timeout=30,
        )
        if response.status_code != 201:
            report.failures.append(f"transfer {index}: {response.status_code} {response.text[:200]}")
        elif response.headers.get("Idempotent-Replayed") == "true":
            report.transfers_replayed += 1
        else:
            report.transfers_created += 1
    return report


def _running_stack_url(state_dir: Path) -> str:
    stack_file = state_dir / "stack.json"
    if not stack_file.exists():
        raise SeedRefused("the local stack is not running: start it with `make run`")
    return str(json.loads(stack_file.read_text())["url"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="the API (default: the running local stack)")
    parser.add_argument("--state-dir", type=Path, default=Path(".local"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--transfers", type=int, default=100)
    parser.add_argument("--force", action="store_true", help="seed an API that is not on this machine")
    args = parser.parse_args()
    try:
        report = run(
            args.url or _running_stack_url(args.state_dir),
            seed=args.seed,
            users=args.users,
            transfers=args.transfers,
            force=args.force,
        )
    except SeedRefused as refusal:
        sys.exit(str(refusal))
    print(report.summary())
    print(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    if report.failures:
        sys.exit("failures:\n  " + "\n  ".join(report.failures))


if __name__ == "__main__":
    main()
