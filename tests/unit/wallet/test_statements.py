"""Monthly statements against the in-memory store: every movement of an IST month, replayed from
the opening balance to the closing one, computed from the ledger with one Query per page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from tests.unit.fakes import FakeClock, FakeWalletStore, Tables
from vaultpay.core.errors import ConcurrentUpdate, InsufficientFunds, StatementNotAvailable, StatementTooLarge, UserNotFound
from vaultpay.core.records import PartyRef, TransactionRecord
from vaultpay.wallet import logic, statement_csv
from vaultpay.wallet.logic import WalletService, statement_period
from vaultpay.wallet.models import Statement, TransferRequest

ALICE = PartyRef(user_id="11111111-1111-4111-8111-111111111111", email="alice@example.com", full_name="Alice Rao")
BOB = PartyRef(user_id="22222222-2222-4222-8222-222222222222", email="bob@example.com", full_name="=HYPERLINK(1)")
ESCROW = PartyRef(user_id="LOAN#0b7f5a52-0000-4000-8000-000000000001", email="loans@vaultpay.internal", full_name="Loan escrow")
NOVEMBER_START = datetime(2026, 10, 31, 18, 30, tzinfo=UTC)  # midnight IST, 1 November 2026
DECEMBER_START = datetime(2026, 11, 30, 18, 30, tzinfo=UTC)  # midnight IST, 1 December 2026


@pytest.fixture
def tables() -> Tables:
    tables = Tables()
    tables.open_account(ALICE, 1_000_000)  # ₹10,000.00
    tables.open_account(BOB, 5_000)  # ₹50.00
    return tables


@pytest.fixture
def store(tables: Tables) -> FakeWalletStore:
    return FakeWalletStore(tables)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def wallet(store: FakeWalletStore, clock: FakeClock) -> WalletService:
    return WalletService(store=store, max_transfer_paise=10_000_000, clock=clock)


counter = iter(range(1, 1_000_000))


def pay(wallet: WalletService, sender: PartyRef, receiver: PartyRef, rupees: str, note: str | None = None) -> None:
    request = TransferRequest.model_validate({"receiver_email": receiver.email, "amount": rupees, "note": note})
    wallet.transfer(sender.user_id, f"statement-key-{next(counter):06d}", request)


def replayed(statement: Statement) -> int:
    """The opening balance with every line applied, checking each line's balance on the way."""
    running = statement.opening_balance
    for line in statement.lines:
        running += line.amount if line.direction == "received" else -line.amount
        assert line.balance_after == running, line
    return running


def test_a_past_month_lists_every_movement_oldest_first_from_the_opening_to_the_closing_balance(
    wallet: WalletService, tables: Tables, clock: FakeClock
) -> None:
    # Given Alice's November: she pays Bob twice, Bob pays her back once
    pay(wallet, ALICE, BOB, "250.00", note="rent")
    clock.advance(days=3)
    pay(wallet, BOB, ALICE, "20.50")
    clock.advance(days=10)
    pay(wallet, ALICE, BOB, "100.00")
    at_month_end = tables.balance_of(ALICE.user_id)
    # And December moves her balance again
    clock.now = DECEMBER_START
    pay(wallet, ALICE, BOB, "999.99")
    clock.advance(days=2)
    # When she asks for November's statement
    statement = wallet.statement(ALICE.user_id, "2026-11")
    # Then it runs from her balance on 1 November to her balance at the month's end
    assert statement.opening_balance == 1_000_000
    assert statement.closing_balance == at_month_end == 1_000_000 - 25_000 + 2_050 - 10_000
    assert replayed(statement) == statement.closing_balance
    # And lists the month's three movements, oldest first, with December's left out
    moves = [(line.direction, line.amount) for line in statement.lines]
    assert moves == [("sent", 25_000), ("received", 2_050), ("sent", 10_000)]
    assert statement.lines[0].note == "rent"
    assert statement.lines[0].kind == "TRANSFER"
    assert (statement.total_debits, statement.total_credits) == (35_000, 2_050)
    assert (statement.period_start, statement.period_end, statement.closed) == (NOVEMBER_START, DECEMBER_START, True)
    assert statement.account.email == ALICE.email


def test_the_month_is_the_calendar_month_in_india_standard_time(wallet: WalletService, clock: FakeClock) -> None:
    # Given a payment a second before midnight IST on 30 November, and one at midnight
    clock.now = datetime(2026, 11, 30, 18, 29, 59, tzinfo=UTC)
    pay(wallet, ALICE, BOB, "1.00")
    clock.now = DECEMBER_START
    pay(wallet, ALICE, BOB, "2.00")
    clock.advance(days=1)
    # When November and December are stated
    november = wallet.statement(ALICE.user_id, "2026-11")
    december = wallet.statement(ALICE.user_id, "2026-12")
    # Then the first is November's (its last second), the second December's, and they meet
    assert [line.amount for line in november.lines] == [100]
    assert [line.amount for line in december.lines] == [200]
    assert november.closing_balance == december.opening_balance
    assert statement_period("2026-12") == (DECEMBER_START, datetime(2026, 12, 31, 18, 30, tzinfo=UTC))


def test_the_current_month_is_the_month_so_far_and_closes_at_the_balance_now(
    wallet: WalletService, tables: Tables, clock: FakeClock
) -> None:
    # Given a payment this month
    pay(wallet, ALICE, BOB, "300.00")
    # When this month is stated
    statement = wallet.statement(ALICE.user_id, "2026-11")
    # Then it is not closed, and closes at today's balance
    assert not statement.closed
    assert statement.closing_balance == tables.balance_of(ALICE.user_id)
    assert statement.generated_at == clock.now
    assert replayed(statement) == statement.closing_balance


def test_a_failed_transfer_moved_nothing_and_is_not_a_line(wallet: WalletService, tables: Tables) -> None:
    # Given Bob (₹50) tries to pay ₹60 and fails, then pays ₹10
    with pytest.raises(InsufficientFunds):
        pay(wallet, BOB, ALICE, "60.00")
    pay(wallet, BOB, ALICE, "10.00")
    # When his statement is read
    statement = wallet.statement(BOB.user_id, "2026-11")
    # Then only the payment is there, and the balances add up
    assert [(line.amount, line.status) for line in statement.lines] == [(1_000, "SUCCESS")]
    assert (statement.opening_balance, statement.closing_balance) == (5_000, 4_000)


def test_loan_movements_are_lines_of_their_kind_and_a_refunded_commitment_still_left_the_balance(
    wallet: WalletService, tables: Tables, clock: FakeClock
) -> None:
    # Given Alice commits ₹600 to a loan (into its escrow), and the request is later refunded
    commitment = TransactionRecord(
        reference_id="aaaaaaaa-0000-4000-8000-000000000001",
        kind="LOAN_COMMITMENT",
        status="PENDING",
        sender=ALICE,
        receiver=ESCROW,
        amount=60_000,
        created_at=clock.now,
        loan_id="0b7f5a52-0000-4000-8000-000000000001",
    )
    tables.move(ALICE.user_id, -60_000, commitment)
    tables.put_transaction(commitment)
    clock.advance(days=1)
    refund = commitment.model_copy(
        update={
            "reference_id": "aaaaaaaa-0000-4000-8000-000000000002",
            "kind": "LOAN_REFUND",
            "status": "SUCCESS",
            "sender": ESCROW,
            "receiver": ALICE,
            "created_at": clock.now,
        }
    )
    tables.move(ALICE.user_id, 60_000, refund)
    tables.put_transaction(refund)
    ledger = tables.ledgers[ALICE.user_id]
    position = next(position for position, entry in ledger.items() if entry.reference_id == commitment.reference_id)
    ledger[position] = ledger[position].model_copy(update={"status": "REFUNDED"})
    # When her statement is read
    statement = wallet.statement(ALICE.user_id, "2026-11")
    # Then both are lines of their kind, and the balance goes down and back up
    assert [(line.kind, line.status, line.direction) for line in statement.lines] == [
        ("LOAN_COMMITMENT", "REFUNDED", "sent"),
        ("LOAN_REFUND", "SUCCESS", "received"),
    ]
    assert [line.balance_after for line in statement.lines] == [940_000, 1_000_000]
    assert statement.lines[0].loan_id == commitment.loan_id


def test_each_page_of_the_ledger_is_one_query(
    wallet: WalletService, store: FakeWalletStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five payments in November and three in December, and pages of two entries
    for _ in range(5):
        pay(wallet, ALICE, BOB, "1.00")
        clock.advance(hours=1)
    clock.now = DECEMBER_START
    for _ in range(3):
        pay(wallet, ALICE, BOB, "1.00")
        clock.advance(hours=1)
    monkeypatch.setattr(logic, "STATEMENT_PAGE", 2)
    store.ledger_queries = 0
    # When November is stated
    statement = wallet.statement(ALICE.user_id, "2026-11")
    # Then it took three Queries for the month (2 + 2 + 1) and two for what followed (2 + 1)
    assert store.ledger_queries == 3 + 2
    assert len(statement.lines) == 5
    assert statement.closing_balance == 1_000_000 - 500


def test_a_movement_landing_while_the_statement_is_read_makes_it_read_again(
    wallet: WalletService, store: FakeWalletStore, tables: Tables, clock: FakeClock
) -> None:
    # Given a payment that lands right after the statement first reads the account
    pay(wallet, ALICE, BOB, "5.00")
    clock.advance(minutes=1)

    def lands(read: int) -> None:
        if read == 1:
            pay(wallet, BOB, ALICE, "7.00")

    store.after_account_read = lands
    # When the statement is read
    statement = wallet.statement(ALICE.user_id, "2026-11")
    # Then it was read again, and it is the account as it is now, adding up
    assert store.account_reads == 4
    assert [line.amount for line in statement.lines] == [500, 700]
    assert statement.closing_balance == tables.balance_of(ALICE.user_id)
    assert replayed(statement) == statement.closing_balance


def test_an_account_that_never_stands_still_is_a_concurrent_update(wallet: WalletService, store: FakeWalletStore) -> None:
    # Given a payment lands after every first read of the account
    def lands(read: int) -> None:
        if read % 2 == 1:
            pay(wallet, BOB, ALICE, "0.01")

    store.after_account_read = lands
    # Then the statement gives up rather than answer figures that do not add up
    with pytest.raises(ConcurrentUpdate):
        wallet.statement(ALICE.user_id, "2026-11")


def test_a_month_that_has_not_begun_has_no_statement(wallet: WalletService, store: FakeWalletStore) -> None:
    with pytest.raises(StatementNotAvailable):
        wallet.statement(ALICE.user_id, "2026-12")
    assert store.ledger_queries == 0


def test_a_month_before_any_movement_states_the_balance_it_had(wallet: WalletService, tables: Tables) -> None:
    pay(wallet, ALICE, BOB, "1.00")
    statement = wallet.statement(ALICE.user_id, "2026-10")
    assert statement.lines == []
    assert statement.opening_balance == statement.closing_balance == 1_000_000


def test_an_unknown_account_has_no_statement(wallet: WalletService) -> None:
    with pytest.raises(UserNotFound):
        wallet.statement("99999999-9999-4999-8999-999999999999", "2026-11")


def test_a_month_with_more_movements_than_a_statement_holds_is_refused(store: FakeWalletStore, clock: FakeClock) -> None:
    wallet = WalletService(store=store, max_transfer_paise=10_000_000, clock=clock, statement_max_lines=3)
    for _ in range(4):
        pay(wallet, ALICE, BOB, "1.00")
    with pytest.raises(StatementTooLarge):
        wallet.statement(ALICE.user_id, "2026-11")


# ---------------------------------------------------------------- CSV
def test_the_csv_has_a_header_the_opening_balance_every_movement_and_the_closing_balance(
    wallet: WalletService, clock: FakeClock
) -> None:
    # Given November with a payment to someone whose name reads like a formula, and one back
    pay(wallet, ALICE, BOB, "250.00", note="-1+1")
    clock.advance(days=1)
    pay(wallet, BOB, ALICE, "20.50")
    clock.now = DECEMBER_START
    statement = wallet.statement(ALICE.user_id, "2026-11")
    # When it is written as CSV
    text = statement_csv.render(statement)
    rows = list(csv.reader(io.StringIO(text)))
    # Then a header, the opening balance, the two movements, the closing balance
    assert text.endswith("\r\n")
    assert rows[0] == list(statement_csv.COLUMNS)
    header = rows[0]
    records = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [r["kind"] for r in records] == ["OPENING_BALANCE", "TRANSFER", "TRANSFER", "CLOSING_BALANCE"]
    assert records[0]["balance"] == "10000.00"
    assert records[0]["date"] == "2026-11-01T00:00:00+05:30"
    assert (records[1]["debit"], records[1]["credit"], records[1]["balance"]) == ("250.00", "", "9750.00")
    assert (records[2]["debit"], records[2]["credit"], records[2]["balance"]) == ("", "20.50", "9770.50")
    assert records[-1]["balance"] == "9770.50"
    assert records[-1]["date"] == "2026-12-01T00:00:00+05:30"
    # And other people's text is never a formula to a spreadsheet
    assert records[1]["counterparty"] == "'=HYPERLINK(1)"
    assert records[1]["note"] == "'-1+1"
    assert records[1]["date"] == "2026-11-02T14:30:00+05:30"
    assert statement_csv.filename(statement) == "vaultpay-statement-2026-11.csv"
