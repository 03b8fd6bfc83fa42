"""The wallet feature's ports: what its logic needs from the outside world, as Protocols.

The DynamoDB and KMS adapters implement them in production; the unit tests use in-memory fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from vaultpay.core.grants import GrantUse
from vaultpay.core.records import AccountRecord, Direction, LedgerEntry, PartyRef, TransactionRecord
from vaultpay.wallet.models import Movement, SendingDay


class WalletStore(Protocol):
    def load_parties(self, sender_id: str, receiver_email: str) -> tuple[AccountRecord | None, PartyRef | None]:
        """The sender's account and the receiver. The account's balance may be stale (remembered
        from an earlier transfer): ``commit_transfer`` checks it."""
        ...

    def commit_transfer(self, txn: TransactionRecord, day: SendingDay, step_up: GrantUse | None, sender_balance: int) -> None:
        """All or nothing: the money, the transaction, the ledger, the day's sent counter (refused
        past ``day.limit``: DailyLimitExceeded) and, when given, the step-up grant spent (refused
        when it is not this session's or no longer valid: StepUpRequired). The debit needs the
        sender's balance to be ``sender_balance`` (BalanceChanged, with the balance it is, if not)
        and to cover the amount (InsufficientFunds)."""
        ...

    def sent_on(self, user_id: str, day: str) -> int: ...
    def record_failed_transfer(self, txn: TransactionRecord) -> None: ...
    def get_transaction(self, reference_id: str) -> TransactionRecord | None: ...
    def get_balance(self, user_id: str) -> tuple[int, int] | None: ...
    def history(
        self, user_id: str, direction: Direction | None, limit: int, after: str | None
    ) -> tuple[list[LedgerEntry], str | None]: ...

    # ---- statements: the ledger by time, oldest first, one Query per call
    def get_account(self, user_id: str) -> AccountRecord | None:
        """The account (balance, version, name and e-mail), strongly consistent."""
        ...

    def ledger_between(
        self, user_id: str, since: datetime, until: datetime, after: str | None, limit: int
    ) -> tuple[list[LedgerEntry], str | None]:
        """One page of the entries created from ``since`` (included) to ``until`` (not included),
        oldest first, after the position ``after``; the position to go on from when more follow."""
        ...

    def movements_since(self, user_id: str, since: datetime, after: str | None, limit: int) -> tuple[list[Movement], str | None]:
        """One page of what the entries created from ``since`` on did to the balance (direction,
        amount and status only), oldest first; the position to go on from when more follow."""
        ...
