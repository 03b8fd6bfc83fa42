"""A Hypothesis state machine of the wallet against an in-memory model, over HTTP.

Random sequences of registrations, transfers (valid, self, too large), retries with the same
key, reuse of a key for another payment and history reads; after every step each balance must
equal the model's, and no money may appear or vanish.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
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

from tests.support.api import Api, User
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack
WELCOME_PAISE = 1_000_000


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


amounts = st.builds(lambda rupees, fraction: f"{rupees}.{fraction:02d}", st.integers(0, 12_000), st.integers(0, 99)).filter(
    lambda amount: paise(amount) > 0
)


class WalletMachine(RuleBasedStateMachine):
    users = Bundle("users")
    transfers = Bundle("transfers")

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

    @precondition(lambda self: len(self.model.balances) < 4)
    @rule(target=users)
    def register(self) -> User:
        return self._add_user()

    @rule(target=transfers, sender=users, receiver=users, amount=amounts)
    def transfer(self, sender: User, receiver: User, amount: str) -> SentTransfer:
        key = f"sm-{uuid.uuid4()}"
        response = self.api.transfer(sender, receiver, amount, key=key)
        value = paise(amount)
        if sender.id == receiver.id:
            assert response.status_code == 422
            assert response.json()["type"].endswith("self-transfer")
        elif value > 10_000_000:
            assert response.status_code == 422
            assert response.json()["type"].endswith("amount-above-limit")
        elif value > self.model.balances[sender.id]:
            assert response.status_code == 422
            assert response.json()["type"].endswith("insufficient-funds")
            self.model.entries[sender.id] += 1  # the FAILED transaction is in the sender's history
        else:
            assert response.status_code == 201, response.text
            assert response.json()["balance"] == f"{(self.model.balances[sender.id] - value) / 100:.2f}"
            self.model.balances[sender.id] -= value
            self.model.balances[receiver.id] += value
            self.model.entries[sender.id] += 1
            self.model.entries[receiver.id] += 1
        reference = response.json().get("reference_id")
        return SentTransfer(sender, receiver, amount, key, response.status_code, reference)

    @rule(sent=transfers)
    def retry_with_the_same_key(self, sent: SentTransfer) -> None:
        response = self.api.transfer(sent.sender, sent.receiver, sent.amount, key=sent.key)
        assert response.status_code == sent.status
        if sent.status == 201:
            assert response.json()["reference_id"] == sent.reference_id
            assert response.headers["Idempotent-Replayed"] == "true"

    @rule(sent=transfers, other=amounts)
    def reuse_the_key_for_another_payment(self, sent: SentTransfer, other: str) -> None:
        if paise(other) == paise(sent.amount) or sent.sender.id == sent.receiver.id:
            return
        response = self.api.transfer(sent.sender, sent.receiver, other, key=sent.key)
        assert response.status_code == 422
        assert response.json()["type"].endswith("idempotency-key-reused")

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
    run_state_machine_as_test(
        lambda: WalletMachine(stack.url),  # type: ignore[arg-type]  # hypothesis accepts any factory
        settings=settings(
            max_examples=8,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
