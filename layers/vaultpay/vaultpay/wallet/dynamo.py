"""Wallet data access: the transfer transaction, its failure record, balances and history."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from vaultpay.core import table as keys
from vaultpay.core.dynamo import (
    Item,
    TransactItem,
    epoch,
    iso,
    marshal,
    marshal_values,
    read_item,
    unmarshal,
    write_transaction,
)
from vaultpay.core.errors import (
    BalanceChanged,
    DailyLimitExceeded,
    DuplicateTransaction,
    InsufficientFunds,
    ReceiverNotFound,
    StepUpRequired,
    UserNotFound,
)
from vaultpay.core.grants import GrantUse
from vaultpay.core.records import AccountRecord, Direction, LedgerEntry, PartyRef, TransactionRecord
from vaultpay.wallet.models import Movement, SendingDay

# Above every ledger position (``LEDGER#<timestamp>#<reference>``, timestamps start with a digit).
_LEDGER_TOP = f"{keys.LEDGER_PREFIX}~"

# The day's counter outlives its day by this much (DynamoDB's TTL then deletes it, whenever it does:
# nothing reads a past day's counter).
_DAY_COUNTER_KEPT = timedelta(days=2)


def _duplicate(_seen: object) -> DuplicateTransaction:
    return DuplicateTransaction()


def _grant_refused(_seen: object) -> StepUpRequired:
    return StepUpRequired("The step-up grant is not valid: it expired, was used, or belongs to another session. Step up again.")


def daily_sent_update(table: str, user_id: str, amount: int, day: SendingDay) -> dict[str, Any]:
    """A TransactWriteItems Update adding ``amount`` to the sender's counter for ``day``, on
    condition that it stays within the limit. The item the condition saw comes back with the
    cancellation (ALL_OLD), so the refusal can say how much remains."""
    return {
        "Update": {
            "TableName": table,
            "Key": marshal(keys.daily_sent_key(user_id, day.day)),
            "UpdateExpression": "ADD #sent :amount SET #type = :type, #day = :day, #expires = :expires",
            "ConditionExpression": "attribute_not_exists(#sent) OR #sent <= :room",
            "ExpressionAttributeNames": {"#sent": "sent", "#type": "type", "#day": "day", "#expires": "expires_at"},
            "ExpressionAttributeValues": marshal_values(
                {
                    ":amount": amount,
                    ":room": day.limit - amount,
                    ":type": keys.TYPE_DAILY_SENT,
                    ":day": day.day,
                    ":expires": epoch(day.resets_at + _DAY_COUNTER_KEPT),
                }
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _limit_refused(day: SendingDay) -> Callable[[Item | None], Exception]:
    def build(seen: Item | None) -> DailyLimitExceeded:
        sent = int(seen.get("sent", 0)) if seen else 0
        return DailyLimitExceeded(limit=day.limit, remaining=day.limit - sent, resets_at=day.resets_at)

    return build


Key = TypeVar("Key")
Value = TypeVar("Value")


class Recent(Generic[Key, Value]):
    """The ``size`` most recently used entries (a container's memory of what it saw lately)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Key, Value] = OrderedDict()

    def get(self, key: Key) -> Value | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: Key, value: Value) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)


def _debit_refused(txn: TransactionRecord, expected: int) -> Callable[[Item | None], Exception]:
    """What a failed debit condition means, by the account it saw: gone, another balance than
    expected (decide again with it), or the expected one, too low."""

    def build(seen: Item | None) -> Exception:
        if seen is None:
            return UserNotFound()
        balance = int(seen.get("balance", 0))
        if balance != expected or balance >= txn.amount:
            return BalanceChanged(balance)
        return InsufficientFunds(txn.reference_id)

    return build


class DynamoWalletRepository:
    """Transfers and reads of the main table. The repository lives as long as its container and
    remembers, for the next transfers: who an e-mail address belongs to (its guard never changes:
    a new account is a new address), and each recent sender's account as its last transfer left
    it (only a guess at the balance, which the debit's condition checks). A guess that proved
    stale (money came in meanwhile) costs a refused transaction: that sender's account is read
    afresh instead, for ``distrust_seconds``, so a busy account costs a read, not two writes."""

    def __init__(
        self,
        client: Any,
        main_table: str,
        *,
        conflict_retries: int = 4,
        remembered: int = 4096,
        distrust_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._main = main_table
        self._conflict_retries = conflict_retries
        self._payees: Recent[str, PartyRef] = Recent(remembered)
        self._senders: Recent[str, AccountRecord] = Recent(remembered)
        self._distrusted: Recent[str, float] = Recent(remembered)  # sender -> read afresh until
        self._distrust_seconds = distrust_seconds
        self._clock = clock

    def _guess(self, sender_id: str) -> AccountRecord | None:
        until = self._distrusted.get(sender_id)
        if until is not None and until > self._clock():
            return None
        return self._senders.get(sender_id)

    def load_parties(self, sender_id: str, receiver_email: str) -> tuple[AccountRecord | None, PartyRef | None]:
        """The sender's account and the receiver (by e-mail): what this container does not
        remember (or no longer trusts), in one read (GetItem or BatchGetItem), or none."""
        sender = self._guess(sender_id)
        receiver = self._payees.get(receiver_email)
        wanted = []
        sender_key = keys.key(keys.user_pk(sender_id), keys.ACCOUNT_SK)
        guard_key = keys.key(keys.email_pk(receiver_email), keys.EMAIL_SK)
        if sender is None:
            wanted.append(sender_key)
        if receiver is None:
            wanted.append(guard_key)
        # Strongly consistent: someone who registered a moment ago can be paid at once.
        for item in self._read(wanted):
            if item[keys.PK] == sender_key[keys.PK]:
                sender = keys.account_from_item(item)
                self._senders.put(sender_id, sender)
            elif item[keys.PK] == guard_key[keys.PK]:
                receiver = PartyRef(user_id=item["user_id"], email=receiver_email, full_name=item["full_name"])
                self._payees.put(receiver_email, receiver)
        return sender, receiver

    def _read(self, wanted: list[dict[str, str]]) -> list[Item]:
        if not wanted:
            return []
        if len(wanted) == 1:
            item = read_item(self._client, self._main, wanted[0])
            return [item] if item else []
        request: dict[str, Any] = {self._main: {"Keys": [marshal(key) for key in wanted], "ConsistentRead": True}}
        found: list[Item] = []
        while request:
            response = self._client.batch_get_item(RequestItems=request)
            found.extend(unmarshal(item) for item in response.get("Responses", {}).get(self._main, []))
            request = response.get("UnprocessedKeys") or {}
        return found

    def commit_transfer(self, txn: TransactionRecord, day: SendingDay, step_up: GrantUse | None, sender_balance: int) -> None:
        """Debit, credit, the transaction, both ledger entries, the day's sent counter and (when
        given) the step-up grant's deletion, in one TransactWriteItems.

        The debit is conditioned on the sender's balance being ``sender_balance`` and covering the
        amount. The transaction's Put is conditioned on its reference being new: a retry of a
        request that already committed raises DuplicateTransaction and moves nothing. When several
        conditions fail, the first of: duplicate (a retry is answered with its original), step-up
        (nothing is said of the account to an unproven caller), daily limit, the sender's balance
        (changed, or too low), receiver.
        """
        try:
            self._commit(txn, day, step_up, sender_balance)
        except BalanceChanged as changed:
            self._remember_balance(txn.sender, changed.balance)
            self._distrusted.put(txn.sender.user_id, self._clock() + self._distrust_seconds)
            raise
        except ReceiverNotFound:
            self._payees.forget(txn.receiver.email)
            raise
        except Exception:
            self._senders.forget(txn.sender.user_id)
            raise
        self._remember_balance(txn.sender, sender_balance - txn.amount)

    def _remember_balance(self, sender: PartyRef, balance: int) -> None:
        """The sender's balance as a condition just saw it (its version is not known: nothing reads it)."""
        party = {"user_id": sender.user_id, "email": sender.email, "full_name": sender.full_name}
        self._senders.put(sender.user_id, AccountRecord(**party, balance=balance, version=0))

    def _commit(self, txn: TransactionRecord, day: SendingDay, step_up: GrantUse | None, sender_balance: int) -> None:
        items = [
            TransactItem(
                keys.account_balance_update(
                    self._main, txn.sender.user_id, -txn.amount, txn, require_funds=True, expected_balance=sender_balance
                ),
                on_condition_failed=_debit_refused(txn, sender_balance),
                precedence=3,
            ),
            TransactItem(
                keys.account_balance_update(self._main, txn.receiver.user_id, txn.amount, txn, require_funds=False),
                on_condition_failed=lambda _: ReceiverNotFound(),
                precedence=4,
            ),
            TransactItem(keys.put(self._main, keys.transaction_item(txn), unique=True), on_condition_failed=_duplicate),
            *(TransactItem(keys.put(self._main, entry)) for entry in keys.ledger_items(txn)),
            TransactItem(
                daily_sent_update(self._main, txn.sender.user_id, txn.amount, day),
                on_condition_failed=_limit_refused(day),
                precedence=2,
            ),
        ]
        if step_up is not None:
            request = keys.consume_step_up_grant(
                self._main, txn.sender.user_id, step_up.grant_hash, step_up.session_id, step_up.now
            )
            items.append(TransactItem(request, on_condition_failed=_grant_refused, precedence=1))
        write_transaction(self._client, items, conflict_retries=self._conflict_retries)

    def sent_on(self, user_id: str, day: str) -> int:
        """What the user has sent on ``day`` (IST), by the counter the transfers keep."""
        data = read_item(self._client, self._main, keys.daily_sent_key(user_id, day), projection="sent")
        return int(data["sent"]) if data and "sent" in data else 0

    def record_failed_transfer(self, txn: TransactionRecord) -> None:
        """A FAILED transaction and the sender's ledger entry; no balance moves. Recording it twice is a no-op."""
        try:
            write_transaction(
                self._client,
                [
                    TransactItem(keys.put(self._main, keys.transaction_item(txn), unique=True), on_condition_failed=_duplicate),
                    *(TransactItem(keys.put(self._main, entry)) for entry in keys.ledger_items(txn)),
                ],
                conflict_retries=self._conflict_retries,
            )
        except DuplicateTransaction:
            return

    def get_transaction(self, reference_id: str) -> TransactionRecord | None:
        item = read_item(self._client, self._main, keys.key(keys.txn_pk(reference_id), keys.TXN_SK))
        return keys.transaction_from_item(item) if item else None

    def get_transactions(self, reference_ids: Collection[str]) -> dict[str, TransactionRecord]:
        """Several transactions in BatchGetItem calls of up to 100 keys."""
        found: dict[str, TransactionRecord] = {}
        wanted = sorted(reference_ids)
        for start in range(0, len(wanted), 100):
            keys_ = [marshal(keys.key(keys.txn_pk(reference), keys.TXN_SK)) for reference in wanted[start : start + 100]]
            request: dict[str, Any] = {self._main: {"Keys": keys_, "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._main, []):
                    txn = keys.transaction_from_item(unmarshal(item))
                    found[txn.reference_id] = txn
                request = response.get("UnprocessedKeys") or {}
        return found

    def get_balance(self, user_id: str) -> tuple[int, int] | None:
        """(balance, version) of an account, strongly consistent."""
        data = read_item(
            self._client, self._main, keys.key(keys.user_pk(user_id), keys.ACCOUNT_SK), projection="balance, version"
        )
        if data is None:
            return None
        return int(data["balance"]), int(data["version"])

    def history(
        self, user_id: str, direction: Direction | None, limit: int, after: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        """One page of the ledger, newest first, in one Query (whatever the history's length).

        ``after`` is the position (``<created_at>#<reference_id>``) of the last entry of the
        previous page; the returned position is that of this page's last entry when more follow.
        """
        query: dict[str, Any] = {"TableName": self._main, "ScanIndexForward": False, "Limit": limit + 1}
        if direction is None:
            query["KeyConditionExpression"] = "PK = :pk AND begins_with(SK, :prefix)"
            query["ExpressionAttributeValues"] = marshal_values({":pk": keys.user_pk(user_id), ":prefix": keys.LEDGER_PREFIX})
        else:
            query["IndexName"] = "GSI1"
            query["KeyConditionExpression"] = "GSI1PK = :pk"
            query["ExpressionAttributeValues"] = marshal_values({":pk": keys.direction_pk(user_id, direction)})
        if after is not None:
            start = keys.key(keys.user_pk(user_id), f"{keys.LEDGER_PREFIX}{after}")
            if direction is not None:
                start |= {"GSI1PK": keys.direction_pk(user_id, direction), "GSI1SK": after}
            query["ExclusiveStartKey"] = marshal(start)
        items = [unmarshal(item) for item in self._client.query(**query).get("Items", [])]
        page = [keys.ledger_from_item(item) for item in items[:limit]]
        more = len(items) > limit
        last = items[limit - 1][keys.SK].removeprefix(keys.LEDGER_PREFIX) if more else None
        return page, last

    # ------------------------------------------------------------ statements
    def get_account(self, user_id: str) -> AccountRecord | None:
        item = read_item(
            self._client,
            self._main,
            keys.key(keys.user_pk(user_id), keys.ACCOUNT_SK),
            projection="user_id, email, full_name, balance, version",
        )
        return keys.account_from_item(item) if item else None

    def _ledger_range(
        self, user_id: str, low: str, high: str, after: str | None, limit: int, projection: str | None = None
    ) -> tuple[list[Item], str | None]:
        """One strongly consistent Query of ``LEDGER#`` positions from ``low`` to ``high`` (both as
        sort keys, ``BETWEEN``), oldest first, after the position ``after``. Where the next page
        starts: after this page's last entry, when more follow or the Query stopped at its 1 MB."""
        query: dict[str, Any] = {
            "TableName": self._main,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": marshal_values({":pk": keys.user_pk(user_id), ":low": low, ":high": high}),
            "ScanIndexForward": True,
            "ConsistentRead": True,
            "Limit": limit + 1,
        }
        if projection:
            query["ProjectionExpression"] = projection
            query["ExpressionAttributeNames"] = {"#status": "status"}
        if after is not None:
            query["ExclusiveStartKey"] = marshal(keys.key(keys.user_pk(user_id), f"{keys.LEDGER_PREFIX}{after}"))
        response = self._client.query(**query)
        items = [unmarshal(item) for item in response.get("Items", [])]
        if len(items) > limit:
            items = items[:limit]
        elif not response.get("LastEvaluatedKey") or not items:
            return items, None
        return items, str(items[-1][keys.SK]).removeprefix(keys.LEDGER_PREFIX)

    def ledger_between(
        self, user_id: str, since: datetime, until: datetime, after: str | None, limit: int
    ) -> tuple[list[LedgerEntry], str | None]:
        """``SK BETWEEN LEDGER#<since> AND LEDGER#<until>``: an entry created at ``since`` sorts
        after the bound (its position goes on with ``#<reference>``), one created at ``until``
        after the upper bound, so the range is [since, until) exactly."""
        low, high = f"{keys.LEDGER_PREFIX}{iso(since)}", f"{keys.LEDGER_PREFIX}{iso(until)}"
        items, last = self._ledger_range(user_id, low, high, after, limit)
        return [keys.ledger_from_item(item) for item in items], last

    def movements_since(self, user_id: str, since: datetime, after: str | None, limit: int) -> tuple[list[Movement], str | None]:
        low = f"{keys.LEDGER_PREFIX}{iso(since)}"
        items, last = self._ledger_range(user_id, low, _LEDGER_TOP, after, limit, projection="SK, direction, amount, #status")
        return [Movement(direction=i["direction"], amount=int(i["amount"]), status=i["status"]) for i in items], last
