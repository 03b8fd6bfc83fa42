"""A Hypothesis state machine of the wallet against an in-memory model, over HTTP.

Random sequences of registrations, transfers (valid, self, above the per-transfer maximum,
beyond the balance), retries with the same key, reuse of a key for another payment and history
reads; after every step each balance must equal the model's, and no money may appear or
vanish. The run counts how often each kind of answer came, and asserts every kind was reached.
Its size comes from tests/reliability/sizes.py (reduced in `make test`, full in `make stress`).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from local.template import SamTemplate
from tests.reliability.report import record
from tests.reliability.sizes import FULL, SIZES
from tests.support.api import Api, User
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.timeout(SIZES.test_timeout_seconds)]
WELCOME_PAISE = 1_000_000
# The per-transfer maximum the stack runs with: the template's default (the local stack does not override it).
MAX_TRANSFER_PAISE = int(SamTemplate.load().body["Parameters"]["MaxTransferPaise"]["Default"])
STEP_UP_THRESHOLD_PAISE = int(SamTemplate.load().body["Parameters"]["StepUpThresholdPaise"]["Default"])


@dataclass
class SentTransfer:
    sender: User
    receiver: User
    amount: str
    key: str
    status: int
    reference_id: str | None


@dataclass
class Model:
    users: dict[str, User] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)  # ledger entries per user, welcome credit included


def paise(amount: str) -> int:
    rupees, _, fraction = amount.partition(".")
    return int(rupees) * 100 + int(fraction)


def rupees(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


within = st.integers(1, WELCOME_PAISE // 2).map(rupees)  # payable from a welcome credit, twice
amounts = st.one_of(
    within,
    within,  # twice: most transfers should move money
    st.integers(WELCOME_PAISE + 1, MAX_TRANSFER_PAISE - 1).map(rupees),  # usually beyond the sender's balance
    st.sampled_from([rupees(MAX_TRANSFER_PAISE), rupees(MAX_TRANSFER_PAISE + 1)]),  # either side of the maximum
    st.integers(MAX_TRANSFER_PAISE + 1, 10**14 - 1).map(rupees),  # above it, up to the wire's 12 digits
)
"""Amounts that reach every branch: ordinary, beyond the balance, at and above the per-transfer maximum."""


class WalletMachine(RuleBasedStateMachine):
    users = Bundle("users")
    transfers = Bundle("transfers")
    outcomes: ClassVar[Counter[str]] = Counter()  # over the whole run, every example

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.api = Api(base_url)
        self.model = Model()

    def teardown(self) -> None:
        self.api.close()

    def _add_user(self) -> User:
        user = self.api.new_user()
        self.model.users[user.id] = user
        self.model.balances[user.id] = WELCOME_PAISE
        self.model.entries[user.id] = 1
        return user

    @initialize(target=users)
    def first_user(self) -> User:
        return self._add_user()

    @initialize(target=users)
    def second_user(self) -> User:  # from the first step on, a transfer can go to someone else
        return self._add_user()

    @precondition(lambda self: len(self.model.balances) < 4)
    @rule(target=users)
    def register(self) -> User:
        return self._add_user()

    @rule(target=transfers, sender=users, receiver=users, amount=amounts)
    def transfer(self, sender: User, receiver: User, amount: str) -> SentTransfer:
        key = f"sm-{uuid.uuid4()}"
        response = self.api.transfer(sender, receiver, amount, key=key)
        value = paise(amount)
        # In the order the service checks: the maximum first, then the step-up (the machine never
        # steps up: a larger amount is refused and writes nothing), then the parties, then the funds.
        if value > MAX_TRANSFER_PAISE:
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("amount-above-limit")
            outcome = "above the limit"
        elif value > STEP_UP_THRESHOLD_PAISE:
            assert response.status_code == 403, response.text
            assert response.json()["type"].endswith("step-up-required")
            outcome = "needs step-up"
        elif sender.id == receiver.id:
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("self-transfer")
            outcome = "to oneself"
        elif value > self.model.balances[sender.id]:
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("insufficient-funds")
            self.model.entries[sender.id] += 1  # the FAILED transaction is in the sender's history
            outcome = "beyond the balance"
        else:
            assert response.status_code == 201, response.text
            assert response.json()["balance"] == f"{(self.model.balances[sender.id] - value) / 100:.2f}"
            self.model.balances[sender.id] -= value
            self.model.balances[receiver.id] += value
            self.model.entries[sender.id] += 1
            self.model.entries[receiver.id] += 1
            outcome = "moved money"
        self.outcomes[outcome] += 1
        reference = response.json().get("reference_id")
        return SentTransfer(sender, receiver, amount, key, response.status_code, reference)

    @rule(sent=transfers)
    def retry_with_the_same_key(self, sent: SentTransfer) -> None:
        response = self.api.transfer(sent.sender, sent.receiver, sent.amount, key=sent.key)
        assert response.status_code == sent.status
        self.outcomes["retried"] += 1
        if sent.status == 201:
            assert response.json()["reference_id"] == sent.reference_id
            assert response.headers["Idempotent-Replayed"] == "true"

    @rule(sent=transfers, other=amounts)
    def reuse_the_key_for_another_payment(self, sent: SentTransfer, other: str) -> None:
        # A request refused before any write (to oneself, above the maximum, without the step-up it
        # needed) left nothing under its key.
        if (
            paise(other) == paise(sent.amount)
            or sent.sender.id == sent.receiver.id
            or paise(sent.amount) > STEP_UP_THRESHOLD_PAISE
        ):
            return
        response = self.api.transfer(sent.sender, sent.receiver, other, key=sent.key)
        if sent.status != 201 and paise(other) > MAX_TRANSFER_PAISE:
            # Only a success is kept in the idempotency store; after a refusal the new amount is
            # checked first, and refused on its own account, before its key is found taken.
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("amount-above-limit")
        elif sent.status != 201 and paise(other) > STEP_UP_THRESHOLD_PAISE:
            assert response.status_code == 403, response.text
            assert response.json()["type"].endswith("step-up-required")
        else:
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("idempotency-key-reused")
        self.outcomes["key reused"] += 1

    @rule(user=users)
    def history_matches_the_model(self, user: User) -> None:
        entries = self.api.history(user)
        assert len(entries) == self.model.entries[user.id]
        assert [entry["created_at"] for entry in entries] == sorted((entry["created_at"] for entry in entries), reverse=True)

    @invariant()
    def balances_match_the_model(self) -> None:
        for user_id, expected in self.model.balances.items():
            assert self.api.balance_paise(self.model.users[user_id]) == expected

    @invariant()
    def money_is_conserved(self) -> None:
        assert sum(self.model.balances.values()) == WELCOME_PAISE * len(self.model.balances)


def test_the_wallet_behaves_like_its_model(stack: RunningStack) -> None:
    WalletMachine.outcomes.clear()
    started = time.monotonic()
    run_state_machine_as_test(
        lambda: WalletMachine(stack.url),  # type: ignore[arg-type]  # hypothesis accepts any factory
        settings=settings(
            max_examples=SIZES.stateful_examples,
            stateful_step_count=SIZES.stateful_steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            # `make test`'s run is a dozen short examples. Drawn at random, one run made eight
            # requests and none of them moved money, so the check below failed with nothing
            # wrong. Its examples are now the same in every run; `make stress` draws new ones.
            derandomize=SIZES is not FULL,
        ),
    )
    outcomes = WalletMachine.outcomes
    record(
        f"state machine ({time.monotonic() - started:.0f} s, {SIZES.stateful_examples} examples of up to "
        f"{SIZES.stateful_steps} steps)",
        [f"  {name:<24} {count}" for name, count in sorted(outcomes.items())],
    )
    assert outcomes["moved money"] > 0, outcomes
    if SIZES is FULL:  # a random run of this size reaches every branch of the model (the walk below always does)
        assert set(BRANCHES) <= set(outcomes), outcomes


BRANCHES = ("moved money", "beyond the balance", "above the limit", "to oneself", "retried", "key reused")


def test_every_branch_of_the_model_against_the_service(stack: RunningStack) -> None:
    # Given the machine, walked by hand through each branch once (the random run may miss one)
    WalletMachine.outcomes.clear()
    machine = WalletMachine(stack.url)
    try:
        asha, ravi = machine._add_user(), machine._add_user()

        def send(sender: User, receiver: User, amount: str) -> SentTransfer:
            transfer = machine.transfer(sender, receiver, amount)
            assert isinstance(transfer, SentTransfer)
            return transfer

        sent = [
            send(asha, ravi, "250.00"),
            send(asha, ravi, rupees(WELCOME_PAISE)),  # the most that needs no step-up, now beyond her balance
            send(asha, ravi, rupees(MAX_TRANSFER_PAISE)),  # at the maximum: allowed, but only with a step-up
            send(asha, ravi, rupees(MAX_TRANSFER_PAISE + 1)),
            send(ravi, ravi, "1.00"),
        ]
        # When each is retried, keys are reused for other payments, and the model is checked
        for transfer in sent:
            machine.retry_with_the_same_key(transfer)
        machine.reuse_the_key_for_another_payment(sent[0], "1.00")
        machine.reuse_the_key_for_another_payment(sent[1], "1.00")
        machine.reuse_the_key_for_another_payment(sent[1], rupees(MAX_TRANSFER_PAISE + 1))
        for user in (asha, ravi):
            machine.history_matches_the_model(user)
        machine.balances_match_the_model()
        machine.money_is_conserved()
    finally:
        machine.teardown()
    # Then the service answered every branch as the model expects
    assert [transfer.status for transfer in sent] == [201, 422, 403, 422, 422]
    assert WalletMachine.outcomes == Counter(
        {
            "moved money": 1,
            "beyond the balance": 1,
            "needs step-up": 1,
            "above the limit": 1,
            "to oneself": 1,
            "retried": 5,
            "key reused": 3,
        }
    )


def test_the_amounts_reach_every_range() -> None:
    # find() raises NoSuchExample when the strategy cannot produce such an amount
    assert paise(find(amounts, lambda amount: paise(amount) > MAX_TRANSFER_PAISE)) > MAX_TRANSFER_PAISE
    assert paise(find(amounts, lambda amount: paise(amount) == MAX_TRANSFER_PAISE)) == MAX_TRANSFER_PAISE
    assert find(amounts, lambda amount: WELCOME_PAISE < paise(amount) < MAX_TRANSFER_PAISE)
    assert find(amounts, lambda amount: paise(amount) <= WELCOME_PAISE)
