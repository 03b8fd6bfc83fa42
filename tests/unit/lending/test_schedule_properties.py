"""The arithmetic of a loan as properties: exact to the paisa for any amount, rate, tenure and set
of shares the platform allows (₹1,000 to ₹10,00,000, 0.01 % to 36 % a year, 1 to 36 months,
up to 40 lenders of at least ₹500 each).

The expected values are computed here in integers, independently of ``schedule``'s fractions.
Hypothesis is derandomized (the same examples every run) and kept small, so the unit tier stays fast
(they were also run once with 1,500 and 600 random examples each, all passing).
"""

from __future__ import annotations

import calendar
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultpay.lending.schedule import (
    allocate,
    due_dates,
    equated_installment,
    installment_plan,
    split,
    split_payment,
)

PROPERTY = settings(max_examples=50, derandomize=True, deadline=None)
WHOLE_LOANS = settings(max_examples=25, derandomize=True, deadline=None)

MIN_LOAN = 100_000  # ₹1,000
MAX_LOAN = 100_000_000  # ₹10,00,000 (the borrower's cap)
MIN_COMMITMENT = 50_000  # ₹500
MAX_LENDERS = 40
LATE_FEE_BP = 200

amounts = st.integers(MIN_LOAN, MAX_LOAN)
# Any rate in basis points up to 36 %, and (as often) one inside the configured 10-36 % band.
rates = st.one_of(st.integers(1, 3600), st.integers(1000, 3600))
tenures = st.integers(1, 36)


def round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def monthly_interest(balance: int, annual_rate_bp: int) -> int:
    """balance * rate / 12, rounded half-up to the paisa, in integers."""
    return round_half_up(balance * annual_rate_bp, 10_000 * 12)


@st.composite
def commitments(draw: st.DrawFn, amount: int) -> list[int]:
    """Shares of ``amount`` as lenders may commit them: 1..40 lenders, every share at least ₹500."""
    count = draw(st.integers(1, min(MAX_LENDERS, amount // MIN_COMMITMENT)))
    extra = amount - count * MIN_COMMITMENT
    cuts = sorted(draw(st.lists(st.integers(0, extra), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, extra]
    return [MIN_COMMITMENT + bounds[index + 1] - bounds[index] for index in range(count)]


@st.composite
def loans(draw: st.DrawFn) -> tuple[int, int, int, list[int]]:
    amount = draw(amounts)
    return amount, draw(rates), draw(tenures), draw(commitments(amount))


def exact_part(total: int, share: int, shares: list[int]) -> Fraction:
    return Fraction(total * share, sum(shares))


# ---------------------------------------------------------------- the installment plan
@PROPERTY
@given(amount=amounts, rate=rates, tenure=tenures)
def test_principal_parts_add_up_to_the_amount_and_the_balance_runs_down_to_zero(amount: int, rate: int, tenure: int) -> None:
    # Given any loan the platform allows
    # When its plan is made
    plan = installment_plan(amount, tenure, rate)
    # Then it has one installment a month, numbered from 1, none with a negative part
    assert [step.number for step in plan] == list(range(1, tenure + 1))
    assert all(step.principal >= 0 and step.interest >= 0 for step in plan)
    # And the principal parts add up exactly to the amount, the balance falling to zero at the end
    assert sum(step.principal for step in plan) == amount
    balances = [amount, *(step.balance_after for step in plan)]
    assert all(after == before - step.principal for before, after, step in zip(balances, balances[1:], plan, strict=False))
    assert balances == sorted(balances, reverse=True)
    assert plan[-1].balance_after == 0
    assert all(step.balance_after > 0 for step in plan[:-1])


@PROPERTY
@given(amount=amounts, rate=rates, tenure=tenures)
def test_each_months_interest_is_the_balance_times_the_monthly_rate_rounded_half_up(amount: int, rate: int, tenure: int) -> None:
    # Given any loan's plan
    plan = installment_plan(amount, tenure, rate)
    # Then each month's interest is what the balance before it earns in a month, rounded half-up
    balance = amount
    for step in plan:
        assert step.interest == monthly_interest(balance, rate)
        balance = step.balance_after


@PROPERTY
@given(amount=amounts, rate=rates, tenure=tenures)
def test_the_installments_are_equal_except_the_last_which_takes_the_rounding(amount: int, rate: int, tenure: int) -> None:
    # Given any loan's plan
    plan = installment_plan(amount, tenure, rate)
    emi = equated_installment(amount, tenure, rate)
    # Then every installment but the last is the EMI, and the last clears the balance with its interest
    assert all(step.amount == emi for step in plan[:-1])
    before_last = plan[-2].balance_after if tenure > 1 else amount
    assert plan[-1].principal == before_last
    assert plan[-1].amount == before_last + monthly_interest(before_last, rate)
    # And the rounding the last one absorbs is a few paise, not a month's worth
    assert abs(plan[-1].amount - emi) <= tenure


@PROPERTY
@given(amount=amounts, rate=rates, tenure=tenures)
def test_the_emi_is_the_annuity_payment_rounded_half_up(amount: int, rate: int, tenure: int) -> None:
    # Given the annuity formula in exact integers: A * r * (1+r)^n / ((1+r)^n - 1), r = bp / 120000
    base = 120_000
    growth_numerator = (base + rate) ** tenure
    growth_denominator = base**tenure
    numerator = amount * rate * growth_numerator
    denominator = base * (growth_numerator - growth_denominator)
    # Then the EMI is it, rounded half-up to the paisa
    assert equated_installment(amount, tenure, rate) == round_half_up(numerator, denominator)


def test_a_textbook_loan_has_the_textbook_emi() -> None:
    # Given ₹1,00,000 at 12 % a year for 12 months (EMI ₹8,884.88 in every EMI table)
    plan = installment_plan(10_000_000, 12, 1200)
    # Then the first month's interest is ₹1,000.00 and the EMI ₹8,884.88
    assert (plan[0].interest, plan[0].amount) == (100_000, 888_488)
    assert sum(step.interest for step in plan) == sum(step.amount for step in plan) - 10_000_000


# ---------------------------------------------------------------- splitting
share_lists = st.lists(st.integers(1, 10**8), min_size=1, max_size=MAX_LENDERS)


@PROPERTY
@given(amount=st.integers(0, 10**9), shares=share_lists)
def test_split_adds_up_exactly_and_nobody_is_a_paisa_from_their_exact_part(amount: int, shares: list[int]) -> None:
    # When any amount is split among any shares
    parts = split(amount, shares)
    # Then the parts add up to it exactly, none is negative, each is less than a paisa from its exact part
    assert sum(parts) == amount
    assert all(part >= 0 for part in parts)
    assert all(abs(part - exact_part(amount, share, shares)) < 1 for part, share in zip(parts, shares, strict=True))


@PROPERTY
@given(amount=st.integers(0, 10**9), shares=share_lists)
def test_allocate_adds_up_exactly_and_nobody_is_a_paisa_from_their_exact_part(amount: int, shares: list[int]) -> None:
    parts = allocate(amount, shares)
    assert sum(parts) == amount
    assert all(part >= 0 for part in parts)
    assert all(abs(part - exact_part(amount, share, shares)) < 1 for part, share in zip(parts, shares, strict=True))


def test_split_gives_the_paisa_left_over_to_the_earlier_share_on_a_tie() -> None:
    # Given three equal shares and one paisa that cannot be divided
    # Then the earliest gets it; with two left over, the first two
    assert split(1, [5, 5, 5]) == [1, 0, 0]
    assert split(2, [5, 5, 5]) == [1, 1, 0]
    # And the largest remainder wins over the order
    assert split(1, [1, 2]) == [0, 1]


@pytest.mark.parametrize("bad", [(-1, [1]), (1, []), (1, [0]), (1, [3, -1])])
def test_split_and_allocate_refuse_a_negative_amount_or_a_share_that_is_not_positive(bad: tuple[int, list[int]]) -> None:
    amount, shares = bad
    with pytest.raises(ValueError, match="positive"):
        split(amount, shares)
    with pytest.raises(ValueError, match="positive"):
        allocate(amount, shares)


@st.composite
def payments_of_a_loan(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """A loan's shares and the payments it really receives: its installments in order, some paid
    late with the 2 % fee, and maybe a prepayment (the principal left, with no more interest)."""
    amount, rate, tenure, shares = draw(loans())
    plan = installment_plan(amount, tenure, rate)
    late = draw(st.sets(st.integers(1, tenure), max_size=tenure))
    prepay_after = draw(st.one_of(st.none(), st.integers(0, tenure - 1)))
    payments: list[int] = []
    for step in plan:
        if prepay_after is not None and step.number > prepay_after:
            payments.append(sum(rest.principal for rest in plan[prepay_after:]))
            break
        fee = round_half_up(step.amount * LATE_FEE_BP, 10_000) if step.number in late else 0
        payments.append(step.amount + fee)
    return shares, payments


@WHOLE_LOANS
@given(loan=payments_of_a_loan())
def test_over_a_whole_loan_every_payment_splits_exactly_and_every_lender_ends_within_a_paisa(
    loan: tuple[list[int], list[int]],
) -> None:
    # Given a loan's lenders (every share at least ₹500) and every payment it receives
    shares, payments = loan
    received = [0] * len(shares)
    paid = 0
    for payment in payments:
        # When each payment is split among the lenders after what was paid before it
        parts = split_payment(paid, payment, shares)
        # Then its parts add up exactly to it, and nobody's part is negative
        assert sum(parts) == payment
        assert all(part >= 0 for part in parts)
        paid += payment
        received = [total + part for total, part in zip(received, parts, strict=True)]
    # And at the end every lender has, within a paisa, their share of everything paid
    assert all(abs(total - exact_part(paid, share, shares)) < 1 for total, share in zip(received, shares, strict=True))


@WHOLE_LOANS
@given(loan=loans())
def test_a_payment_of_the_whole_loan_at_once_splits_as_the_sum_of_its_installments(loan: tuple[int, int, int, list[int]]) -> None:
    # Given a loan's installments, paid one by one
    amount, rate, tenure, shares = loan
    plan = installment_plan(amount, tenure, rate)
    one_by_one = [0] * len(shares)
    paid = 0
    for step in plan:
        one_by_one = [t + p for t, p in zip(one_by_one, split_payment(paid, step.amount, shares), strict=True)]
        paid += step.amount
    # Then each lender gets exactly what one payment of it all would have given them: rounding never drifts
    assert one_by_one == split_payment(0, paid, shares)


def test_a_payment_smaller_than_a_paisa_per_lender_is_still_split_exactly_and_never_negative() -> None:
    # Given a payment far smaller than the shares would need for each to get a paisa of it
    shares = [2, 1, 2]
    # When it comes after an amount that puts the cumulative boundaries where the middle part would
    # be -1 (allocate(3) - allocate(2) = [1, 0, 2] - [0, 1, 1])
    assert [a - b for a, b in zip(allocate(3, shares), allocate(2, shares), strict=True)] == [1, -1, 1]
    parts = split_payment(2, 1, shares)
    # Then the payment is split on its own: exact, nothing negative
    assert parts == split(1, shares) == [1, 0, 0]


# ---------------------------------------------------------------- due dates
@PROPERTY
@given(start=st.dates(date(2020, 1, 1), date(2045, 12, 31)), tenure=tenures)
def test_due_dates_keep_the_disbursal_day_clamped_to_each_months_last_day(start: date, tenure: int) -> None:
    dates = due_dates(start, tenure)
    assert len(dates) == tenure
    for months, due in enumerate(dates, start=1):
        index = start.month - 1 + months
        year, month = start.year + index // 12, index % 12 + 1
        assert (due.year, due.month) == (year, month)
        assert due.day == min(start.day, calendar.monthrange(year, month)[1])


@pytest.mark.parametrize(
    ("disbursed", "expected"),
    [
        (date(2027, 1, 31), [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]),
        (date(2028, 1, 31), [date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30), date(2028, 5, 31)]),
        (date(2026, 11, 30), [date(2026, 12, 30), date(2027, 1, 30), date(2027, 2, 28), date(2027, 3, 30)]),
        (date(2026, 12, 15), [date(2027, 1, 15), date(2027, 2, 15), date(2027, 3, 15), date(2027, 4, 15)]),
    ],
)
def test_a_loan_disbursed_at_a_months_end_is_due_at_each_months_end_without_drifting(
    disbursed: date, expected: list[date]
) -> None:
    # Given a disbursal on the 31st (or the 30th): 28/29 February, then 31 March again, not the 28th
    assert due_dates(disbursed, 4) == expected
