"""In-memory fakes of every port, for the unit tier.

Each fake honours the contract of the adapter it stands in for, condition by condition:

- ``FakeWalletStore`` mirrors ``vaultpay.wallet.dynamo.DynamoWalletRepository`` (and is the audit's
  ``TransactionLookup``, as that repository is in production);
- ``FakeUserStore`` mirrors ``vaultpay.identity.dynamo.DynamoUserRepository`` (and is the vault's
  ``ProfileReader``);
- ``FakeTokenStore`` mirrors ``vaultpay.identity.dynamo_tokens.DynamoTokenRepository``;
- ``FakeFailureStore`` mirrors ``vaultpay.identity.dynamo_lockout.DynamoLoginFailureRepository``;
- ``FakeVaultStore``, ``FakeRevealLog`` and ``FakeStepUpStore`` mirror ``vaultpay.vault.dynamo``;
- ``FakeDataKeys`` mirrors ``vaultpay.vault.kms.KmsDataKeys``: it really wraps each data key (AES-GCM
  under a fixed in-memory master key, the encryption context as associated data);
- ``FakeAuditStore`` mirrors ``vaultpay.audit.dynamo.DynamoAuditStore``.

A multi-item write is all or nothing, as a TransactWriteItems is: every condition is checked before
anything is written, and when several fail, the domain error of the item with the lowest precedence
(as the adapter declares it) wins. A condition the adapter does not translate into a domain error
raises ``StoreRejected`` here (a ClientError there).

The fakes that stand for items of the main and vault tables share one ``Tables``, as the adapters
share the tables: a user registered through ``FakeUserStore`` can pay through ``FakeWalletStore``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vaultpay.audit.models import AuditRecord
from vaultpay.audit.ports import AuditStore, TransactionLookup
from vaultpay.core.errors import (
    AadhaarAlreadyRegistered,
    BalanceChanged,
    DailyLimitExceeded,
    DuplicateTransaction,
    EmailAlreadyRegistered,
    InsufficientFunds,
    InvalidRefreshToken,
    ReceiverNotFound,
    RefreshTokenReused,
    SecondFactorIncorrect,
    StepUpRequired,
    TotpAlreadyEnabled,
    TotpNotPending,
    UserNotFound,
    VaultIntegrityError,
)
from vaultpay.core.grants import GrantUse, NewGrant
from vaultpay.core.records import (
    AccountRecord,
    Direction,
    LedgerEntry,
    PartyRef,
    ProfileRecord,
    TransactionRecord,
    is_system_account,
    ledger_sides,
)
from vaultpay.identity.models import LoginStreak, NewUser, RefreshTokenRecord, SessionState, WindowCounter
from vaultpay.identity.ports import AttemptStore, TokenStore, UserStore
from vaultpay.vault.models import DataKey, SealedAadhaar, SealedSecret, TotpFactor
from vaultpay.vault.ports import DataKeyProvider, IndexMac, ProfileReader, RevealLog, SealedStore, StepUpStore
from vaultpay.wallet.models import Movement, SendingDay
from vaultpay.wallet.ports import WalletStore

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class StoreRejected(Exception):
    """A write the adapter would send and DynamoDB refuse with an error no caller translates
    (a condition without a domain meaning, two operations on one item in a transaction)."""


def stored_time(moment: datetime) -> datetime:
    """A timestamp as it comes back from the table: written as UTC with microseconds, read as UTC."""
    return moment.astimezone(UTC)


def ledger_position(created_at: datetime, reference_id: str) -> str:
    """Where a ledger entry sorts, as the adapter writes it: ``<created_at>#<reference_id>``."""
    return f"{stored_time(created_at).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{reference_id}"


# ---------------------------------------------------------------- clock
class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
        self.now += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        return self.now


# ---------------------------------------------------------------- the main and vault tables
@dataclass(frozen=True)
class Account:
    record: AccountRecord
    last_txn: str | None


@dataclass(frozen=True)
class RevealEvent:
    user_id: str
    request_id: str
    at: datetime
    keep_until: datetime


@dataclass(frozen=True)
class StoredGrant:
    user_id: str
    session_id: str
    expires_at: int
    method: str


@dataclass(frozen=True)
class StoredTotp:
    status: str
    sealed: SealedSecret
    recovery: frozenset[str]
    last_step: int | None = None


@dataclass
class Tables:
    """What the main and vault tables hold, by the items the adapters write."""

    profiles: dict[str, ProfileRecord] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    email_guards: dict[str, PartyRef] = field(default_factory=dict)  # e-mail -> user id and full name
    aadhaar_guards: set[str] = field(default_factory=set)  # uniqueness index; the guard names no one
    vault: dict[str, SealedAadhaar] = field(default_factory=dict)  # the vault table, by user id
    transactions: dict[str, TransactionRecord] = field(default_factory=dict)
    ledgers: dict[str, dict[str, LedgerEntry]] = field(default_factory=dict)  # user id -> position -> entry
    reveals: dict[tuple[str, str], RevealEvent] = field(default_factory=dict)  # (user id, event key) -> event
    daily_sent: dict[tuple[str, str], int] = field(default_factory=dict)  # (user id, IST day) -> paise sent
    grants: dict[tuple[str, str], StoredGrant] = field(default_factory=dict)  # (user id, grant hash) -> grant
    totp: dict[str, StoredTotp] = field(default_factory=dict)  # user id -> authenticator

    def snapshot(self) -> dict[str, object]:
        """Everything stored, to compare before and after: equal snapshots mean nothing was written."""
        return {
            "profiles": dict(self.profiles),
            "accounts": dict(self.accounts),
            "email_guards": dict(self.email_guards),
            "aadhaar_guards": set(self.aadhaar_guards),
            "vault": dict(self.vault),
            "transactions": dict(self.transactions),
            "ledgers": {user: dict(entries) for user, entries in self.ledgers.items()},
            "reveals": dict(self.reveals),
            "daily_sent": dict(self.daily_sent),
            "grants": dict(self.grants),
            "totp": dict(self.totp),
        }

    def open_account(self, party: PartyRef, balance: int) -> None:
        """Given an account (and its e-mail guard), without going through registration."""
        self.accounts[party.user_id] = Account(
            AccountRecord(user_id=party.user_id, email=party.email, full_name=party.full_name, balance=balance, version=1),
            last_txn=None,
        )
        self.email_guards[party.email] = party

    def balance_of(self, user_id: str) -> int:
        return self.accounts[user_id].record.balance

    # ---- writes shared by the fakes (callers check every condition first)
    def move(self, user_id: str, delta: int, txn: TransactionRecord) -> None:
        """Move ``delta`` on an existing account, bumping its version and naming the transaction."""
        current = self.accounts.get(user_id)
        if current is None:
            raise StoreRejected(f"no account {user_id}")
        record = current.record.model_copy(
            update={"balance": current.record.balance + delta, "version": current.record.version + 1}
        )
        self.accounts[user_id] = Account(record, last_txn=txn.reference_id)

    def issue_from_system(self, credit: TransactionRecord) -> None:
        """Debit the credit's issuance shard (its sender), opening it on first use: the issuance
        shards alone may go below zero."""
        system = credit.sender
        if not is_system_account(system.user_id):
            raise StoreRejected(f"a welcome credit comes from an issuance account, not {system.user_id}")
        if system.user_id not in self.accounts:
            self.accounts[system.user_id] = Account(
                AccountRecord(user_id=system.user_id, email=system.email, full_name=system.full_name, balance=0, version=0),
                last_txn=None,
            )
        self.move(system.user_id, -credit.amount, credit)

    def system_accounts(self) -> dict[str, int]:
        """The issuance shards that exist, with their balances."""
        return {user_id: account.record.balance for user_id, account in self.accounts.items() if is_system_account(user_id)}

    def grant_spendable(self, user_id: str, use: GrantUse) -> bool:
        """The condition of ``core.table.consume_step_up_grant``: it exists, is this session's, has not expired."""
        grant = self.grants.get((user_id, use.grant_hash))
        return grant is not None and grant.session_id == use.session_id and grant.expires_at > use.now

    def put_transaction(self, txn: TransactionRecord) -> None:
        """The transaction and its ledger entries (``records.ledger_sides``, as the adapters write
        them): both sides of a transfer, the sender's alone when it failed, the one account a loan's
        escrow pays or is paid by, the borrower and each lender (their part) of a repayment."""
        txn = txn.model_copy(update={"created_at": stored_time(txn.created_at)})
        self.transactions[txn.reference_id] = txn
        for owner, direction, amount in ledger_sides(txn):
            counterparty = txn.receiver if direction == "sent" else txn.sender
            self.ledgers.setdefault(owner.user_id, {})[ledger_position(txn.created_at, txn.reference_id)] = LedgerEntry(
                reference_id=txn.reference_id,
                direction=direction,
                counterparty=counterparty,
                amount=amount,
                status=txn.status,
                note=txn.note,
                created_at=txn.created_at,
                kind=txn.kind,
                loan_id=txn.loan_id,
            )


# ---------------------------------------------------------------- wallet
class FakeWalletStore:
    """The wallet's store (``WalletStore``) and the audit's ``TransactionLookup``, over ``Tables``."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.transaction_reads: list[frozenset[str]] = []  # what each get_transactions asked for
        # A sender's balance as the adapter's container remembers it (it may be stale): see ``remember``.
        self.remembered: dict[str, int] = {}
        self.commits = 0  # commit_transfer calls, refused ones included
        self.ledger_queries = 0  # the statement's Queries (ledger_between and movements_since calls)
        self.account_reads = 0
        self.after_account_read: Callable[[int], None] | None = None  # called with the count of account reads

    def remember(self, user_id: str, balance: int) -> None:
        """Given the container remembers ``balance`` for ``user_id`` (as the adapter does after a transfer)."""
        self.remembered[user_id] = balance

    def load_parties(self, sender_id: str, receiver_email: str) -> tuple[AccountRecord | None, PartyRef | None]:
        sender = self.tables.accounts.get(sender_id)
        guard = self.tables.email_guards.get(receiver_email)
        receiver = None if guard is None else PartyRef(user_id=guard.user_id, email=receiver_email, full_name=guard.full_name)
        record = sender.record if sender else None
        if record is not None and sender_id in self.remembered:
            record = record.model_copy(update={"balance": self.remembered[sender_id]})
        return record, receiver

    def commit_transfer(self, txn: TransactionRecord, day: SendingDay, step_up: GrantUse | None, sender_balance: int) -> None:
        """Debit (needs the funds, and the balance to be ``sender_balance``), credit, the transaction
        (its reference new), the ledger, the day's counter (within the limit) and the step-up grant
        spent (when given), all or nothing.

        Precedence as the adapter declares it: a duplicate reference (0), the grant (1), the daily
        limit (2), the sender (3), the receiver (4): a retry of a committed transfer is
        DuplicateTransaction even when the sender's balance has since fallen short.
        """
        self.commits += 1
        if txn.sender.user_id == txn.receiver.user_id:
            raise StoreRejected("a transaction cannot include two operations on one item")
        sender = self.tables.accounts.get(txn.sender.user_id)
        sent = self.tables.daily_sent.get((txn.sender.user_id, day.day))
        if txn.reference_id in self.tables.transactions:
            raise DuplicateTransaction()
        if step_up is not None and not self.tables.grant_spendable(txn.sender.user_id, step_up):
            raise StepUpRequired()
        if sent is not None and sent > day.limit - txn.amount:
            raise DailyLimitExceeded(limit=day.limit, remaining=day.limit - sent, resets_at=day.resets_at)
        if sender is None:
            raise UserNotFound()
        if sender.record.balance != sender_balance:
            self.remembered[txn.sender.user_id] = sender.record.balance
            raise BalanceChanged(sender.record.balance)
        if sender.record.balance < txn.amount:
            raise InsufficientFunds(txn.reference_id)
        if txn.receiver.user_id not in self.tables.accounts:
            raise ReceiverNotFound()
        self.remembered[txn.sender.user_id] = sender_balance - txn.amount
        self.tables.move(txn.sender.user_id, -txn.amount, txn)
        self.tables.move(txn.receiver.user_id, txn.amount, txn)
        self.tables.put_transaction(txn)
        self.tables.daily_sent[(txn.sender.user_id, day.day)] = (sent or 0) + txn.amount
        if step_up is not None:
            del self.tables.grants[(txn.sender.user_id, step_up.grant_hash)]

    def sent_on(self, user_id: str, day: str) -> int:
        return self.tables.daily_sent.get((user_id, day), 0)

    def record_failed_transfer(self, txn: TransactionRecord) -> None:
        """The transaction and the sender's ledger entry, no balance moved; recording it twice is a no-op."""
        if txn.reference_id in self.tables.transactions:
            return
        self.tables.put_transaction(txn)

    def get_transaction(self, reference_id: str) -> TransactionRecord | None:
        return self.tables.transactions.get(reference_id)

    def get_transactions(self, reference_ids: Collection[str]) -> dict[str, TransactionRecord]:
        self.transaction_reads.append(frozenset(reference_ids))
        return {ref: self.tables.transactions[ref] for ref in reference_ids if ref in self.tables.transactions}

    def get_balance(self, user_id: str) -> tuple[int, int] | None:
        account = self.tables.accounts.get(user_id)
        return None if account is None else (account.record.balance, account.record.version)

    def history(
        self, user_id: str, direction: Direction | None, limit: int, after: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        """One page, newest first, after the position ``after``; the page's last position when more follow."""
        entries = sorted(self.tables.ledgers.get(user_id, {}).items(), reverse=True)
        if direction is not None:
            entries = [(position, entry) for position, entry in entries if entry.direction == direction]
        if after is not None:
            entries = [(position, entry) for position, entry in entries if position < after]
        page = entries[:limit]
        more = len(entries) > limit
        return [entry for _, entry in page], (page[-1][0] if more else None)

    # ---- statements
    def get_account(self, user_id: str) -> AccountRecord | None:
        account = self.tables.accounts.get(user_id)
        self.account_reads += 1
        if self.after_account_read is not None:
            # What happens right after this read, e.g. a transfer landing while a statement is read.
            self.after_account_read(self.account_reads)
        return None if account is None else account.record

    def _oldest_first(self, user_id: str, low: str, high: str | None, after: str | None) -> list[tuple[str, LedgerEntry]]:
        entries = sorted(self.tables.ledgers.get(user_id, {}).items())
        return [
            (position, entry)
            for position, entry in entries
            if position >= low and (high is None or position < high) and (after is None or position > after)
        ]

    def _page(self, entries: list[tuple[str, LedgerEntry]], limit: int) -> tuple[list[LedgerEntry], str | None]:
        self.ledger_queries += 1
        page = entries[:limit]
        return [entry for _, entry in page], (page[-1][0] if len(entries) > limit else None)

    def ledger_between(
        self, user_id: str, since: datetime, until: datetime, after: str | None, limit: int
    ) -> tuple[list[LedgerEntry], str | None]:
        """A page of [since, until), oldest first, after the position ``after`` (one Query there)."""
        low, high = ledger_position(since, ""), ledger_position(until, "")
        return self._page(self._oldest_first(user_id, low.rstrip("#"), high.rstrip("#"), after), limit)

    def movements_since(self, user_id: str, since: datetime, after: str | None, limit: int) -> tuple[list[Movement], str | None]:
        low = ledger_position(since, "").rstrip("#")
        entries, last = self._page(self._oldest_first(user_id, low, None, after), limit)
        return [Movement(direction=e.direction, amount=e.amount, status=e.status) for e in entries], last


# ---------------------------------------------------------------- identity
class FakeUserStore:
    """Registration and profiles (``UserStore``, and the vault's ``ProfileReader``), over ``Tables``."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def create_user(
        self,
        user: NewUser,
        sealed_aadhaar: SealedAadhaar,
        aadhaar_index: str,
        welcome_credit: TransactionRecord | None,
    ) -> None:
        """Profile, account, both guards, the vault entry and the welcome credit: all or nothing.

        The e-mail guard's failure (precedence 0) wins over the Aadhaar guard's (1).
        """
        tables = self.tables
        if user.email in tables.email_guards:
            raise EmailAlreadyRegistered()
        if aadhaar_index in tables.aadhaar_guards:
            raise AadhaarAlreadyRegistered()
        if user.user_id in tables.profiles or user.user_id in tables.accounts or user.user_id in tables.vault:
            raise StoreRejected(f"user {user.user_id} exists")
        if welcome_credit is not None and welcome_credit.reference_id in tables.transactions:
            raise StoreRejected(f"transaction {welcome_credit.reference_id} exists")
        created = stored_time(user.created_at)
        party = PartyRef(user_id=user.user_id, email=user.email, full_name=user.full_name)
        tables.profiles[user.user_id] = ProfileRecord(
            user_id=user.user_id,
            email=user.email,
            full_name=user.full_name,
            password_hash=user.password_hash,
            aadhaar_last4=user.aadhaar_last4,
            created_at=created,
        )
        tables.accounts[user.user_id] = Account(
            AccountRecord(
                user_id=user.user_id,
                email=user.email,
                full_name=user.full_name,
                balance=welcome_credit.amount if welcome_credit else 0,
                version=1,
            ),
            last_txn=welcome_credit.reference_id if welcome_credit else None,
        )
        tables.email_guards[user.email] = party
        tables.aadhaar_guards.add(aadhaar_index)
        tables.vault[user.user_id] = sealed_aadhaar
        if welcome_credit is not None:
            tables.issue_from_system(welcome_credit)
            tables.put_transaction(welcome_credit)

    def find_by_email(self, email: str) -> ProfileRecord | None:
        guard = self.tables.email_guards.get(email)
        return None if guard is None else self.get_profile(guard.user_id)

    def get_profile(self, user_id: str) -> ProfileRecord | None:
        return self.tables.profiles.get(user_id)


@dataclass(frozen=True)
class Family:
    family_id: str
    user_id: str
    expires_at: int
    ends_at: int = 0
    revoked: bool = False
    revoked_reason: str | None = None
    revoked_at: datetime | None = None


class FakeTokenStore:
    """Refresh tokens (by hash) and their families."""

    def __init__(self) -> None:
        self.tokens: dict[str, RefreshTokenRecord] = {}
        self.families: dict[str, Family] = {}
        self.reads = 0  # sessions read through get_session, as the authorizer reads them

    def create_family(self, family_id: str, user_id: str, token_hash: str, expires_at: int, ends_at: int, now: datetime) -> None:
        if family_id in self.families or token_hash in self.tokens:
            raise StoreRejected("family or token exists")
        self.families[family_id] = Family(family_id=family_id, user_id=user_id, expires_at=expires_at, ends_at=ends_at)
        self.tokens[token_hash] = RefreshTokenRecord(
            token_hash=token_hash,
            user_id=user_id,
            family_id=family_id,
            status="ACTIVE",
            expires_at=expires_at,
            session_ends_at=ends_at,
        )

    def get(self, token_hash: str) -> RefreshTokenRecord | None:
        # Like the adapter: the token as stored, whatever its family's state or its expiry (TTL lags).
        return self.tokens.get(token_hash)

    def rotate(self, old: RefreshTokenRecord, new_hash: str, expires_at: int, now: datetime) -> None:
        """Spend ``old`` (it must still be ACTIVE: else RefreshTokenReused) and issue ``new_hash``
        in its family (which must be neither revoked nor past its end: else InvalidRefreshToken),
        all or nothing."""
        stored = self.tokens.get(old.token_hash)
        family = self.families.get(old.family_id)
        if stored is None or stored.status != "ACTIVE":
            raise RefreshTokenReused()
        if family is None or family.revoked or family.ends_at <= int(now.timestamp()):
            raise InvalidRefreshToken()
        if new_hash in self.tokens:
            raise StoreRejected("token exists")
        self.tokens[old.token_hash] = stored.model_copy(update={"status": "USED"})
        self.tokens[new_hash] = RefreshTokenRecord(
            token_hash=new_hash,
            user_id=old.user_id,
            family_id=old.family_id,
            status="ACTIVE",
            expires_at=expires_at,
            session_ends_at=family.ends_at,
        )
        self.families[old.family_id] = replace(family, expires_at=expires_at)

    def revoke_family(self, family_id: str, reason: str, now: datetime) -> None:
        """Revoke the family; revoking twice (or an unknown family) changes nothing."""
        family = self.families.get(family_id)
        if family is None or family.revoked:
            return
        self.families[family_id] = replace(family, revoked=True, revoked_reason=reason, revoked_at=now)

    def session_ids(self, user_id: str, now: datetime) -> list[str]:
        """The user's families that have not reached their absolute end, revoked or not."""
        moment = int(now.timestamp())
        return sorted(f.family_id for f in self.families.values() if f.user_id == user_id and f.ends_at > moment)

    # identity.ports.SessionReader: what the authorizer reads of a session
    def get_session(self, session_id: str) -> SessionState | None:
        self.reads += 1
        family = self.families.get(session_id)
        if family is None:
            return None
        return SessionState(user_id=family.user_id, revoked=family.revoked, ends_at=family.ends_at)


class FakeAttemptStore:
    """identity.ports.AttemptStore in memory: every method holds one lock, as each DynamoDB call is atomic."""

    def __init__(self) -> None:
        self.windows: dict[WindowCounter, int] = {}
        self.streaks: dict[str, LoginStreak] = {}
        self.lock = threading.Lock()

    def count_in_window(self, counter: WindowCounter, limit: int, keep_until: int) -> int | None:
        with self.lock:
            count = self.windows.get(counter, 0)
            if count >= limit:
                return None
            self.windows[counter] = count + 1
            return count + 1

    def uncount(self, counter: WindowCounter) -> None:
        with self.lock:
            if self.windows.get(counter, 0) > 0:
                self.windows[counter] -= 1

    def forget(self, counter: WindowCounter) -> None:
        with self.lock:
            self.windows.pop(counter, None)

    def extend_streak(self, email: str, below: int, recent_since: int, now: int, keep_until: int) -> int | None:
        with self.lock:
            current = self.streaks.get(email)
            if current is not None and not (current.count < below and current.last_attempt_at >= recent_since):
                return None
            count = (current.count if current else 0) + 1
            self.streaks[email] = LoginStreak(count=count, last_attempt_at=now)
            return count

    def get_streak(self, email: str) -> LoginStreak | None:
        with self.lock:
            return self.streaks.get(email)

    def replace_streak(self, email: str, expected: LoginStreak | None, new: LoginStreak, keep_until: int) -> bool:
        with self.lock:
            if self.streaks.get(email) != expected:
                return False
            self.streaks[email] = new
            return True

    def clear_streak(self, email: str) -> None:
        with self.lock:
            self.streaks.pop(email, None)


# ---------------------------------------------------------------- vault
FAKE_KEY_ID = "arn:aws:kms:ap-south-1:111122223333:key/00000000-0000-4000-8000-000000000001"
FAKE_MASTER_KEY = bytes(range(32))


class FakeDataKeys:
    """KMS data keys, really wrapped: AES-256-GCM under a fixed in-memory master key, the encryption
    context as associated data, so unwrapping under another context (or key) fails as KMS does,
    with VaultIntegrityError.

    ``bind_context=False`` makes a provider that ignores the context, to show that the vault's own
    AES-GCM layer refuses a moved entry even when the key provider would not.
    """

    NONCE_BYTES = 12

    def __init__(self, *, key_id: str = FAKE_KEY_ID, master_key: bytes = FAKE_MASTER_KEY, bind_context: bool = True) -> None:
        self.key_id = key_id
        self._master = AESGCM(master_key)
        self._bind_context = bind_context
        self.generated: list[dict[str, str]] = []  # the context of every data key made
        self.unwrapped: list[dict[str, str]] = []  # the context of every unwrap asked for

    def _aad(self, context: dict[str, str]) -> bytes:
        return json.dumps(context, sort_keys=True, separators=(",", ":")).encode() if self._bind_context else b""

    def generate(self, context: dict[str, str]) -> DataKey:
        self.generated.append(dict(context))
        plaintext = os.urandom(32)
        nonce = os.urandom(self.NONCE_BYTES)
        return DataKey(
            key_id=self.key_id, plaintext=plaintext, wrapped=nonce + self._master.encrypt(nonce, plaintext, self._aad(context))
        )

    def unwrap(self, key_id: str, wrapped: bytes, context: dict[str, str]) -> bytes:
        self.unwrapped.append(dict(context))
        if key_id != self.key_id:
            raise VaultIntegrityError()  # KMS: IncorrectKeyException
        nonce, sealed = wrapped[: self.NONCE_BYTES], wrapped[self.NONCE_BYTES :]
        try:
            return self._master.decrypt(nonce, sealed, self._aad(context))
        except (InvalidTag, ValueError):
            raise VaultIntegrityError() from None  # KMS: InvalidCiphertextException


class FakeIndexMac:
    """The KMS HMAC key: HMAC-SHA256 under a key held in memory, never handed out."""

    def __init__(self, key: bytes = b"fake-kms-hmac-key") -> None:
        self._key = key
        self.calls = 0

    def mac(self, message: bytes) -> bytes:
        self.calls += 1
        return hmac.new(self._key, message, hashlib.sha256).digest()


class FakeVaultStore:
    """The vault table's entries, as registration wrote them into ``Tables``."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def get(self, user_id: str) -> SealedAadhaar | None:
        return self.tables.vault.get(user_id)


class FakeRevealLog:
    """Aadhaar reveal events in the main table, keyed (as the adapter's put) by user, time and request id."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def record_reveal(
        self, user_id: str, request_id: str, at: datetime, keep_until: datetime, step_up: GrantUse | None = None
    ) -> None:
        """The event; with ``step_up``, the grant spent in the same transaction (StepUpRequired when it cannot be)."""
        key = (user_id, ledger_position(at, request_id))
        if key in self.tables.reveals:
            raise StoreRejected("reveal event exists")  # the adapter's put is conditioned on a new key
        if step_up is not None:
            if not self.tables.grant_spendable(user_id, step_up):
                raise StepUpRequired()
            del self.tables.grants[(user_id, step_up.grant_hash)]
        self.tables.reveals[key] = RevealEvent(user_id=user_id, request_id=request_id, at=at, keep_until=keep_until)

    def of(self, user_id: str) -> list[RevealEvent]:
        return [event for (owner, _), event in sorted(self.tables.reveals.items()) if owner == user_id]


class FakeStepUpStore:
    """Step-up grants and authenticators in ``Tables``: each write checks every condition the
    adapter's transaction does before changing anything."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def get_totp(self, user_id: str) -> TotpFactor | None:
        stored = self.tables.totp.get(user_id)
        if stored is None:
            return None
        return TotpFactor(
            status="ACTIVE" if stored.status == "ACTIVE" else "PENDING",
            sealed=stored.sealed,
            last_step=stored.last_step,
            recovery_codes_left=len(stored.recovery),
        )

    def grant_valid(self, user_id: str, use: GrantUse) -> bool:
        return self.tables.grant_spendable(user_id, use)

    def _put_grant(self, user_id: str, grant: NewGrant) -> None:
        if (user_id, grant.grant_hash) in self.tables.grants:
            raise StoreRejected("grant exists")
        self.tables.grants[(user_id, grant.grant_hash)] = StoredGrant(
            user_id=user_id, session_id=grant.session_id, expires_at=grant.expires_at, method=grant.method
        )

    def _active(self, user_id: str) -> StoredTotp | None:
        stored = self.tables.totp.get(user_id)
        return stored if stored is not None and stored.status == "ACTIVE" else None

    def grant_for_password(self, user_id: str, grant: NewGrant) -> None:
        if self._active(user_id) is not None:
            raise StepUpRequired(methods=("totp", "recovery_code"))
        self._put_grant(user_id, grant)

    def grant_for_totp(self, user_id: str, step: int, grant: NewGrant) -> None:
        stored = self._active(user_id)
        if stored is None or (stored.last_step is not None and stored.last_step >= step):
            raise SecondFactorIncorrect()
        self._put_grant(user_id, grant)
        self.tables.totp[user_id] = replace(stored, last_step=step)

    def grant_for_recovery_code(self, user_id: str, code_hash: str, grant: NewGrant) -> None:
        stored = self._active(user_id)
        if stored is None or code_hash not in stored.recovery:
            raise SecondFactorIncorrect()
        self._put_grant(user_id, grant)
        self.tables.totp[user_id] = replace(stored, recovery=stored.recovery - {code_hash})

    def begin_totp(self, user_id: str, sealed: SealedSecret, recovery_hashes: list[str], at: datetime, step_up: GrantUse) -> None:
        if not self.tables.grant_spendable(user_id, step_up):
            raise StepUpRequired()
        if self._active(user_id) is not None:
            raise TotpAlreadyEnabled()
        del self.tables.grants[(user_id, step_up.grant_hash)]
        self.tables.totp[user_id] = StoredTotp(status="PENDING", sealed=sealed, recovery=frozenset(recovery_hashes))

    def activate_totp(self, user_id: str, nonce: bytes, step: int) -> None:
        stored = self.tables.totp.get(user_id)
        if stored is None or stored.status != "PENDING" or stored.sealed.nonce != nonce:
            raise TotpNotPending()
        self.tables.totp[user_id] = replace(stored, status="ACTIVE", last_step=step)


# ---------------------------------------------------------------- audit
class FakeAuditStore:
    """The append-only audit table, by stream event id: a record already there is left alone."""

    def __init__(self) -> None:
        self.records: dict[str, AuditRecord] = {}

    def append_all(self, records: Sequence[AuditRecord]) -> list[AuditRecord]:
        new = []
        for record in records:
            if record.event_id not in self.records:
                self.records[record.event_id] = record
                new.append(record)
        return new


# ---------------------------------------------------------------- every fake is its port (checked by mypy)
_tables = Tables()
_wallet_store: WalletStore = FakeWalletStore(_tables)
_transaction_lookup: TransactionLookup = FakeWalletStore(_tables)
_user_store: UserStore = FakeUserStore(_tables)
_profile_reader: ProfileReader = FakeUserStore(_tables)
_token_store: TokenStore = FakeTokenStore()
_failure_store: AttemptStore = FakeAttemptStore()
_data_keys: DataKeyProvider = FakeDataKeys()
_sealed_store: SealedStore = FakeVaultStore(_tables)
_reveal_log: RevealLog = FakeRevealLog(_tables)
_step_up_store: StepUpStore = FakeStepUpStore(_tables)
_audit_store: AuditStore = FakeAuditStore()
_index_mac: IndexMac = FakeIndexMac()
