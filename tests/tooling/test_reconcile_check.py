"""The reconciler's checks over items as a scan returns them: the system account's shards summed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tools.reconcile import check
from vaultpay.core import table as keys
from vaultpay.core.dynamo import iso
from vaultpay.core.records import SYSTEM_PARTY, PartyRef, TransactionRecord, system_party_for
from vaultpay.core.records import system_shard_id as shard

START = "2026-11-24T10:00:00.000000Z"


def account(user_id: str, balance: int) -> dict[str, Any]:
    return {**keys.key(keys.user_pk(user_id), keys.ACCOUNT_SK), "type": keys.TYPE_ACCOUNT, "user_id": user_id, "balance": balance}


def welcome(system: PartyRef, user_id: str, amount: int, reference: str) -> list[dict[str, Any]]:
    """A welcome credit's transaction and its ledger entries."""
    txn = TransactionRecord(
        reference_id=reference,
        kind="WELCOME_CREDIT",
        status="SUCCESS",
        sender=system,
        receiver=PartyRef(user_id=user_id, email=f"{user_id}@example.in", full_name=user_id),
        amount=amount,
        created_at=datetime.fromisoformat(START.replace("Z", "+00:00")),
    )
    assert iso(txn.created_at) == START
    return [keys.transaction_item(txn), *keys.ledger_items(txn)]


def audits(reference: str, *user_ids: str) -> list[dict[str, Any]]:
    created = {"reference_id": reference}
    records = [{"event_id": f"{reference}-t", "kind": "transaction_created", "subject": "", "details": created}]
    for user_id in user_ids:
        details = {"reference_id": reference, "user_id": user_id}
        records.append({"event_id": f"{reference}-{user_id}", "kind": "account_opened", "subject": "", "details": details})
    return records


def test_shards_and_the_legacy_account_together_hold_minus_what_was_issued() -> None:
    # Given welcome credits from the legacy unsharded system account and from two shards
    first = system_party_for("bela", 16)
    second = first.model_copy(update={"user_id": shard((int(first.user_id.rsplit("-", 1)[1]) + 1) % 16)})
    issued = [(SYSTEM_PARTY, "asha", 100, "r1"), (first, "bela", 200, "r2"), (second, "chandra", 300, "r3")]
    items: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    for system, user_id, amount, reference in issued:
        items += [account(system.user_id, -amount), account(user_id, amount), *welcome(system, user_id, amount, reference)]
        audit += audits(reference, system.user_id, user_id)
    # When the reconciler checks them
    report = check(items, audit)
    # Then every shard's debit counts: all is clean, Rs 6.00 issued by three system accounts
    assert report.clean, report.render()
    assert (report.issued, report.system_shards, report.user_balances) == (600, 3, 600)


def test_a_shard_that_lost_money_breaks_conservation_but_is_never_called_negative() -> None:
    # Given one shard's balance tampered with
    system = system_party_for("asha", 16)
    items = [account(system.user_id, -150), account("asha", 100), *welcome(system, "asha", 100, "r1")]
    # When the reconciler checks
    report = check(items, audits("r1", system.user_id, "asha"))
    # Then it says the balances do not sum to zero and the issuance disagrees with the credits, naming the shard
    assert not report.clean
    assert any("sum to -0.50" in violation for violation in report.violations)
    assert any(system.user_id in violation and "ledger replays" in violation for violation in report.violations)
    assert not any("is negative" in violation for violation in report.violations)
