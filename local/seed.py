"""Demo data for the local stack, like the original VaultPay's ``seed_data``.

20 people with realistic Indian names (Faker, en_IN) and valid Aadhaar numbers, the demo
login, 100 transfers among them, and loans in every state, all through the real API
(registration, login, transfers, loan requests, commitments and repayments with
Idempotency-Keys), so every invariant, ledger entry and audit record holds for demo data too.
Deterministic for a given ``--seed``; running it again adds nothing (registrations answer 409,
transfers replay their keys, loans are left alone once the demo login has one).

The loans (``LOANS``): an overdue one, an active one with installments paid, a repaid one, open
requests with and without lenders. Only "overdue" needs time to pass, so the loans that need
it are made first, then the local clock moves forward ``CLOCK_DAYS`` (``POST /_local/clock``)
and the loan sweeper runs (``POST /_local/schedules/LoanSweeperFunction/run``): the first
installment of the overdue loan falls due while its borrower cannot pay it. The open requests
are made after the move, so their funding deadlines are still ahead. Moving the clock is
local-only and for good: the stack's time stays that far ahead of the wall clock.

    python -m local.seed [--url http://127.0.0.1:3000] [--seed 42] [--force]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from faker import Faker
from requests.adapters import HTTPAdapter

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
    loans_created: int = 0
    loans_existing: bool = False
    # Transactions the loans made: commitments, disbursals, repayments, and the spending that
    # leaves the overdue loan's borrower short.
    loan_movements: int = 0
    clock_days: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        loans = "already there" if self.loans_existing else f"{self.loans_created} created ({self.loan_movements} movements)"
        clock = f"; the local clock moved {self.clock_days} days ahead" if self.clock_days else ""
        return (
            f"users: {self.users_created} created, {self.users_existing} already there; "
            f"transfers: {self.transfers_created} created, {self.transfers_replayed} already there; loans: {loans}{clock}"
        )


ANYONE = -1  # a lender: whoever of the crowd has the most money then (not the demo login, not the borrower)


@dataclass(frozen=True)
class LoanPlan:
    """A loan of the demo data: who asks, for what, who lends how much, what the borrower pays."""

    name: str
    borrower: int  # index into the crowd (0: the demo login)
    amount: str
    tenure_months: int
    annual_rate: str
    purpose: str
    lenders: tuple[tuple[int, str], ...] = ()  # (index into the crowd, or ANYONE; amount)
    installments_paid: int = 0  # paid by hand, right after disbursal
    prepay: bool = False
    short: bool = False  # the borrower spends down to less than an installment: it will be overdue
    after_clock: bool = False  # made once the clock has moved (open requests: their deadline ahead)


CLOCK_DAYS = 32  # past the first due date (at most 31 days after disbursal), by a day at least
LOANS = (
    # before the clock moves: the loans that need time to pass, and those that need none
    LoanPlan(
        "overdue",
        1,
        "24000.00",
        6,
        "22.00",
        "Stock for the kirana shop",
        ((0, "6000.00"), (ANYONE, "9000.00"), (ANYONE, "9000.00")),
        short=True,
    ),
    LoanPlan(
        "laptop",
        0,
        "30000.00",
        12,
        "15.50",
        "Laptop for freelance design work",
        ((ANYONE, "10000.00"), (ANYONE, "10000.00"), (ANYONE, "10000.00")),
        installments_paid=2,
    ),
    LoanPlan(
        "fees",
        8,
        "8000.00",
        3,
        "12.00",
        "School fees for the new term",
        ((0, "3000.00"), (ANYONE, "5000.00")),
        installments_paid=1,
        prepay=True,
    ),
    LoanPlan(
        "tools",
        4,
        "18000.00",
        12,
        "14.00",
        "Tools for a tile-fitting business",
        ((0, "4000.00"), (ANYONE, "7000.00"), (ANYONE, "7000.00")),
        installments_paid=1,
    ),
    # after it: requests open to lenders, some with lenders already, and the demo login's own
    LoanPlan("scooter", 10, "75000.00", 24, "19.50", "Two-wheeler for food deliveries", after_clock=True),
    LoanPlan(
        "tailoring",
        11,
        "40000.00",
        18,
        "21.00",
        "Sewing machines for a tailoring unit",
        ((ANYONE, "8000.00"), (ANYONE, "6000.00")),
        after_clock=True,
    ),
    LoanPlan("mela", 0, "15000.00", 9, "16.00", "Stall at the Diwali mela", ((ANYONE, "5000.00"),), after_clock=True),
    LoanPlan(
        "dairy", 15, "50000.00", 36, "28.00", "Feed for the dairy cattle this season", ((ANYONE, "2500.00"),), after_clock=True
    ),
    LoanPlan("books", 17, "12000.00", 6, "13.25", "Textbooks and a tablet for college", after_clock=True),
    LoanPlan("rickshaw", 18, "20000.00", 12, "17.75", "Repairs to the auto-rickshaw", ((ANYONE, "4000.00"),), after_clock=True),
    LoanPlan("solar", 20, "60000.00", 30, "11.50", "Solar panels for the farmhouse roof", after_clock=True),
)
PEOPLE_NEEDED = max(plan.borrower for plan in LOANS)
SPEND_CHUNK_PAISE = 1_000_000  # at the step-up threshold (Rs 10,000): no step-up needed


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


class FromAddress(HTTPAdapter):
    """Connects from a given local address (Linux routes all of 127.0.0.0/8 to the loopback)."""

    def __init__(self, source_address: str) -> None:
        self._source_address = source_address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._source_address, 0)
        super().init_poolmanager(*args, **kwargs)


def _own_address(index: int) -> str | None:
    """A loopback address of this person's own, so that the local edge counts the demo people as the
    different clients they stand for (it allows 20 registrations and 50 logins per address in 5
    minutes). None where only 127.0.0.1 can be bound (macOS without aliases): one client then."""
    address = f"127.0.{20 + index // 250}.{1 + index % 250}"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return None
    return address


class _Client:
    """The seed's calls to the API, as the people of the crowd (each from an address of their own
    when the API is on 127.0.0.1, and logged in when first needed), and what it knows of their
    balances (read once, then kept up to date with what it moves)."""

    def __init__(self, base: str, crowd: list[Person], report: SeedReport) -> None:
        self.base = base
        self.crowd = crowd
        self.report = report
        self.session = requests.Session()
        self.sessions: dict[int, requests.Session] = {}
        self.separate = urlsplit(base).hostname == "127.0.0.1"
        self.balances: dict[int, int] = {}
        self.balances_read = False

    def session_of(self, who: int) -> requests.Session:
        if who not in self.sessions:
            session = requests.Session()
            address = _own_address(who) if self.separate else None
            if address is not None:
                session.mount("http://", FromAddress(address))
            self.sessions[who] = session
        return self.sessions[who]

    def register(self, who: int) -> requests.Response:
        person = self.crowd[who]
        form = {"email": person.email, "password": person.password, "full_name": person.full_name, "aadhaar": person.aadhaar}
        return self.session_of(who).post(f"{self.base}/api/users/register/", json=form, timeout=30)

    def login(self, who: int) -> bool:
        person = self.crowd[who]
        login = self.session_of(who).post(
            f"{self.base}/api/users/login/", json={"email": person.email, "password": person.password}, timeout=30
        )
        if login.status_code != 200:
            self.report.failures.append(f"login {person.email}: {login.status_code}")
            return False
        person.access = login.json()["access"]
        return True

    def call(self, method: str, path: str, who: int, body: Any = None, key: str | None = None) -> requests.Response | None:
        person = self.crowd[who]
        if not person.access and not self.login(who):
            return None
        session = self.session_of(who)
        headers = {"Authorization": f"Bearer {person.access}"} | ({"Idempotency-Key": key} if key else {})
        response = session.request(method, f"{self.base}{path}", json=body, headers=headers, timeout=60)
        if response.status_code == 401 and self.login(who):  # the token expired (the clock moved)
            headers["Authorization"] = f"Bearer {person.access}"
            response = session.request(method, f"{self.base}{path}", json=body, headers=headers, timeout=60)
        return response

    def expect(self, what: str, response: requests.Response | None, status: int) -> dict[str, Any] | None:
        if response is None:
            return None
        if response.status_code != status:
            self.report.failures.append(f"{what}: {response.status_code} {response.text[:200]}")
            return None
        data = response.json()
        return data if isinstance(data, dict) else None

    def control(self, path: str, body: Any = None) -> bool:
        response = self.session.post(f"{self.base}/_local/{path}", json=body or {}, timeout=300)
        if response.status_code != 200:
            self.report.failures.append(f"/_local/{path}: {response.status_code} {response.text[:200]}")
            return False
        return True

    def forget_tokens(self) -> None:
        for person in self.crowd:
            person.access = ""


def _paise(amount: str) -> int:
    rupees, _, fraction = amount.partition(".")
    return int(rupees) * 100 + int(fraction or 0)


def _seed_loan(client: _Client, plan: LoanPlan, seed: int) -> None:
    report = client.report
    prefix = f"seed-{seed}-loan-{plan.name}"
    body = {"amount": plan.amount, "tenure_months": plan.tenure_months, "annual_rate": plan.annual_rate, "purpose": plan.purpose}
    created = client.expect(f"loan {plan.name}", client.call("POST", "/api/loans/", plan.borrower, body, key=prefix), 201)
    if created is None:
        return
    report.loans_created += 1
    loan_id = created["id"]
    lent: set[int] = set()
    for index, (who, amount) in enumerate(plan.lenders):
        lender = who if who != ANYONE else _richest(client, exclude={0, plan.borrower, *lent})
        lent.add(lender)
        committed = client.call(
            "POST", f"/api/loans/{loan_id}/commitments/", lender, {"amount": amount}, key=f"{prefix}-commit-{index}"
        )
        receipt = client.expect(f"loan {plan.name}: commitment {index}", committed, 201)
        if receipt is None:
            continue
        client.balances[lender] = _paise(receipt["balance"])
        report.loan_movements += 1
        if receipt["loan_status"] == "ACTIVE":  # the commitment that fills it disburses it too
            report.loan_movements += 1
            client.balances[plan.borrower] = client.balances.get(plan.borrower, 0) + _paise(plan.amount)
    payments: list[tuple[dict[str, bool], str]] = [({}, f"{prefix}-repay-{number}") for number in range(plan.installments_paid)]
    payments += [({"prepay": True}, f"{prefix}-prepay")] if plan.prepay else []
    for payment, key in payments:
        paid = client.call("POST", f"/api/loans/{loan_id}/repayments/", plan.borrower, payment, key=key)
        receipt = client.expect(f"loan {plan.name}: repayment {key}", paid, 201)
        if receipt is not None:
            client.balances[plan.borrower] = _paise(receipt["balance"])
            report.loan_movements += 1
    if plan.short:
        _spend_down(client, plan, seed)


def _richest(client: _Client, exclude: set[int]) -> int:
    """Who of the crowd has the most money now (the first such, on a tie)."""
    if not client.balances_read:
        for index in range(len(client.crowd)):
            balance = client.expect("balance", client.call("GET", "/api/wallet/balance/", index), 200)
            client.balances[index] = _paise(balance["balance"]) if balance else 0
        client.balances_read = True
    candidates = [index for index in range(len(client.crowd)) if index not in exclude]
    return max(candidates, key=lambda index: (client.balances.get(index, 0), -index))


def _spend_down(client: _Client, plan: LoanPlan, seed: int) -> None:
    """The borrower pays a supplier nearly all they have, in transfers below the step-up
    threshold: when the first installment falls due, the auto-debit finds too little."""
    balance = client.expect("balance", client.call("GET", "/api/wallet/balance/", plan.borrower), 200)
    if balance is None:
        return
    left = _paise(balance["balance"]) - 10_000  # keep Rs 100
    supplier = client.crowd[(plan.borrower + 1) % len(client.crowd) or 1]
    index = 0
    while left > 0:
        amount = min(left, SPEND_CHUNK_PAISE)
        body = {"receiver_email": supplier.email, "amount": f"{amount // 100}.{amount % 100:02d}", "note": "Wholesale stock"}
        response = client.call(
            "POST", "/api/wallet/transfer/", plan.borrower, body, key=f"seed-{seed}-loan-{plan.name}-spend-{index}"
        )
        if client.expect(f"loan {plan.name}: spending {index}", response, 201) is None:
            return
        client.report.loan_movements += 1
        left -= amount
        index += 1
    client.balances[plan.borrower] = 10_000


def seed_loans(client: _Client, seed: int) -> None:
    """Loans in every state (``LOANS``), unless the demo login has loans already."""
    mine = client.expect("the demo login's loans", client.call("GET", "/api/loans/?role=borrower", 0), 200)
    if mine is None:
        return
    if mine["results"]:
        client.report.loans_existing = True
        return
    for plan in LOANS:
        if not plan.after_clock:
            _seed_loan(client, plan, seed)
    if client.control("clock", {"advance_days": CLOCK_DAYS}):
        client.report.clock_days = CLOCK_DAYS
        client.forget_tokens()  # every access token expired with the jump
    client.control("schedules/LoanSweeperFunction/run")
    for plan in LOANS:
        if plan.after_clock:
            _seed_loan(client, plan, seed)


def run(
    url: str, *, seed: int = 42, users: int = 20, transfers: int = 100, loans: bool = True, force: bool = False
) -> SeedReport:
    ensure_local(url, force)
    report = SeedReport()
    crowd = people(seed, users)
    client = _Client(url.rstrip("/"), crowd, report)
    for index, person in enumerate(crowd):
        registered = client.register(index)
        if registered.status_code == 201:
            report.users_created += 1
        elif registered.status_code == 409:
            report.users_existing += 1
        else:
            report.failures.append(f"register {person.email}: {registered.status_code} {registered.text[:200]}")
    for index, (sender, receiver, amount, note) in enumerate(transfer_plan(crowd, seed, transfers)):
        body: dict[str, str] = {"receiver_email": crowd[receiver].email, "amount": amount}
        if note:
            body["note"] = note
        response = client.call("POST", "/api/wallet/transfer/", sender, body, key=f"seed-{seed}-transfer-{index:04d}")
        if response is None:
            continue
        if response.status_code != 201:
            report.failures.append(f"transfer {index}: {response.status_code} {response.text[:200]}")
        elif response.headers.get("Idempotent-Replayed") == "true":
            report.transfers_replayed += 1
        else:
            report.transfers_created += 1
    if loans and users >= PEOPLE_NEEDED:
        seed_loans(client, seed)
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
    parser.add_argument("--no-loans", action="store_true", help="people and transfers only (the loans move the local clock)")
    parser.add_argument("--force", action="store_true", help="seed an API that is not on this machine")
    args = parser.parse_args()
    try:
        report = run(
            args.url or _running_stack_url(args.state_dir),
            seed=args.seed,
            users=args.users,
            transfers=args.transfers,
            loans=not args.no_loans,
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
