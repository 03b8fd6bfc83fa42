"""The size of each kind of item, as DynamoDB meters it, built by the real item builders.

    python -m tests.bench.item_sizes

DynamoDB bills a write per started 1 KB of the item (twice that inside a transaction) and a
strongly consistent read per started 4 KB; an update is billed on the larger of the item before
and after. Sizes follow DynamoDB's rules: attribute names and string values in UTF-8 bytes,
numbers about one byte per two significant digits plus one, binary as is, 3 bytes per map or list
plus 1 per element, 1 byte for a boolean or null. Values are realistic (UUIDs, 25-character
e-mail addresses, 15-character names, a 40-character purpose). docs/capacity.md uses these.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from vaultpay.core import table as keys
from vaultpay.core.records import PartyRef, TransactionRecord, system_party_for
from vaultpay.lending.dynamo import commitment_item, loan_item
from vaultpay.lending.models import CommitmentRecord, Installment, LoanRecord
from vaultpay.vault.dynamo import vault_entry
from vaultpay.vault.models import SealedAadhaar

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, Decimal)):
        digits = len(str(abs(value)).replace(".", "").strip("0")) or 1
        return math.ceil(digits / 2) + 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(name.encode()) + value_size(inner) for name, inner in value.items() if inner is not None)
    if isinstance(value, (list, tuple, set, frozenset)):
        return 3 + sum(1 + value_size(inner) for inner in value)
    raise TypeError(type(value))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items() if value is not None)


def party(name: str) -> PartyRef:
    return PartyRef(user_id=str(uuid.uuid4()), email=f"{name}.sharma@example.in".ljust(25, "x"), full_name=name.ljust(15, "x"))


def sizes() -> dict[str, int]:
    asha, ravi = party("asha"), party("ravi")
    txn = TransactionRecord(
        reference_id=str(uuid.uuid4()),
        kind="TRANSFER",
        status="SUCCESS",
        sender=asha,
        receiver=ravi,
        amount=25_050,
        note="rent for november",
        created_at=NOW,
        sender_balance_after=974_950,
    )
    account = {
        **keys.key(keys.user_pk(asha.user_id), keys.ACCOUNT_SK),
        "type": keys.TYPE_ACCOUNT,
        "user_id": asha.user_id,
        "email": asha.email,
        "full_name": asha.full_name,
        "balance": 974_950,
        "version": 1234,
        "last_txn": txn.reference_id,
        "created_at": "2026-11-24T10:00:00.000000Z",
        "updated_at": "2026-11-30T10:00:00.000000Z",
    }
    lender_account = {
        **account,
        "lending_outstanding": 2_500_000,
        **{f"lent_to_{uuid.uuid4()}": 500_000 for _ in range(5)},
    }
    schedule = tuple(
        Installment(
            number=n,
            due_on=date(2026, 12, 30) + timedelta(days=30 * n),
            principal=2_678_912,
            interest=1_208_345,
            status="PAID",
            paid_amount=3_887_257,
            paid_at=NOW,
            reference_id=str(uuid.uuid4()),
        )
        for n in range(1, 37)
    )
    loan = LoanRecord(
        loan_id=str(uuid.uuid4()),
        borrower=asha,
        amount=100_000_000,
        funded=100_000_000,
        lender_count=40,
        tenure_months=36,
        annual_rate_bp=1450,
        purpose="Working capital for a tailoring shop",
        status="ACTIVE",
        funding_deadline=NOW,
        created_at=NOW,
        version=57,
        principal_outstanding=50_000_000,
        principal_repaid=50_000_000,
        interest_paid=12_345_678,
        schedule=schedule,
    )
    due = tuple(
        installment.model_copy(update={"status": "DUE", "paid_amount": 0, "paid_at": None, "reference_id": None})
        for installment in schedule
    )
    commitment = CommitmentRecord(
        loan_id=loan.loan_id, lender=ravi, amount=2_500_000, reference_id=str(uuid.uuid4()), created_at=NOW
    )
    welcome = txn.model_copy(
        update={
            "kind": "WELCOME_CREDIT",
            "sender": system_party_for(asha.user_id, 16),
            "note": "Welcome to VaultPay",
            "sender_balance_after": None,
        }
    )
    idempotency_record = {
        "id": "wallet-transfer#" + "0" * 64,
        "expiration": 1_764_500_000,
        "in_progress_expiration": 1_764_500_000_000,
        "status": "COMPLETED",
        "data": '{"receipt":{"reference_id":"' + txn.reference_id + '","status":"SUCCESS","amount":"250.50",'
        '"receiver":{"email":"' + ravi.email + '","full_name":"' + ravi.full_name + '"},"note":"rent for november",'
        '"created_at":"2026-11-30T10:00:00.000000Z","balance":"9749.50"},"replayed":false}',
        "validation": "0" * 64,
    }
    return {
        "account (user)": item_size(account),
        "account (lender with 5 borrowers)": item_size(lender_account),
        "transfer TXN": item_size(keys.transaction_item(txn)),
        "ledger entry (GSI1 copy the same size)": item_size(keys.ledger_item(asha, txn, "sent")),
        "daily sent counter": item_size(
            {
                **keys.daily_sent_key(asha.user_id, "2026-11-30"),
                "type": "DAILY_SENT",
                "sent": 25_050,
                "day": "2026-11-30",
                "expires_at": 1_764_600_000,
            }
        ),
        "idempotency record (completed transfer)": item_size(idempotency_record),
        "welcome credit TXN": item_size(keys.transaction_item(welcome)),
        "profile": item_size(
            {
                **keys.key(keys.user_pk(asha.user_id), keys.PROFILE_SK),
                "type": "PROFILE",
                "user_id": asha.user_id,
                "email": asha.email,
                "full_name": asha.full_name,
                "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$" + "x" * 22 + "$" + "x" * 43,
                "aadhaar_last4": "2346",
                "created_at": "2026-11-24T10:00:00.000000Z",
            }
        ),
        "vault entry": item_size(
            vault_entry(
                asha.user_id,
                SealedAadhaar(
                    key_id="arn:aws:kms:ap-south-1:123456789012:key/" + str(uuid.uuid4()),
                    wrapped_key=b"x" * 184,
                    nonce=b"n" * 12,
                    ciphertext=b"c" * 28,
                ),
                NOW,
            )
        ),
        "loan, open (no schedule until disbursed)": item_size(
            loan_item(loan.model_copy(update={"status": "OPEN", "schedule": (), "lender_count": 10, "escrow": 20_000_000}))
        ),
        "loan, active (36 installments due)": item_size(loan_item(loan.model_copy(update={"schedule": due}))),
        "loan, active (36 installments paid)": item_size(loan_item(loan)),
        "commitment": item_size(commitment_item(commitment)),
    }


def main() -> None:
    print(f"{'item':45} {'bytes':>6} {'write units':>12} {'in a transaction':>17} {'read units':>11}")
    for name, size in sizes().items():
        writes = math.ceil(size / 1024)
        print(f"{name:45} {size:6d} {writes:12d} {2 * writes:17d} {math.ceil(size / 4096):11d}")


if __name__ == "__main__":
    main()
