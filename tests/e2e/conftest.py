"""Browser tests: Debian's Chromium, driven by Playwright for Python, against the local stack."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request, Route, expect, sync_playwright

from local.template import ROOT
from tests.support.api import User

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is needed for the browser tests: `python -m local.prerequisites test` says how to install it")
    browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-IN")
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    # The stack may be cold-starting workers while another test worker loads both cores:
    # waits are generous, and a wait only ends early when the page is ready.
    page.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    return page


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, url: str, user: User) -> None:
    page.goto(f"{url}/#/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#balance")).to_have_text(re.compile(r"^₹"))


def send(page: Page, receiver: str, amount: str, note: str = "") -> None:
    """Opens the send page from the navigation and fills the form (without sending it)."""
    page.get_by_role("link", name="Send money").first.click()
    page.get_by_label("Receiver's e-mail").fill(receiver)
    page.get_by_label("Amount (₹)").fill(amount)
    if note:
        page.get_by_label("Note (optional)").fill(note)


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two CSS colours given as rgb()/rgba() strings (alpha ignored)."""

    def luminance(color: str) -> float:
        channels = [int(value) / 255 for value in re.findall(r"[\d.]+", color)[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def keys_of(page: Page, suffix: str) -> list[str]:
    """The Idempotency-Key of every POST to a path ending in ``suffix`` the page makes from now on."""
    keys: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and request.url.endswith(suffix):
            keys.append(request.headers["idempotency-key"])

    page.on("request", record)
    return keys


def lose_the_response(route: Route) -> None:
    """The request reaches the server (which acts on it), but its answer never reaches the page."""
    route.fetch()
    route.abort("connectionreset")
