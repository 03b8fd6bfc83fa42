"""The demo data's plan: deterministic, always payable, and the demo login left with money to send."""

from __future__ import annotations

import pytest

from local import seed
from local.template import ROOT
from vaultpay.core.aadhaar import verhoeff_checksum


def balances_after(crowd: list[seed.Person], plan: list[tuple[int, int, str, str | None]]) -> list[int]:
    balances = [seed.WELCOME_PAISE] * len(crowd)
    lowest_demo = balances[0]
    for sender, receiver, amount, _ in plan:
        paise = int(amount.replace(".", ""))
        balances[sender] -= paise
        balances[receiver] += paise
        assert balances[sender] >= 0
        lowest_demo = min(lowest_demo, balances[0])
    assert lowest_demo >= seed.WELCOME_PAISE
    return balances


@pytest.mark.parametrize("seed_value", [42, 7, 1])
def test_the_plan_always_succeeds_and_the_demo_user_keeps_the_welcome_credit(seed_value: int) -> None:
    # Given the people and transfers of a seed
    crowd = seed.people(seed_value, 20)
    plan = seed.transfer_plan(crowd, seed_value, 100)
    # Then no one ever overspends, the demo user never drops below its welcome credit, money is conserved
    assert len(plan) == 100
    balances = balances_after(crowd, plan)
    assert sum(balances) == seed.WELCOME_PAISE * len(crowd)
    # And the same seed always gives the same data
    assert seed.transfer_plan(seed.people(seed_value, 20), seed_value, 100) == plan
    assert all(verhoeff_checksum(person.aadhaar) == 0 for person in crowd)


def test_the_readme_example_pays_someone_the_default_seed_creates() -> None:
    # The README's curl example sends Rs 250.00 from the demo login to one of the demo people
    emails = {person.email for person in seed.people(42, 20)}
    assert "isaac.bakshi@example.in" in emails
    assert "isaac.bakshi@example.in" in (ROOT / "README.md").read_text()


def test_the_loans_plan_has_every_state_and_the_demo_login_on_both_sides() -> None:
    # Given the demo data's loans
    before = [plan for plan in seed.LOANS if not plan.after_clock]
    after = [plan for plan in seed.LOANS if plan.after_clock]
    funded = [
        plan
        for plan in seed.LOANS
        if sum(int(amount.replace(".", "")) for _, amount in plan.lenders) == int(plan.amount.replace(".", ""))
    ]
    # Then: overdue (its borrower short, made before the clock moves), active with installments paid,
    # repaid (prepaid), open with no lender and partly funded (made after it, their deadlines ahead)
    assert any(plan.short and plan in funded for plan in before)
    assert any(plan.installments_paid and not plan.prepay and not plan.short and plan in funded for plan in before)
    assert any(plan.prepay and plan in funded for plan in before)
    assert all(plan not in funded for plan in after)
    assert any(not plan.lenders for plan in after)
    assert any(plan.lenders for plan in after)
    # And the demo login borrows on one and lends on another
    assert any(plan.borrower == 0 for plan in seed.LOANS)
    assert any(lender == 0 for plan in seed.LOANS for lender, _ in plan.lenders)
    # And the clock moves past any first due date (at most 31 days after disbursal)
    assert seed.CLOCK_DAYS > 31
