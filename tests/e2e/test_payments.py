"""Paying exactly once from the browser: which answers keep the Idempotency-Key and which end it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import keys_of, log_in, lose_the_response, screenshot, send
from tests.support.api import Api
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

TRANSFER = "**/api/wallet/transfer/"
WELCOME_PAISE = 1_000_000


def test_a_network_retry_reuses_the_idempotency_key(page: Page, stack: RunningStack, api: Api) -> None:
    # Given Asha on the send page, and a network that loses the answer to her first attempt only
    asha, ravi = api.register(), api.register(full_name="Ravi Kumar")
    log_in(page, stack.url, asha)
    keys = keys_of(page, "/api/wallet/transfer/")
    page.route(TRANSFER, lose_the_response, times=1)
    send(page, ravi.email, "100")
    # When she sends the payment once
    page.get_by_role("button", name="Send money").click()
    # Then the page retries on its own with the same key, and the server pays exactly once
    expect(page.locator("#send-receipt")).to_contain_text("Sent ₹100.00 to Ravi Kumar")
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert api.balance_paise(api.login(ravi)) == WELCOME_PAISE + 10_000
    assert len([entry for entry in api.history(api.login(asha)) if entry["direction"] == "sent"]) == 1


def test_a_refused_payment_is_not_replayed_once_the_balance_has_grown(page: Page, stack: RunningStack, api: Api) -> None:
    # Given Asha's payment of ₹10,000 (the most that needs no step-up) was refused for insufficient
    # funds, after she had spent ₹100 of her welcome credit
    asha, ravi, bina = api.register(), api.register(full_name="Ravi Kumar"), api.login(api.register())
    assert api.transfer(api.login(asha), bina.email, "100.00").status_code == 201
    log_in(page, stack.url, asha)
    keys = keys_of(page, "/api/wallet/transfer/")
    send(page, ravi.email, "10000")
    page.get_by_role("button", name="Send money").click()
    expect(page.locator("#send-error")).to_have_text("Your balance is too low for this payment.")
    # And then her balance grew by ₹5,000
    assert api.transfer(bina, asha.email, "5000.00").status_code == 201
    # When she clicks Send again without editing anything
    page.get_by_role("button", name="Send money").click()
    # Then it is a new payment, with a new key, and it goes through
    expect(page.locator("#send-receipt")).to_contain_text("Sent ₹10,000.00 to Ravi Kumar")
    expect(page.locator("#send-error")).to_be_hidden()
    assert len(keys) == 2
    assert keys[0] != keys[1]
    assert api.balance_paise(api.login(ravi)) == WELCOME_PAISE + 1_000_000


def test_after_retries_run_out_an_edited_payment_is_not_paid_twice(page: Page, stack: RunningStack, api: Api) -> None:
    # Given every answer to Asha's payment of ₹100 is lost, though the server paid it
    asha, ravi = api.register(), api.register(full_name="Ravi Kumar")
    log_in(page, stack.url, asha)
    keys = keys_of(page, "/api/wallet/transfer/")
    page.route(TRANSFER, lose_the_response)
    send(page, ravi.email, "100")
    page.get_by_role("button", name="Send money").click()
    expect(page.locator("#send-error")).to_contain_text("Could not reach VaultPay", timeout=20_000)
    expect(page.locator("#send-error")).to_contain_text("will not be made twice")
    assert len(keys) == 4
    assert set(keys) == {keys[0]}
    page.unroute(TRANSFER)
    # When she changes the amount
    page.get_by_label("Amount (₹)").fill("150")
    # Then she is told the earlier attempt may have gone through
    expect(page.locator("#send-pending")).to_contain_text("₹100.00")
    expect(page.locator("#send-pending")).to_contain_text("could not be confirmed")
    screenshot(page, "send-unconfirmed-edited")
    # And when she sends the new details, the server recognises the earlier attempt's key and
    # refuses them instead of paying twice; the page says so plainly
    page.get_by_role("button", name="Send money").click()
    expect(page.locator("#send-error")).to_contain_text("with different details, may have gone through")
    expect(page.locator("#send-error")).to_contain_text("Check your history")
    assert keys[-1] == keys[0]
    assert api.balance_paise(api.login(ravi)) == WELCOME_PAISE + 10_000
    screenshot(page, "send-key-reused")
    # And having been told, a further click is a new payment with a new key
    page.get_by_role("button", name="Send money").click()
    expect(page.locator("#send-receipt")).to_contain_text("Sent ₹150.00 to Ravi Kumar")
    assert keys[-1] != keys[0]
    assert api.balance_paise(api.login(ravi)) == WELCOME_PAISE + 25_000
