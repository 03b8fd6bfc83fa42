"""The arithmetic of a loan, in integer paise and exact fractions: never a float.

- ``installment_plan``: equal monthly installments (EMI) on a reducing balance. The EMI is the
  annuity payment rounded half-up to the paisa; each month's interest is the outstanding balance
  times the monthly rate, rounded half-up; the principal part is the EMI less that interest, and
  the last installment takes whatever principal remains, so the principal parts add up exactly
  to the amount.
- ``split``: an amount shared among lenders in proportion to their commitments by the largest
  remainder method (Hamilton): everyone gets the floor of their exact part, and the paise left
  over go one each to the largest fractional parts, ties to the earlier commitment. The splits
  add up exactly to the amount and nobody is more than one paisa from their exact part.
- ``split_payment``: the lenders' parts of one payment of a loan, as the difference between what
  the loan has paid each lender after it and before it (``allocate``: lender k gets
  floor(T*P_k/S) - floor(T*P_(k-1)/S) of a total T, P_k the shares up to k). Each payment's parts
  add up exactly to it, and over the loan's life every lender is within one paisa of their exact
  share: rounding never favours the same lender payment after payment.
- ``due_dates``: the same day of the month as the disbursal, one month apart, clamped to the
  month's last day (a loan disbursed on 31 January is due on 28/29 February, then 31 March).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

BASIS_POINTS = 10_000
MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class PlannedInstallment:
    number: int
    principal: int
    interest: int
    balance_after: int

    @property
    def amount(self) -> int:
        return self.principal + self.interest


def _round_half_up(value: Fraction) -> int:
    """Round a non-negative fraction to the nearest integer, halves up."""
    return int((value * 2 + 1) // 2)


def monthly_rate(annual_rate_bp: int) -> Fraction:
    return Fraction(annual_rate_bp, BASIS_POINTS * MONTHS_PER_YEAR)


def equated_installment(amount: int, tenure_months: int, annual_rate_bp: int) -> int:
    """The EMI: amount * r * (1+r)^n / ((1+r)^n - 1), rounded half-up; amount / n when r is 0."""
    if amount <= 0 or tenure_months <= 0 or annual_rate_bp < 0:
        raise ValueError("amount and tenure must be positive, the rate not negative")
    rate = monthly_rate(annual_rate_bp)
    if rate == 0:
        return -(-amount // tenure_months)
    growth = (1 + rate) ** tenure_months
    return _round_half_up(amount * rate * growth / (growth - 1))


def installment_plan(amount: int, tenure_months: int, annual_rate_bp: int) -> list[PlannedInstallment]:
    emi = equated_installment(amount, tenure_months, annual_rate_bp)
    rate = monthly_rate(annual_rate_bp)
    balance = amount
    plan: list[PlannedInstallment] = []
    for number in range(1, tenure_months + 1):
        interest = _round_half_up(balance * rate)
        principal = balance if number == tenure_months else min(balance, max(0, emi - interest))
        balance -= principal
        plan.append(PlannedInstallment(number=number, principal=principal, interest=interest, balance_after=balance))
    return plan


def split(amount: int, shares: Sequence[int]) -> list[int]:
    """``amount`` split in proportion to ``shares`` (in their order: earlier wins a tie)."""
    if amount < 0 or not shares or any(share <= 0 for share in shares):
        raise ValueError("a non-negative amount and positive shares are needed")
    total = sum(shares)
    floors = [amount * share // total for share in shares]
    remainders = [amount * share % total for share in shares]
    left = amount - sum(floors)
    by_remainder = sorted(range(len(shares)), key=lambda index: (-remainders[index], index))
    for index in by_remainder[:left]:
        floors[index] += 1
    return floors


def allocate(total: int, shares: Sequence[int]) -> list[int]:
    """``total`` among ``shares`` by cumulative boundaries: sums exactly, each within one paisa."""
    if total < 0 or not shares or any(share <= 0 for share in shares):
        raise ValueError("a non-negative total and positive shares are needed")
    whole = sum(shares)
    bounds = [0]
    running = 0
    for share in shares:
        running += share
        bounds.append(total * running // whole)
    return [bounds[index + 1] - bounds[index] for index in range(len(shares))]


def split_payment(paid_before: int, amount: int, shares: Sequence[int]) -> list[int]:
    """The parts of a payment of ``amount`` after ``paid_before`` had been paid on the same loan.
    A part could come out at minus one paisa only when a lender's share of the payment is below a
    paisa (a payment far smaller than the loan's smallest share allows): then the payment is
    split on its own (``split``), still exactly."""
    parts = [
        after - before
        for after, before in zip(allocate(paid_before + amount, shares), allocate(paid_before, shares), strict=True)
    ]
    return parts if min(parts) >= 0 else split(amount, shares)


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def due_dates(disbursed_on: date, tenure_months: int) -> list[date]:
    return [add_months(disbursed_on, number) for number in range(1, tenure_months + 1)]
