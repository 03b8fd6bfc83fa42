"""Accessibility and formatting: visible focus everywhere, focus on route change, errors shown, INR."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import contrast, log_in, screenshot
from tests.support.api import Api
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

# The focused element's ring, and the colour of the surface just outside the ring (the first
# opaque background under that point, the focused element itself excluded).
FOCUS_RING = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const rect = element.getBoundingClientRect();
  const reach = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth) + 2;
  const x = Math.max(0, rect.left - reach), y = rect.top + rect.height / 2;
  let surface = getComputedStyle(document.documentElement).backgroundColor;
  for (const under of document.elementsFromPoint(x, y)) {
    if (under === element || element.contains(under)) continue;
    const color = getComputedStyle(under).backgroundColor;
    const alpha = color.startsWith("rgba") ? parseFloat(color.split(",")[3]) : 1;
    if (alpha === 1) { surface = color; break; }
  }
  return {
    name: (element.getAttribute("aria-label") || element.textContent || element.name || element.tagName).trim(),
    tag: element.tagName,
    ringStyle: style.outlineStyle,
    ringWidth: parseFloat(style.outlineWidth),
    ring: style.outlineColor,
    surface,
    border: style.borderTopColor,
  };
}"""


def tab_through(page: Page, limit: int = 30) -> list[dict[str, Any]]:
    """Tabs from the top of the page to the end, returning each focused element's ring."""
    rings: list[dict[str, Any]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            break
        ring = page.evaluate(FOCUS_RING)
        if rings and ring == rings[0]:
            break
        rings.append(ring)
    return rings


def assert_visible_focus(rings: list[dict[str, Any]]) -> None:
    for ring in rings:
        assert ring["ringStyle"] != "none", ring
        assert ring["ringWidth"] >= 2, ring
        assert contrast(ring["ring"], ring["surface"]) >= 3, ring


def test_keyboard_focus_is_visible_on_every_surface(page: Page, stack: RunningStack, api: Api) -> None:
    # Given the dashboard, loaded fresh so that Tab starts at the top of the page
    log_in(page, stack.url, api.register())
    page.reload()
    expect(page.locator("#balance")).to_have_text(re.compile("^₹"))
    # When a keyboard user tabs through it: skip link, top bar, balance card
    rings = tab_through(page)
    # Then every stop shows a ring of at least 3:1 against the surface around it, green or not
    names = [ring["name"] for ring in rings]
    top_bar = ["Skip to content", "VaultPay home", "Dashboard", "Send money", "Borrow", "Lend", "Loans", "Profile", "Log out"]
    assert names[:9] == top_bar
    assert names[9] == "Send money"  # the balance card's button
    assert_visible_focus(rings)
    page.keyboard.press("Shift+Tab")
    screenshot(page, "focus-balance-card")
    # And on the send form (inputs on a white card) the same holds, and input borders reach 3:1
    page.goto(f"{stack.url}/#/send")
    page.reload()
    expect(page.get_by_label("Amount (₹)")).to_be_visible()
    rings = tab_through(page)
    inputs = [ring for ring in rings if ring["tag"] == "INPUT"]
    assert len(inputs) == 3
    assert_visible_focus(rings)
    page.evaluate("document.activeElement.blur()")
    borders = page.locator("input").evaluate_all("inputs => inputs.map((i) => getComputedStyle(i).borderTopColor)")
    assert len(borders) == 3
    for border in borders:
        assert contrast(border, "rgb(255, 255, 255)") >= 3, border


def test_a_route_change_moves_focus_to_the_new_page(page: Page, stack: RunningStack, api: Api) -> None:
    # Given the dashboard
    log_in(page, stack.url, api.register())
    # When a keyboard user follows the "Profile" link in the navigation
    page.get_by_role("navigation").get_by_role("link", name="Profile").focus()
    page.keyboard.press("Enter")
    # Then focus lands on the new page's heading, inside the main region
    expect(page.get_by_role("heading", name="Profile", level=1)).to_be_focused()
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
    # And so it does for the send page
    page.get_by_role("navigation").get_by_role("link", name="Send money").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Send money", level=1)).to_be_focused()


def test_a_profile_that_fails_to_load_says_so(page: Page, stack: RunningStack, api: Api) -> None:
    # Given the profile endpoint is failing
    user = api.register(full_name="Meera Iyer")
    log_in(page, stack.url, user)
    page.route(
        "**/api/users/profile/",
        lambda route: route.fulfill(
            status=503,
            content_type="application/problem+json",
            json={"type": "https://vaultpay.example/problems/temporarily-unavailable", "title": "Unavailable", "status": 503},
        ),
    )
    # When the profile page opens
    page.get_by_role("link", name="Profile").click()
    # Then an error is shown instead of an empty card
    expect(page.locator("#profile-error")).to_contain_text("Could not load your profile.")
    expect(page.locator("#profile-error")).to_contain_text("VaultPay is temporarily unavailable.")
    screenshot(page, "profile-error")
    # And "Try again" loads it once the API is back
    page.unroute("**/api/users/profile/")
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#profile-name")).to_have_text("Meera Iyer")
    expect(page.locator("#profile-error")).to_have_count(0)


def test_amounts_use_indian_digit_grouping(page: Page, stack: RunningStack, api: Api) -> None:
    # Given the dashboard's own formatter, loaded as the page loads it
    page.goto(f"{stack.url}/#/login")
    formatted = page.evaluate("""async () => {
      const { formatInr } = await import("/js/money.js");
      return ["100000.00", "100000", "1234567.5", "99999999999.99", "-250000.00", "0.05"].map(formatInr);
    }""")
    # Then lakhs and crores are grouped the Indian way
    assert formatted == ["₹1,00,000.00", "₹1,00,000.00", "₹12,34,567.50", "₹99,99,99,99,999.99", "−₹2,50,000.00", "₹0.05"]
    # And a large balance shows that way on the dashboard
    page.route(
        "**/api/wallet/balance/",
        lambda route: route.fulfill(json={"balance": "250000.00", "currency": "INR", "version": 7}, headers={"ETag": '"v7"'}),
    )
    log_in(page, stack.url, api.register())
    expect(page.locator("#balance")).to_have_text("₹2,50,000.00")
