"""The audit trail and reconciliation over a live stack; demo data through the real code paths."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from local import seed
from local.template import ROOT
from tests.support.api import Api, User
from tests.support.data import registration
from tests.support.stack import RunningStack, running_stack
from tools.reconcile import reconcile, scan
from vaultpay.core.aadhaar import verhoeff_checksum
from vaultpay.core.records import is_system_account, system_party_for

pytestmark = pytest.mark.stack
WELCOME_PAISE = 1_000_000  # the local stack's welcome credit (local.provision)


def burst(api: Api, users: list[User], count: int, seed_value: int) -> list[str]:
    rng = random.Random(seed_value)
    plan = [(*rng.sample(users, 2), f"{rng.randint(1, 2000)}.{rng.randint(0, 99):02d}") for _ in range(count)]

    def send(item: tuple[User, User, str]) -> str | None:
        client = Api(api.base_url)
        try:
            response = client.transfer(item[0], item[1], item[2], key=str(uuid.uuid4()))
        finally:
            client.close()
        return response.json()["reference_id"] if response.status_code == 201 else None

    with ThreadPoolExecutor(max_workers=16) as pool:
        return [reference for reference in pool.map(send, plan) if reference]


def run_reconcile(stack: RunningStack, *, audit_grace: float) -> subprocess.CompletedProcess[str]:
    """`make reconcile` against ``stack``: the command, its report and its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "tools.reconcile", "--state-dir", str(stack.state_dir), "--audit-grace", str(audit_grace)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'vaultpay'}:{ROOT}"},
        check=False,
    )


def audit_by_reference(stack: RunningStack) -> dict[str, list[str]]:
    records: dict[str, list[str]] = {}
    for record in scan(stack.client("dynamodb"), stack.resource("AuditTable")):
        reference = record["details"].get("reference_id")
        if reference:
            records.setdefault(reference, []).append(record["kind"])
    return records


class TestConcurrentRegistrations:
    # First in the module: its stack is fresh (a later test here tampers with a balance).
    def test_the_sharded_system_account_conserves_money_under_concurrent_registrations(self, own_stack: RunningStack) -> None:
        # Given twenty-four people registering at once, eight at a time, the workers started first
        api = Api(own_stack.url)

        def register(index: int) -> tuple[str, int]:
            client = Api(api.base_url)
            try:
                email = f"shard-{index}-{uuid.uuid4().hex[:8]}@example.in"
                response = client.post("/api/users/register/", registration(email))
                return (response.json()["id"] if response.status_code == 201 else "", response.status_code)
            finally:
                client.close()

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(lambda _: Api(api.base_url).post("/api/users/register/", {}).status_code, range(8))) == {422}
            answers = list(pool.map(register, range(24)))
        # (each one's password hash takes real CPU: on two shared, busy cores a registration may
        # time out, killed wherever it was, and that must not lose or create money either)
        registered = [user_id for user_id, status in answers if status == 201]
        assert {status for _, status in answers} <= {201, 500}
        assert len(registered) >= 12
        # When the stream consumer has caught up (reconcile waits for it)
        dynamodb = own_stack.client("dynamodb")
        report = reconcile(dynamodb, own_stack.resource("MainTable"), own_stack.resource("AuditTable"), audit_grace_seconds=30)
        # Then reconciliation is clean: the shards' debits sum to minus every welcome credit
        assert report.clean, report.render()
        assert report.issued == report.user_balances >= WELCOME_PAISE * len(registered)
        # And more than one shard paid them, each credit from the shard its receiver's id hashes to
        shards = {
            item["user_id"]: int(item["balance"])
            for item in scan(dynamodb, own_stack.resource("MainTable"))
            if item.get("type") == "ACCOUNT" and is_system_account(item["user_id"])
        }
        assert report.system_shards == len(shards) > 1
        assert sum(shards.values()) == -report.issued
        assert set(shards) >= {system_party_for(user_id, 16).user_id for user_id in registered}


class TestAfterABurstOfTransfers:
    def test_one_debit_and_one_credit_per_transfer_and_reconcile_passes(self, own_stack: RunningStack) -> None:
        # Given sixteen clients moving money among eight accounts at once
        api = Api(own_stack.url)
        users = [api.new_user() for _ in range(8)]
        references = burst(api, users, 160, seed_value=7)
        assert len(references) > 100
        # When the stream consumer has caught up (reconcile waits for it)
        report = reconcile(
            own_stack.client("dynamodb"),
            own_stack.resource("MainTable"),
            own_stack.resource("AuditTable"),
            audit_grace_seconds=30,
        )
        # Then reconciliation is clean and each transfer has exactly one debit and one credit record
        assert report.clean, report.render()
        audits = audit_by_reference(own_stack)
        for reference in references:
            assert sorted(audits[reference]) == ["account_credited", "account_debited", "transaction_created"]

    def test_tampering_with_a_balance_fails_reconcile_and_names_the_account(self, own_stack: RunningStack) -> None:
        # Given someone adds money to an account straight in the table
        api = Api(own_stack.url)
        victim = api.new_user()
        own_stack.client("dynamodb").update_item(
            TableName=own_stack.resource("MainTable"),
            Key={"PK": {"S": f"USER#{victim.id}"}, "SK": {"S": "ACCOUNT"}},
            UpdateExpression="SET balance = balance + :x",
            ExpressionAttributeValues={":x": {"N": "50000"}},
        )
        # When reconciling
        report = reconcile(
            own_stack.client("dynamodb"), own_stack.resource("MainTable"), own_stack.resource("AuditTable"), audit_grace_seconds=3
        )
        # Then it fails, naming that account
        assert not report.clean
        named = [violation for violation in report.violations if victim.id in violation]
        assert any("balances and escrows sum to" in violation for violation in report.violations), report.render()
        assert any("ledger replays to" in violation for violation in named)
        # And the command says so too, naming the account, with a non-zero exit
        completed = run_reconcile(own_stack, audit_grace=3)
        assert completed.returncode == 1
        assert "FAILED" in completed.stdout
        assert victim.id in completed.stdout


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, seed.SeedReport]]:
    with running_stack(tmp_path_factory.mktemp("seeded")) as running:
        yield running, seed.run(running.url, seed=7)


class TestDemoData:
    def test_twenty_people_the_demo_login_and_a_hundred_transfers(self, seeded: Any) -> None:
        running, report = seeded
        assert report.failures == []
        assert (report.users_created, report.transfers_created) == (21, 100)
        api = Api(running.url)
        demo = api.login(User(id="", email=seed.DEMO_EMAIL, password=seed.DEMO_PASSWORD, aadhaar=""))
        assert api.get("/api/users/profile/", demo).json()["full_name"] == seed.DEMO_NAME

    def test_loans_in_every_state_and_the_demo_login_borrows_on_one_and_lends_on_another(self, seeded: Any) -> None:
        # Given the demo data, made through the API with the clock moved once for the overdue loan
        running, report = seeded
        assert report.loans_created == len(seed.LOANS)
        assert report.clock_days == seed.CLOCK_DAYS
        api = Api(running.url)
        demo = api.login(User(id="", email=seed.DEMO_EMAIL, password=seed.DEMO_PASSWORD, aadhaar=""))

        def loans(role: str) -> list[dict[str, Any]]:
            return list(api.get(f"/api/loans/?role={role}&limit=50", demo).json()["results"])

        # Then the demo login borrows (an active loan with installments paid, a request partly funded)
        borrowed = {loan["display_status"]: loan for loan in loans("borrower")}
        assert set(borrowed) == {"ACTIVE", "PENDING"}
        laptop = api.get(f"/api/loans/{borrowed['ACTIVE']['id']}/", demo).json()
        assert [i["status"] for i in laptop["schedule"][:3]] == ["PAID", "PAID", "DUE"]
        assert 0 < Decimal(borrowed["PENDING"]["funded"]) < Decimal(borrowed["PENDING"]["amount"])
        # And lends: on an active loan, a repaid one and an overdue one
        assert sorted(loan["display_status"] for loan in loans("lender")) == ["ACTIVE", "OVERDUE", "REPAID"]
        # And lenders find requests open to them, some with no lender yet, some partly funded
        open_requests = api.get("/api/loans/open/?limit=50", demo).json()["results"]
        assert len(open_requests) == len([plan for plan in seed.LOANS if plan.after_clock and plan.borrower != 0])
        assert {request["funded"] == "0.00" for request in open_requests} == {True, False}

    def test_invariants_hold_for_demo_data(self, seeded: Any) -> None:
        running, _ = seeded
        report = reconcile(
            running.client("dynamodb"), running.resource("MainTable"), running.resource("AuditTable"), audit_grace_seconds=30
        )
        assert report.clean, report.render()
        assert report.transactions == 21 + 100 + seeded[1].loan_movements

    def test_every_aadhaar_is_valid_and_only_encrypted(self, seeded: Any) -> None:
        running, _ = seeded
        crowd = seed.people(7, 20)
        # Every stored number is in the vault only, as ciphertext: no table holds it in plaintext
        dynamodb = running.client("dynamodb")
        vault = scan(dynamodb, running.resource("VaultTable"))
        assert len(vault) == 21
        everything = "".join(
            repr(scan(dynamodb, running.resource(table)))
            for table in ("MainTable", "VaultTable", "AuditTable", "IdempotencyTable")
        )
        assert not [person.email for person in crowd if person.aadhaar in everything]
        # And what each owner gets back from the vault is the number they registered, Verhoeff-valid
        api = Api(running.url)
        for person in crowd:
            owner = api.login(User(id="", email=person.email, password=person.password, aadhaar=""))
            revealed = api.post("/api/users/profile/aadhaar/", {"password": person.password}, user=owner).json()["aadhaar"]
            assert revealed == person.aadhaar
            assert verhoeff_checksum(revealed) == 0
        assert not [person.email for person in crowd if person.aadhaar in running.logs()]

    def test_make_reconcile_reports_clean_and_exits_zero(self, seeded: Any) -> None:
        running, _ = seeded
        completed = run_reconcile(running, audit_grace=30)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert f"transactions       {121 + seeded[1].loan_movements}" in completed.stdout
        assert "OK: every check passed" in completed.stdout

    def test_seeding_again_changes_nothing(self, seeded: Any) -> None:
        running, _ = seeded

        def business_items() -> list[Any]:
            kept = {"PROFILE", "ACCOUNT", "TXN", "LEDGER", "EMAIL_GUARD", "AADHAAR_GUARD"}
            return sorted(
                repr(item) for item in scan(running.client("dynamodb"), running.resource("MainTable")) if item.get("type") in kept
            )

        before = business_items()
        again = seed.run(running.url, seed=7)
        assert (again.users_created, again.transfers_created) == (0, 0)
        assert (again.users_existing, again.transfers_replayed) == (21, 100)
        assert (again.loans_existing, again.loans_created, again.clock_days) == (True, 0, 0)
        assert business_items() == before

    def test_it_refuses_anything_but_the_local_stack(self) -> None:
        with pytest.raises(seed.SeedRefused):
            seed.run("https://api.vaultpay.example")
