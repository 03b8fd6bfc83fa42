"""Step-up in a real browser: enrol an authenticator app (QR code, recovery codes shown once), then
a large payment asks for a code in place and goes through under the same Idempotency-Key; a
recovery code works once. TOTP codes are computed here, as an authenticator app would, with pyotp."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in, screenshot, send
from tests.support.api import Api
from tests.support.stack import RunningStack
from tests.support.totp import authenticator

pytestmark = [pytest.mark.stack, pytest.mark.browser]


def test_enrol_an_authenticator_then_step_up_a_large_payment_and_use_a_recovery_code(
    page: Page, stack: RunningStack, api: Api
) -> None:
    # Given Asha with Rs 20,000 (Ravi sent her Rs 5,000 twice... from two friends)
    asha, ravi, meera = (
        api.register(full_name="Asha Rao"),
        api.login(api.register(full_name="Ravi Kumar")),
        api.login(api.register()),
    )
    for friend in (ravi, meera):
        assert api.transfer(friend, asha, "5000.00").status_code == 201
    log_in(page, stack.url, asha)

    # When she sets up an authenticator app from her profile (her password first)
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("button", name="Set up an authenticator app").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Your password")).to_be_focused()
    dialog.get_by_label("Your password").fill(asha.password)
    page.keyboard.press("Enter")
    # Then the QR code and ten recovery codes are shown, once
    expect(page.locator("#totp-qr svg")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    recovery_codes = page.locator("#recovery-codes li").all_inner_texts()
    totp = authenticator(page.locator("#totp-secret-uri").input_value())
    screenshot(page, "totp-enrolment")
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#totp-on")).to_have_text("Two-step verification is on.")

    # When she sends Rs 15,000 (above the Rs 10,000 threshold)
    send(page, ravi.email, "15000")
    page.get_by_role("button", name="Send money").click()
    # Then she is asked for a code from the app, in place; a wrong one is refused there
    code_field = page.get_by_role("dialog").get_by_label("Code from your authenticator app")
    expect(code_field).to_be_focused()
    code_field.fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#step-up-error")).to_contain_text("incorrect")
    code_field.fill(totp.at(time.time() + 30))  # the next step's code (the enrolment spent this one)
    page.get_by_role("button", name="Confirm").click()
    # And the same payment goes through, once
    expect(page.locator("#send-receipt")).to_contain_text("Sent ₹15,000.00 to Ravi Kumar")
    assert api.balance_paise(api.login(asha)) == 2_000_000 - 1_500_000
    assert [entry["amount"] for entry in api.history(asha) if entry["direction"] == "sent"] == ["15000.00"]

    # When she sends another large payment with a recovery code (from the dialog's other option)
    send(page, meera.email, "10000.01")
    page.get_by_role("button", name="Send money").click()
    page.get_by_role("button", name="Use a recovery code instead").click()
    page.get_by_role("dialog").get_by_label("Recovery code").fill(recovery_codes[0])
    page.get_by_role("button", name="Confirm").click()
    # Then the step-up succeeds (the payment itself is refused: her balance is too low now)
    expect(page.locator("#send-error")).to_have_text("Your balance is too low for this payment.")
    # And the same recovery code does not work twice
    send(page, meera.email, "10000.02")
    page.get_by_role("button", name="Send money").click()
    page.get_by_role("button", name="Use a recovery code instead").click()
    page.get_by_role("dialog").get_by_label("Recovery code").fill(recovery_codes[0])
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#step-up-error")).to_contain_text("already used")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
