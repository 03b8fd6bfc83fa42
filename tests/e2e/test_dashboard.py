"""The dashboard in a real browser: register, log in, pay, watch balances move, reveal the Aadhaar."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import log_in, screenshot, send
from tests.support.api import Api
from tests.support.data import PASSWORD, make_aadhaar
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.browser]


def test_register_then_land_on_the_dashboard(page: Page, stack: RunningStack) -> None:
    # Given the registration page
    page.goto(f"{stack.url}/#/register")
    expect(page.get_by_role("heading", name="Create your VaultPay account")).to_be_visible()
    page.get_by_label("Full name").fill("Meera Iyer")
    page.get_by_label("E-mail").fill(f"meera.{make_aadhaar()}@example.in")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Aadhaar number").fill(make_aadhaar())
    screenshot(page, "register")
    # When the form is sent
    page.get_by_role("button", name="Create account").click()
    # Then the dashboard shows the welcome credit in INR and the history
    expect(page.locator("#balance")).to_have_text("₹10,000.00")
    expect(page.locator("#history li")).to_have_count(1)
    expect(page.locator("#history")).to_contain_text("From VaultPay")
    screenshot(page, "dashboard-new-user")


def test_registration_errors_are_shown_next_to_the_field(page: Page, stack: RunningStack) -> None:
    page.goto(f"{stack.url}/#/register")
    page.get_by_label("Full name").fill("Bad Number")
    page.get_by_label("E-mail").fill("bad.number@example.in")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Aadhaar number").fill("234123412347")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#field-aadhaar-error")).to_contain_text("invalid check digit")
    expect(page.get_by_label("Aadhaar number")).to_have_attribute("aria-invalid", "true")


def test_a_wrong_password_says_so_and_logout_returns_to_login(page: Page, stack: RunningStack, api: Api) -> None:
    user = api.register()
    page.goto(f"{stack.url}/#/dashboard")
    expect(page).to_have_url(re.compile("#/login$"))
    screenshot(page, "login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").filter(has_text="incorrect")).to_be_visible()
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#balance")).to_have_text("₹10,000.00")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile("#/login$"))
    page.goto(f"{stack.url}/#/profile")
    expect(page).to_have_url(re.compile("#/login$"))


def test_a_payment_moves_both_balances_and_the_receiver_sees_it_without_reloading(
    page: Page, browser: Browser, stack: RunningStack, api: Api
) -> None:
    # Given Asha and Ravi, each logged in in their own browser
    asha, ravi = api.register(full_name="Asha Rao"), api.register(full_name="Ravi Kumar")
    log_in(page, stack.url, asha)
    ravi_context = browser.new_context(locale="en-IN")
    ravi_page = ravi_context.new_page()
    log_in(ravi_page, stack.url, ravi)
    expect(ravi_page.locator("#balance")).to_have_text("₹10,000.00")
    # When Asha sends Ravi ₹1,234.50
    send(page, ravi.email, "1234.5", note="Dinner")
    screenshot(page, "send-money")
    page.get_by_role("button", name="Send money").click()
    expect(page.locator("#send-receipt")).to_contain_text("Sent ₹1,234.50 to Ravi Kumar")
    screenshot(page, "send-money-done")
    # Then her dashboard shows the new balance and the payment
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#balance")).to_have_text("₹8,765.50")
    expect(page.locator("#history li").first).to_contain_text("To Ravi Kumar")
    screenshot(page, "dashboard-after-payment")
    # And Ravi's dashboard, never reloaded, catches up by polling and flashes the balance
    expect(ravi_page.locator("#balance")).to_have_text("₹11,234.50", timeout=15_000)
    expect(ravi_page.locator("#history li").first).to_contain_text("From Asha Rao")
    expect(ravi_page.locator("#history li").first).to_contain_text("Dinner")
    screenshot(ravi_page, "dashboard-receiver-updated")
    ravi_context.close()


def test_a_double_click_pays_once(page: Page, stack: RunningStack, api: Api) -> None:
    asha, ravi = api.register(), api.register()
    log_in(page, stack.url, asha)
    send(page, ravi.email, "100")
    page.get_by_role("button", name="Send money").dblclick()
    expect(page.locator("#send-receipt")).to_be_visible()
    page.wait_for_timeout(1500)  # let any second request land before counting
    assert api.balance_paise(api.login(ravi)) == 1_000_000 + 10_000
    assert len([entry for entry in api.history(api.login(asha)) if entry["direction"] == "sent"]) == 1


def test_insufficient_funds_and_unknown_receivers_are_explained(page: Page, stack: RunningStack, api: Api) -> None:
    asha, ravi = api.register(), api.register()
    log_in(page, stack.url, asha)
    send(page, ravi.email, "20000")
    page.get_by_role("button", name="Send money").click()
    # Above the step-up threshold the password is asked for in place, then the same payment is retried
    page.get_by_role("dialog").get_by_label("Your password").fill(asha.password)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#send-error")).to_have_text("Your balance is too low for this payment.")
    screenshot(page, "send-insufficient-funds")
    page.get_by_label("Receiver's e-mail").fill("nobody.here@example.in")
    page.get_by_label("Amount (₹)").fill("10")
    page.get_by_role("button", name="Send money").click()
    expect(page.locator("#send-error")).to_have_text("There is no VaultPay account with that e-mail address.")
    assert api.balance_paise(api.login(asha)) == 1_000_000


def test_reveal_and_hide_the_aadhaar_number(page: Page, stack: RunningStack, api: Api) -> None:
    aadhaar = make_aadhaar()
    user = api.register(aadhaar=aadhaar)
    log_in(page, stack.url, user)
    page.get_by_role("link", name="Profile").click()
    expect(page.locator("#aadhaar")).to_have_text(f"XXXX XXXX {aadhaar[-4:]}")
    screenshot(page, "profile-masked")
    page.get_by_role("button", name="Show full number").click()
    page.get_by_label("Re-enter your password to reveal").fill("wrong password")
    page.get_by_role("button", name="Reveal Aadhaar").click()
    expect(page.get_by_role("alert").filter(has_text="incorrect")).to_be_visible()
    page.get_by_label("Re-enter your password to reveal").fill(user.password)
    page.get_by_role("button", name="Reveal Aadhaar").click()
    expect(page.locator("#aadhaar")).to_have_text(f"{aadhaar[:4]} {aadhaar[4:8]} {aadhaar[8:]}")
    screenshot(page, "profile-revealed")
    page.get_by_role("button", name="Hide").click()
    expect(page.locator("#aadhaar")).to_have_text(f"XXXX XXXX {aadhaar[-4:]}")


def test_history_loads_more_pages(page: Page, stack: RunningStack, api: Api) -> None:
    asha, ravi = api.login(api.register()), api.register()
    for index in range(12):
        api.transfer(asha, ravi, f"{index + 1}.00")
    log_in(page, stack.url, asha)
    expect(page.locator("#history li")).to_have_count(10)
    page.get_by_role("button", name="Load more").click()
    expect(page.locator("#history li")).to_have_count(13)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()


def test_it_works_at_phone_width(browser: Browser, stack: RunningStack, api: Api) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="en-IN", is_mobile=True)
    page = context.new_page()
    user = api.register()
    log_in(page, stack.url, user)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "dashboard-phone")
    context.close()
