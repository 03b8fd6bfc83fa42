"""The wallet: exactly-once transfers, balance, history and transaction detail."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vaultpay.core import cursor as cursors
from vaultpay.core.clock import IST
from vaultpay.core.errors import (
    AmountAboveLimit,
    BalanceChanged,
    ConcurrentUpdate,
    DailyLimitExceeded,
    DuplicateTransaction,
    IdempotencyKeyReused,
    InsufficientFunds,
    MalformedIdempotencyKey,
    MissingIdempotencyKey,
    ReceiverNotFound,
    SelfTransfer,
    StatementNotAvailable,
    StatementTooLarge,
    StepUpRequired,
    TransactionNotFound,
    UserNotFound,
)
from vaultpay.core.grants import grant_use
from vaultpay.core.records import Direction, LedgerEntry, PartyRef, TransactionRecord, TransactionStatus, ledger_sides
from vaultpay.wallet.models import (
    Balance,
    HistoryEntry,
    HistoryPage,
    Party,
    SendingDay,
    SendingLimits,
    Statement,
    StatementLine,
    TransactionDetail,
    TransferOutcome,
    TransferReceipt,
    TransferRequest,
)
from vaultpay.wallet.ports import WalletStore

# Fixed forever: references already issued are derived from it.
REFERENCE_NAMESPACE = uuid.UUID("6f1c3c1e-5a4b-4d0e-9b8e-7a2f1d9c4e10")
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
_POSITION_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z#[0-9a-f-]{36}$")
REFERENCE_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CURSOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")  # what encode_cursor writes: unpadded URL-safe base64
FAILED_INSUFFICIENT_FUNDS = "insufficient-funds"
STEP_UP_METHODS = ("password", "totp", "recovery_code")
STATEMENT_PAGE = 500  # ledger entries per Query of a statement (well under a Query's 1 MB)
STATEMENT_READS = 3  # attempts at reading a statement while the account keeps moving under it


def sending_day(moment: datetime, limit: int) -> SendingDay:
    """The calendar day in IST that ``moment`` falls in, and when it ends (in UTC)."""
    local = moment.astimezone(IST)
    start = datetime(local.year, local.month, local.day, tzinfo=IST)
    return SendingDay(day=local.date().isoformat(), limit=limit, resets_at=(start + timedelta(days=1)).astimezone(UTC))


def statement_period(month: str) -> tuple[datetime, datetime]:
    """A calendar month in IST (``YYYY-MM``) as the UTC instants it starts and ends at (the end
    not included): November 2026 is 2026-10-31T18:30Z to 2026-11-30T18:30Z."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=IST)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=IST)
    return start.astimezone(UTC), end.astimezone(UTC)


def balance_change(direction: Direction, amount: int, status: TransactionStatus) -> int:
    """What a ledger entry did to its owner's balance: a failed transfer nothing; a commitment
    (PENDING in escrow, SUCCESS once lent, REFUNDED since) left the balance when it was made, and
    its refund is an entry of its own."""
    if status == "FAILED":
        return 0
    return amount if direction == "received" else -amount


def validate_idempotency_key(value: str | None) -> str:
    if value is None or not value.strip():
        raise MissingIdempotencyKey()
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(value):
        raise MalformedIdempotencyKey()
    return value


def reference_for(sender_id: str, idempotency_key: str) -> str:
    """The transfer's reference, derived from who asked and their key: the same request retried
    after a crash gets the same reference, and the transaction's uniqueness guard catches it."""
    return str(uuid.uuid5(REFERENCE_NAMESPACE, f"{sender_id}\n{idempotency_key}"))


def _party(ref: PartyRef) -> Party:
    return Party(email=ref.email, full_name=ref.full_name)


def _who_may_see(txn: TransactionRecord) -> tuple[str, ...]:
    """The people in its ledger: a failed one's sender, a transfer's two sides, the one account a
    loan's escrow pays or is paid by, a repayment's borrower and lenders."""
    return tuple(party.user_id for party, _direction, _amount in ledger_sides(txn))


def encode_cursor(position: str, direction: Direction | None) -> str:
    return cursors.encode_cursor(position, direction or "all")


def decode_cursor(cursor: str, direction: Direction | None) -> str:
    """The position inside the caller's own partition (``core.cursor``)."""
    return cursors.decode_cursor(cursor, direction or "all", _POSITION_PATTERN)


@dataclass(frozen=True)
class WalletService:
    store: WalletStore
    max_transfer_paise: int
    clock: Callable[[], datetime]
    daily_limit_paise: int = 10_000_000
    step_up_threshold_paise: int = 1_000_000
    # Commits tried again when the sender's balance moved between the read and the debit.
    balance_change_retries: int = 4
    statement_max_lines: int = 5_000

    # ------------------------------------------------------------ transfer
    def transfer(
        self,
        sender_id: str,
        idempotency_key: str,
        request: TransferRequest,
        *,
        session_id: str | None = None,
        step_up_grant: str | None = None,
    ) -> TransferOutcome:
        """Move the money, once per key. Above the step-up threshold the request must carry a grant
        of the caller's own session, which the transfer's transaction spends; the daily limit is a
        counter updated, on condition, by that same transaction: concurrent transfers cannot pass
        it, and a refused transfer (limit or step-up) writes nothing."""
        if request.amount > self.max_transfer_paise:
            raise AmountAboveLimit()
        now = self.clock()
        day = sending_day(now, self.daily_limit_paise)
        if request.amount > day.limit:
            raise DailyLimitExceeded(
                limit=day.limit, remaining=day.limit - self.store.sent_on(sender_id, day.day), resets_at=day.resets_at
            )
        step_up = None
        if request.amount > self.step_up_threshold_paise:
            step_up = grant_use(step_up_grant, session_id, int(now.timestamp()))
            if step_up is None:
                raise StepUpRequired(
                    "Transfers above the step-up threshold need a fresh proof: step up, then retry with the grant"
                    " in the X-Step-Up header and the same Idempotency-Key.",
                    methods=STEP_UP_METHODS,
                    threshold=self.step_up_threshold_paise,
                )
        reference_id = reference_for(sender_id, idempotency_key)
        sender, receiver = self.store.load_parties(sender_id, request.receiver_email)
        if sender is None:
            raise UserNotFound()
        if receiver is None:
            raise ReceiverNotFound()
        if receiver.user_id == sender_id:
            raise SelfTransfer()
        # The debit is conditioned on the balance as last seen (read now, or remembered from this
        # container's last transfer of the sender), so the balance right after it is known without
        # reading it back; when it moved meanwhile, the condition's view of it is the next guess.
        balance = sender.balance
        for _ in range(self.balance_change_retries + 1):
            txn = TransactionRecord(
                reference_id=reference_id,
                kind="TRANSFER",
                status="SUCCESS",
                sender=sender.party,
                receiver=receiver,
                amount=request.amount,
                note=request.note or None,
                created_at=now,
                sender_balance_after=balance - request.amount,
            )
            try:
                self.store.commit_transfer(txn, day, step_up, sender_balance=balance)
            except BalanceChanged as changed:
                balance = changed.balance
                continue
            except StepUpRequired as refused:
                raise StepUpRequired(refused.detail, methods=STEP_UP_METHODS, threshold=self.step_up_threshold_paise) from None
            except DuplicateTransaction:
                return self._original(reference_id, sender_id, request)
            except InsufficientFunds:
                self.store.record_failed_transfer(
                    txn.model_copy(
                        update={"status": "FAILED", "failure_reason": FAILED_INSUFFICIENT_FUNDS, "sender_balance_after": None}
                    )
                )
                raise
            return TransferOutcome(receipt=self._receipt(txn, sender_id))
        raise ConcurrentUpdate()

    def _original(self, reference_id: str, sender_id: str, request: TransferRequest) -> TransferOutcome:
        """The answer to a request whose transaction is already recorded: the original result."""
        original = self.store.get_transaction(reference_id)
        if original is None:
            raise ConcurrentUpdate()
        same_request = (
            original.receiver.email == request.receiver_email
            and original.amount == request.amount
            and original.note == (request.note or None)
        )
        if not same_request:
            raise IdempotencyKeyReused()
        if original.status == "FAILED":
            raise InsufficientFunds(reference_id)
        return TransferOutcome(receipt=self._receipt(original, sender_id), replayed=True)

    def _receipt(self, txn: TransactionRecord, sender_id: str) -> TransferReceipt:
        """The receipt; its balance is the sender's right after the transfer (read now only for a
        transaction recorded before transfers kept it, when it is the balance now)."""
        balance = txn.sender_balance_after
        if balance is None:
            current = self.store.get_balance(sender_id)
            if current is None:
                raise UserNotFound()
            balance = current[0]
        return TransferReceipt(
            reference_id=txn.reference_id,
            status=txn.status,
            amount=txn.amount,
            receiver=_party(txn.receiver),
            note=txn.note,
            created_at=txn.created_at,
            balance=balance,
        )

    # ------------------------------------------------------------ reads
    def limits(self, user_id: str) -> SendingLimits:
        """What the caller may still send today (IST), and above which amount a transfer needs step-up."""
        day = sending_day(self.clock(), self.daily_limit_paise)
        sent = self.store.sent_on(user_id, day.day)
        return SendingLimits(
            day=day.day,
            daily_limit=day.limit,
            sent_today=sent,
            remaining_today=max(0, day.limit - sent),
            resets_at=day.resets_at,
            step_up_threshold=self.step_up_threshold_paise,
        )

    def balance(self, user_id: str) -> Balance:
        found = self.store.get_balance(user_id)
        if found is None:
            raise UserNotFound()
        return Balance(balance=found[0], version=found[1])

    def history(self, user_id: str, limit: int, cursor: str | None, direction: Direction | None) -> HistoryPage:
        after = decode_cursor(cursor, direction) if cursor else None
        entries, last = self.store.history(user_id, direction, limit, after)
        return HistoryPage(
            results=[
                HistoryEntry(
                    reference_id=entry.reference_id,
                    direction=entry.direction,
                    counterparty=_party(entry.counterparty),
                    amount=entry.amount,
                    status=entry.status,
                    note=entry.note,
                    created_at=entry.created_at,
                    kind=entry.kind,
                    loan_id=entry.loan_id,
                )
                for entry in entries
            ],
            next_cursor=encode_cursor(last, direction) if last else None,
        )

    def transaction(self, user_id: str, reference_id: str) -> TransactionDetail:
        """A transaction, to its sender or receiver only (a failed one to its sender only):
        to anyone else it does not exist."""
        txn = self.store.get_transaction(reference_id) if REFERENCE_PATTERN.fullmatch(reference_id) else None
        if txn is None or user_id not in _who_may_see(txn):
            raise TransactionNotFound()
        return TransactionDetail(
            reference_id=txn.reference_id,
            kind=txn.kind,
            status=txn.status,
            direction="sent" if txn.sender.user_id == user_id else "received",
            amount=txn.amount,
            sender=_party(txn.sender),
            receiver=_party(txn.receiver),
            note=txn.note,
            failure_reason=txn.failure_reason,
            created_at=txn.created_at,
            loan_id=txn.loan_id,
        )

    # ------------------------------------------------------------ statements
    def statement(self, user_id: str, month: str) -> Statement:
        """Every movement of a calendar month (IST), oldest first, from the opening balance to the
        closing one, computed from the ledger alone: nothing is stored for statements.

        The closing balance is the account's balance less what the entries after the month did;
        the opening balance is the closing one less what the month's entries did. Each page of
        entries is one Query of the account's ledger, by time (the month's, then the one after
        it, amounts only), so a statement costs one Query per page of the month plus one per page
        of what followed it: for the current month, the month's pages and one empty Query.

        Every balance change writes its ledger entry in the same transaction and bumps the
        account's version, so the account is read before and after the Queries: the same version
        both times means the ledger was read as of that balance (otherwise it is read again)."""
        start, end = statement_period(month)
        now = self.clock()
        if start > now:
            raise StatementNotAvailable()
        for _ in range(STATEMENT_READS):
            before = self.store.get_account(user_id)
            if before is None:
                raise UserNotFound()
            entries = self._entries_between(user_id, start, end)
            later = self._change_since(user_id, end)
            after = self.store.get_account(user_id)
            if after is not None and after.version == before.version:
                break
        else:
            raise ConcurrentUpdate()
        closing = before.balance - later
        lines: list[StatementLine] = []
        running = closing - sum(balance_change(e.direction, e.amount, e.status) for e in entries)
        opening = running
        for entry in entries:
            running += balance_change(entry.direction, entry.amount, entry.status)
            lines.append(
                StatementLine(
                    reference_id=entry.reference_id,
                    created_at=entry.created_at,
                    kind=entry.kind,
                    status=entry.status,
                    direction=entry.direction,
                    counterparty=_party(entry.counterparty),
                    amount=entry.amount,
                    balance_after=running,
                    note=entry.note,
                    loan_id=entry.loan_id,
                )
            )
        return Statement(
            month=month,
            account=_party(before.party),
            period_start=start,
            period_end=end,
            closed=end <= now,
            opening_balance=opening,
            closing_balance=closing,
            total_credits=sum(line.amount for line in lines if line.direction == "received"),
            total_debits=sum(line.amount for line in lines if line.direction == "sent"),
            lines=lines,
            generated_at=now,
        )

    def _entries_between(self, user_id: str, start: datetime, end: datetime) -> list[LedgerEntry]:
        """The month's entries that moved money (a failed transfer moved nothing), a Query a page."""
        found: list[LedgerEntry] = []
        position: str | None = None
        while True:
            page, position = self.store.ledger_between(user_id, start, end, position, STATEMENT_PAGE)
            found.extend(entry for entry in page if entry.status != "FAILED")
            if len(found) > self.statement_max_lines:
                raise StatementTooLarge()
            if position is None:
                return found

    def _change_since(self, user_id: str, since: datetime) -> int:
        """What every entry from ``since`` on did to the balance, a Query a page."""
        total = 0
        position: str | None = None
        while True:
            page, position = self.store.movements_since(user_id, since, position, STATEMENT_PAGE)
            total += sum(balance_change(m.direction, m.amount, m.status) for m in page)
            if position is None:
                return total
