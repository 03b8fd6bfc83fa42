"""Lending in a real browser: borrow, lend, repay, prepay, statements, keyboard only, and the demo
data's loans in every state. A stack of this module's own, seeded with the demo data (which moves
its clock) and moved through time again by the last test."""

from __future__ import annotations

import csv
import io
import os
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, expect

from local import seed
from local.template import ROOT
from tests.e2e.conftest import keys_of, log_in, lose_the_response, screenshot
from tests.e2e.test_accessibility import assert_visible_focus, tab_through
from tests.support.api import Api, User
from tests.support.loans import sweep
from tests.support.stack import RunningStack, running_stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

WELCOME = 1_000_000
IST = timezone(timedelta(hours=5, minutes=30))
README_IMAGE = ROOT / "docs" / "images" / "dashboard.png"
PHONE: ViewportSize = {"width": 375, "height": 740}


# ---------------------------------------------------------------- the stack and the API
@pytest.fixture(scope="module")
def lending_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of this module's own with the demo data of `make run` (seed 42): its clock moves."""
    with running_stack(tmp_path_factory.mktemp("lending-e2e")) as running:
        report = seed.run(running.url, seed=42)
        assert report.failures == [], report.failures
        assert report.loans_created == len(seed.LOANS)
        yield running


@pytest.fixture
def lapi(lending_stack: RunningStack) -> Iterator[Api]:
    client = Api(lending_stack.url)
    yield client
    client.close()


@pytest.fixture
def url(lending_stack: RunningStack) -> str:
    return lending_stack.url


@pytest.fixture(autouse=True)
def patient(page: Page) -> None:
    """Longer waits than the other browser tests: this module's stack holds the demo data, and its
    pages read several loans at once on a machine the other tiers keep busy."""
    page.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)


def demo_user() -> User:
    return User(id="", email=seed.DEMO_EMAIL, password=seed.DEMO_PASSWORD, aadhaar="")


def inr(amount: str) -> str:
    """A decimal string as the dashboard shows it: ₹ and Indian digit grouping."""
    rupees, _, paise = amount.partition(".")
    head, tail = rupees[:-3], rupees[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return "₹" + ",".join([*groups, tail]) + "." + (paise or "00").ljust(2, "0")


def paise(amount: str) -> int:
    rupees, _, fraction = amount.partition(".")
    return int(rupees) * 100 + int(fraction or 0)


def request_loan(api: Api, borrower: User, amount: str, *, tenure: int = 6, rate: str = "14.00", purpose: str = "") -> str:
    body = {"amount": amount, "tenure_months": tenure, "annual_rate": rate, "purpose": purpose or f"Loan {uuid.uuid4().hex[:6]}"}
    response = api.post("/api/loans/", body, user=borrower, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def commit(api: Api, lender: User, loan_id: str, amount: str) -> dict[str, Any]:
    response = api.post(
        f"/api/loans/{loan_id}/commitments/", {"amount": amount}, user=lender, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def loan_detail(api: Api, user: User, loan_id: str) -> dict[str, Any]:
    response = api.get(f"/api/loans/{loan_id}/", user)
    assert response.status_code == 200, response.text
    return dict(response.json())


def active_loan(api: Api, amount: str = "10000.00", *, tenure: int = 6, purpose: str = "") -> tuple[User, User, str]:
    """A borrower and the one lender who funded all of it: an active loan."""
    borrower = api.new_user(full_name="Asha Menon")
    lender = api.new_user(full_name="Ravi Kumar")
    loan_id = request_loan(api, borrower, amount, tenure=tenure, purpose=purpose)
    assert commit(api, lender, loan_id, amount)["loan_status"] == "ACTIVE"
    return borrower, lender, loan_id


def stack_clock(api: Api, days: float = 0) -> datetime:
    response = api.post("/_local/clock", {"advance_days": days}) if days else api.get("/_local/clock")
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["now"])


def both_widths(page: Page, name: str) -> None:
    """Screenshots at desktop and phone widths; at the phone's, nothing is wider than the screen."""
    screenshot(page, f"{name}-desktop")
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
    screenshot(page, f"{name}-phone")
    if desktop:
        page.set_viewport_size(desktop)


def order_requests(page: Page, order: str) -> None:
    """Chooses the lend page's order and waits until the list shows it: a request opened before
    then would be in a list about to be replaced, its commit form with it."""
    page.get_by_label("Order").select_option(order)
    expect(page.locator("#open-requests")).to_have_attribute("aria-busy", "false")


def tab_to(page: Page, name: str | re.Pattern[str], limit: int = 60) -> None:
    """Presses Tab until the focused element's label or text is ``name`` (or matches it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement; return (e.getAttribute('aria-label') || e.textContent || '').trim(); })()"
        )
        if focused == name if isinstance(name, str) else name.search(focused):
            return
    raise AssertionError(f"Tab never reached {name!r}")


# ---------------------------------------------------------------- the demo data
def test_the_demo_login_borrows_and_lends_loans_in_every_state(page: Page, url: str) -> None:
    # Given the demo login of `make run`
    log_in(page, url, demo_user())
    # Then the dashboard shows its loans at a glance and loan movements, with their kinds, in the history
    expect(page.locator("#loans-glance")).to_contain_text("Laptop for freelance design work")
    expect(page.locator("#history")).to_contain_text("Loan repayment")
    expect(page.locator('#history li[data-kind="LOAN_DISBURSAL"]')).to_contain_text("From Loan escrow")
    expect(page.locator('#history li[data-kind="LOAN_COMMITMENT"]').first).to_contain_text("Loan commitment")
    page.wait_for_timeout(500)
    README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
    artifact = screenshot(page, "readme-dashboard")
    page.screenshot(path=str(artifact))  # the first screen, as the README shows it
    if os.environ.get("VAULTPAY_DOCS_SCREENSHOTS"):
        README_IMAGE.write_bytes(artifact.read_bytes())
    both_widths(page, "lending-dashboard")
    # When it opens its loans
    page.get_by_role("navigation").get_by_role("link", name="Loans").click()
    # Then it borrows on one loan (active, installments paid) and has a request pending
    borrowed = page.locator("#borrowed-loans > li")
    expect(borrowed).to_have_count(2)
    assert sorted(borrowed.evaluate_all("items => items.map((i) => i.dataset.status)")) == ["ACTIVE", "PENDING"]
    # And lends on others: active, repaid and overdue, each with its badge in words
    lent = page.locator("#lent-loans > li")
    expect(lent).to_have_count(3)
    assert sorted(lent.evaluate_all("items => items.map((i) => i.dataset.status)")) == ["ACTIVE", "OVERDUE", "REPAID"]
    expect(lent.filter(has_text="Stock for the kirana shop").locator(".badge")).to_have_text("Overdue")
    expect(lent.filter(has_text="School fees").locator(".badge")).to_have_text("Repaid")
    # And the portfolio chart says in words what it draws, and has a table of the same figures
    chart = page.locator("#portfolio [role=img]")
    expect(chart).to_have_attribute("aria-label", re.compile(r"^Your lending: ₹[\d,]+\.\d\d received, .* overdue"))
    page.get_by_text("Show as a table").click()
    rows = page.locator("#portfolio table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("All loans")
    both_widths(page, "loans-demo")


# ---------------------------------------------------------------- borrow
def test_borrow_with_a_live_schedule_preview_then_withdraw_the_request(page: Page, url: str, lapi: Api) -> None:
    # Given Asha on the borrow page
    asha, ravi = lapi.new_user(full_name="Asha Menon"), lapi.new_user(full_name="Ravi Kumar")
    log_in(page, url, asha)
    page.get_by_role("navigation").get_by_role("link", name="Borrow").click()
    # When she types the terms of a loan
    page.get_by_label("Amount (₹)").fill("50000")
    page.get_by_label("Tenure (months)").fill("12")
    page.get_by_label("Annual interest rate (%)").fill("14.5")
    # Then the preview shows the schedule the quote endpoint gives (the one source of its arithmetic)
    quote = lapi.get("/api/loans/quote/?amount=50000&tenure_months=12&annual_rate=14.50", asha).json()
    expect(page.locator("#preview-installment")).to_have_text(inr(quote["installment"]))
    expect(page.locator("#preview-summary")).to_contain_text(f"12 monthly installments of {inr(quote['installment'])}")
    page.get_by_text("Every installment", exact=True).click()
    expect(page.locator("#preview-schedule tbody tr")).to_have_count(12)
    # And terms outside the platform's band are explained there instead
    page.get_by_label("Annual interest rate (%)").fill("40")
    expect(page.locator("#preview-summary")).to_contain_text("10.00% to 36.00%")
    page.get_by_label("Annual interest rate (%)").fill("14.50")
    expect(page.locator("#preview-installment")).to_have_text(inr(quote["installment"]))
    # When she asks to borrow
    page.get_by_label("Purpose").fill("Sewing machines for the unit")
    page.get_by_role("button", name="Ask to borrow").click()
    # Then her request is open to lenders, pending, nothing funded yet
    expect(page.locator("#borrow-receipt")).to_contain_text("Your request for ₹50,000.00 is open to lenders")
    request = page.locator("#my-requests > li").filter(has_text="Sewing machines for the unit")
    expect(request.locator(".badge")).to_have_text("Pending")
    expect(request).to_contain_text("₹0.00 of ₹50,000.00 funded (0%)")
    # And when a lender commits, its funding progress shows it
    loan_id = str(request.get_attribute("data-loan"))
    commit(lapi, ravi, loan_id, "5000.00")
    page.reload()
    expect(request).to_contain_text("₹5,000.00 of ₹50,000.00 funded (10%)")
    expect(request.get_by_role("progressbar")).to_have_attribute("value", "500000")
    both_widths(page, "borrow")
    # When she withdraws it (and confirms)
    request.get_by_role("button", name="Withdraw request").click()
    expect(page.get_by_role("button", name="Withdraw it")).to_be_focused()
    page.get_by_role("button", name="Withdraw it").click()
    # Then it is cancelled and the lender has his money back
    expect(page.locator(f'#my-requests > li[data-loan="{loan_id}"]')).to_have_attribute("data-status", "CANCELLED")
    assert lapi.balance_paise(ravi) == WELCOME


# ---------------------------------------------------------------- lend
def test_lend_within_the_caps_and_a_lost_answer_commits_once(page: Page, url: str, lapi: Api) -> None:
    # Given Ravi has ₹5,000 committed to one of Asha's requests (₹45,000 of his ₹50,000 cap for her
    # left), and Asha asks for more at the platform's highest rate
    asha, ravi = lapi.new_user(full_name="Asha Menon"), lapi.new_user(full_name="Ravi Kumar")
    commit(lapi, ravi, request_loan(lapi, asha, "20000.00"), "5000.00")
    loan_id = request_loan(lapi, asha, "30000.00", rate="35.50", purpose="Cold storage for the orchard")
    log_in(page, url, ravi)
    page.get_by_role("navigation").get_by_role("link", name="Lend").click()
    # When he orders the open requests by rate
    order_requests(page, "rate")
    first = page.locator("#open-requests > li").first
    expect(first).to_contain_text("Cold storage for the orchard")
    expect(first).to_contain_text("Asha Menon (u***@example.com)")  # the e-mail masked
    # And opens the commit form
    first.get_by_role("button", name="Lend to Asha Menon").click()
    # Then it says how much he may still lend: to her, in all, and now (his balance is the least)
    room = page.locator("#commit-room")
    expect(room).to_contain_text("You may lend up to ₹5,000.00 now.")
    expect(room).to_contain_text("₹45,000.00 to lend to Asha Menon")
    expect(room).to_contain_text("₹49,95,000.00 in all")
    expect(page.get_by_label("Amount to lend (₹)")).to_be_focused()
    both_widths(page, "lend-commit")
    # When he commits ₹2,000 and the first answer is lost on the way back
    keys = keys_of(page, "/commitments/")
    page.route("**/commitments/", lose_the_response, times=1)
    page.get_by_label("Amount to lend (₹)").fill("2000")
    page.get_by_role("button", name="Commit").click()
    # Then the page retried under the same key, and the money moved once
    expect(page.locator("#commit-receipt")).to_contain_text("You committed ₹2,000.00.")
    expect(page.locator("#commit-receipt")).to_contain_text("₹2,000.00 of ₹30,000.00 funded")
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert loan_detail(lapi, ravi, loan_id)["funded"] == "2000.00"
    assert lapi.balance_paise(ravi) == WELCOME - 700_000
    expect(page.locator("#my-commitments")).to_contain_text("Cold storage for the orchard")
    # And the list pages on: more requests than one page holds
    expect(page.locator("#open-requests > li")).to_have_count(5)
    page.get_by_role("button", name="Load more").click()
    expect(page.locator("#open-requests > li")).not_to_have_count(5)


def test_an_answer_for_the_order_left_behind_does_not_replace_the_order_chosen(page: Page, url: str, lapi: Api) -> None:
    # Given more open requests than a page holds, the newest at the lowest rate, and the answer for
    # the page's first order (newest first) held back on the way
    for number in range(6):
        request_loan(lapi, lapi.new_user(), "1000.00", rate="10.00", purpose=f"Late answer {number}")
    lender = lapi.new_user(full_name="Meena Iyer")
    top_by_rate = lapi.get("/api/loans/open/?order=rate&limit=1", lender).json()["results"][0]["purpose"]
    held: list[Route] = []

    def hold_the_first_newest(route: Route) -> None:
        if "order=newest" in route.request.url and not held:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/loans/open/**", hold_the_first_newest)
    log_in(page, url, lender)
    page.get_by_role("navigation").get_by_role("link", name="Lend").click()
    # When the lender orders by rate, and only then the newest-first answer arrives
    order_requests(page, "rate")
    requests = page.locator("#open-requests > li")
    expect(requests.first).to_contain_text(top_by_rate)
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_timeout(1_000)
    # Then the list is still the one ordered by rate, not busy, and "Load more" continues that order
    expect(requests.first).to_contain_text(top_by_rate)
    expect(page.locator("#open-requests")).to_have_attribute("aria-busy", "false")
    expect(requests).to_have_count(5)
    page.get_by_role("button", name="Load more").click()
    expect(requests).not_to_have_count(5)
    expect(page.locator("#open-status")).not_to_contain_text("Could not load")


def test_a_commitment_past_the_room_is_refused_in_words(page: Page, url: str, lapi: Api) -> None:
    asha, ravi = lapi.new_user(full_name="Asha Menon"), lapi.new_user(full_name="Ravi Kumar")
    loan_id = request_loan(lapi, asha, "20000.00", purpose="Looms for the workshop")
    log_in(page, url, ravi)
    page.goto(f"{url}/#/lend")
    order_requests(page, "newest")
    request = page.locator(f'#open-requests > li[data-loan="{loan_id}"]')
    request.get_by_role("button", name="Lend to Asha Menon").click()
    page.get_by_label("Amount to lend (₹)").fill("12000")
    page.get_by_role("button", name="Commit").click()
    expect(page.locator("#commit-error")).to_have_text("Your balance is too low for this payment.")
    page.get_by_label("Amount to lend (₹)").fill("100")
    page.get_by_role("button", name="Commit").click()
    expect(page.locator("#commit-error")).to_have_text("The smallest commitment is ₹500.00.")
    assert loan_detail(lapi, ravi, loan_id)["funded"] == "0.00"
    assert lapi.balance_paise(ravi) == WELCOME


# ---------------------------------------------------------------- repay and prepay
def test_pay_the_next_installment_once_though_the_answer_is_lost_and_the_lender_sees_it_arrive(
    page: Page, browser: Browser, url: str, lapi: Api
) -> None:
    # Given Asha's active loan, funded by Ravi alone, and Ravi watching his dashboard
    asha, ravi, loan_id = active_loan(lapi, purpose="Oven for the bakery")
    emi = loan_detail(lapi, asha, loan_id)["schedule"][0]["amount"]
    ravi_context = browser.new_context(locale="en-IN")
    ravi_page = ravi_context.new_page()
    log_in(ravi_page, url, ravi)
    expect(ravi_page.locator("#balance")).to_have_text("₹0.00")
    log_in(page, url, asha)
    page.get_by_role("navigation").get_by_role("link", name="Loans").click()
    page.get_by_role("link", name="Open the loan: Oven for the bakery").click()
    expect(page.locator("#loan-status")).to_have_text("Active")
    # When she pays the next installment and the first answer is lost
    keys = keys_of(page, "/repayments/")
    page.route("**/repayments/", lose_the_response, times=1)
    page.get_by_role("button", name=f"Pay installment 1: {inr(emi)}").click()
    # Then the page retried under the same key, and installment 1 alone was paid, once
    expect(page.locator("#repay-receipt")).to_contain_text(f"Paid installment 1: {inr(emi)}")
    assert len(keys) == 2
    assert keys[0] == keys[1]
    schedule = loan_detail(lapi, asha, loan_id)["schedule"]
    assert [i["status"] for i in schedule[:2]] == ["PAID", "DUE"]
    assert lapi.balance_paise(asha) == WELCOME + 1_000_000 - paise(emi)
    expect(page.locator('#schedule tbody tr[data-status="PAID"]')).to_have_count(1)
    expect(page.locator('#schedule-chart rect[data-status="PAID"]')).to_have_count(1)
    progress = re.compile("^Repayment progress: 1 of 6 installments paid")
    expect(page.locator("#schedule-chart")).to_have_attribute("aria-label", progress)
    expect(page.get_by_role("button", name=re.compile("^Pay installment 2"))).to_be_visible()
    both_widths(page, "repay")
    # And Ravi's balance, never reloaded, flashes with the repayment, shown as a loan repayment
    expect(ravi_page.locator("#balance")).to_have_text(inr(emi), timeout=15_000)
    expect(ravi_page.locator("#balance")).to_have_class(re.compile("flash"))
    expect(ravi_page.locator("#history li").first).to_contain_text("Loan repayment")
    # And on his side of the loan, what he expected and what he received
    ravi_page.goto(f"{url}/#/loans/{loan_id}")
    expect(ravi_page.locator("#share-summary")).to_contain_text(f"received {inr(emi)}")
    expect(ravi_page.locator("#my-share tbody tr").first).to_contain_text("Paid")
    both_widths(ravi_page, "lender-share")
    ravi_context.close()


def test_prepay_repays_the_whole_loan_without_future_interest(page: Page, url: str, lapi: Api) -> None:
    asha, ravi, loan_id = active_loan(lapi, "6000.00", tenure=3, purpose="Tiles for the kitchen")
    log_in(page, url, asha)
    page.goto(f"{url}/#/loans/{loan_id}")
    # When she prepays, and confirms
    page.get_by_role("button", name="Prepay the whole loan").click()
    expect(page.get_by_role("button", name="Prepay now")).to_be_focused()
    page.get_by_role("button", name="Prepay now").click()
    # Then the loan is repaid: the principal alone, no interest on installments not yet due
    expect(page.locator("#repay-receipt")).to_contain_text("Paid installments 1, 2, 3: ₹6,000.00. The loan is repaid.")
    expect(page.locator("#loan-status")).to_have_text("Repaid")
    expect(page.locator("#repay")).to_have_count(0)
    assert loan_detail(lapi, asha, loan_id)["status"] == "REPAID"
    assert lapi.balance_paise(asha) == WELCOME
    assert lapi.balance_paise(ravi) == WELCOME
    both_widths(page, "prepaid")


# ---------------------------------------------------------------- statements
def test_download_a_monthly_statement_as_csv(page: Page, url: str, lapi: Api) -> None:
    # Given Asha's month: the welcome credit, ₹250 to Ravi, ₹40 back
    asha, ravi = lapi.new_user(full_name="Asha Menon"), lapi.new_user(full_name="Ravi Kumar")
    assert lapi.transfer(asha, ravi, "250.00", note="=SUM(A1)").status_code == 201
    assert lapi.transfer(ravi, asha, "40.00").status_code == 201
    month = stack_clock(lapi).astimezone(IST).strftime("%Y-%m")
    log_in(page, url, asha)
    # Then the month of her newest movement is the one offered
    expect(page.locator("#statement-month")).to_have_value(month)
    # When she downloads it
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    # Then it is that month's CSV: the opening balance, every movement, the closing balance (her balance)
    assert download.value.suggested_filename == f"vaultpay-statement-{month}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [(r["kind"], r["debit"], r["credit"]) for r in rows] == [
        ("OPENING_BALANCE", "", ""),
        ("WELCOME_CREDIT", "", "10000.00"),
        ("TRANSFER", "250.00", ""),
        ("TRANSFER", "", "40.00"),
        ("CLOSING_BALANCE", "", ""),
    ]
    assert rows[2]["note"] == "'=SUM(A1)"
    assert paise(rows[-1]["balance"]) == lapi.balance_paise(asha) == WELCOME - 21_000
    expect(page.locator("#statement-status")).to_have_text(f"Downloaded vaultpay-statement-{month}.csv.")
    # And a month that has not begun is explained, not downloaded
    page.locator("#statement-month").fill("2099-01")
    page.get_by_role("button", name="Download CSV").click()
    expect(page.locator("#statement-status")).to_have_text("That month has not begun yet.")
    both_widths(page, "statement")


# ---------------------------------------------------------------- keyboard only
def test_borrow_lend_and_repay_with_the_keyboard_alone(page: Page, url: str, lapi: Api) -> None:
    # Given Asha with an active loan, on her dashboard, with nothing but a keyboard
    asha, _ravi, loan_id = active_loan(lapi, purpose="Sewing machine")
    log_in(page, url, asha)
    page.reload()
    expect(page.locator("#balance")).to_have_text(re.compile("^₹"))
    # When she goes to Borrow through the navigation
    tab_to(page, "Borrow")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Borrow", level=1)).to_be_focused()
    # And types a request, field after field, and sends it with Enter
    page.keyboard.press("Tab")
    expect(page.get_by_label("Amount (₹)")).to_be_focused()
    page.keyboard.type("12000")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Tenure (months)")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Annual interest rate (%)")).to_be_focused()
    expect(page.locator("#preview-installment")).to_have_text(re.compile("^₹"))
    page.keyboard.press("Tab")
    expect(page.get_by_label("Purpose")).to_be_focused()
    page.keyboard.type("A second sewing machine")
    page.keyboard.press("Enter")
    expect(page.locator("#borrow-receipt")).to_contain_text("Your request for ₹12,000.00 is open to lenders")
    # Then every stop of the page shows its focus
    page.keyboard.press("Escape")
    page.evaluate("window.scrollTo(0, 0); document.activeElement.blur()")
    assert_visible_focus(tab_through(page, limit=40))
    # When she opens her active loan and pays the next installment from the keyboard
    page.goto(f"{url}/#/loans")
    expect(page.get_by_role("heading", name="Loans", level=1)).to_be_visible()
    tab_to(page, "Open the loan: Sewing machine")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Sewing machine"), level=1)).to_be_focused()
    tab_to(page, re.compile("^Pay installment 1"))
    page.keyboard.press("Enter")
    # Then it is paid, the page says so and the focus is back on the loan's heading
    expect(page.locator("#repay-receipt")).to_contain_text("Paid installment 1")
    expect(page.get_by_role("heading", name=re.compile("^Sewing machine"), level=1)).to_be_focused()
    assert [i["status"] for i in loan_detail(lapi, asha, loan_id)["schedule"][:2]] == ["PAID", "DUE"]
    assert_visible_focus(tab_through(page, limit=40))
    # And the lend page's controls, the order and the commit form, are reachable and show their focus
    page.goto(f"{url}/#/lend")
    expect(page.locator("#open-requests > li").first).to_be_visible()
    tab_to(page, re.compile("^Lend to "))
    page.keyboard.press("Enter")
    expect(page.get_by_label("Amount to lend (₹)")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    assert_visible_focus(tab_through(page, limit=40))


# ---------------------------------------------------------------- time passes (last: it moves the clock)
def test_installments_not_paid_turn_overdue_then_defaulted(page: Page, url: str, lapi: Api) -> None:
    # Given Kiran lends to Bala, who then spends everything: no installment can be collected
    kiran = lapi.new_user(full_name="Kiran Rao")
    bala = lapi.new_user(full_name="Bala Iyer")
    defaulting = request_loan(lapi, bala, "1000.00", purpose="Stock that did not sell")
    commit(lapi, kiran, defaulting, "1000.00")
    assert lapi.transfer(bala, kiran, "10000.00").status_code == 201
    assert lapi.transfer(bala, kiran, "999.00").status_code == 201
    # When four months pass (the first installment 95 days overdue) and the sweeper runs
    stack_clock(lapi, days=125)
    sweep(lapi)
    # (the stack's own schedule may have run the sweeper first, the moment the clock jumped, and
    # left this run nothing to do: the loan's state says it was done, not this run's report)
    assert loan_detail(lapi, kiran, defaulting)["status"] == "DEFAULTED"
    # And Kiran lends to Chitra, who spends everything too, and a month passes
    kiran, chitra = lapi.login(kiran), lapi.new_user(full_name="Chitra Nair")
    late = request_loan(lapi, chitra, "1000.00", purpose="Seeds for the next sowing")
    commit(lapi, kiran, late, "1000.00")
    assert lapi.transfer(chitra, kiran, "10000.00").status_code == 201
    assert lapi.transfer(chitra, kiran, "999.00").status_code == 201
    stack_clock(lapi, days=32)
    sweep(lapi)
    # Then Kiran sees one loan defaulted and one overdue, each said in words, and the late fee
    log_in(page, url, lapi.login(kiran))
    page.get_by_role("navigation").get_by_role("link", name="Loans").click()
    lent = page.locator("#lent-loans > li")
    expect(lent.filter(has_text="Stock that did not sell").locator(".badge")).to_have_text("Defaulted")
    expect(lent.filter(has_text="Seeds for the next sowing").locator(".badge")).to_have_text("Overdue")
    expect(page.locator("#portfolio [role=img]")).to_have_attribute("aria-label", re.compile(r"₹[\d,.]+ overdue"))
    both_widths(page, "loans-overdue-defaulted")
    page.get_by_role("link", name="Open the loan: Seeds for the next sowing").click()
    overdue = page.locator('#schedule tbody tr[data-status="OVERDUE"]')
    expect(overdue).to_have_count(1)
    expect(overdue.locator(".badge")).to_have_text("Overdue")
    expect(page.locator('#schedule-chart rect[data-status="OVERDUE"]')).to_have_count(1)
    both_widths(page, "loan-overdue")
