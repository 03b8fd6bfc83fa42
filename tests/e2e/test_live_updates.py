"""Live updates: the balance polled with its ETag, the history polled and merged, one poll at a time."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Request, Response, expect

from tests.e2e.conftest import log_in, screenshot
from tests.support.api import Api
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

BALANCE_PATH = "/api/wallet/balance/"

# Counts the balance requests in flight in the page, and holds each for 400 ms so that
# overlapping polls would show.
COUNT_BALANCE_POLLS = """
window.__polls = { started: 0, inFlight: 0, maxInFlight: 0 };
const realFetch = window.fetch;
window.fetch = async (input, init) => {
  if (!String(input).includes("/api/wallet/balance/")) return realFetch(input, init);
  const polls = window.__polls;
  polls.started += 1;
  polls.inFlight += 1;
  polls.maxInFlight = Math.max(polls.maxInFlight, polls.inFlight);
  try {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return await realFetch(input, init);
  } finally {
    polls.inFlight -= 1;
  }
};
"""

SET_HIDDEN = """(hidden) => {
  for (const [name, value] of [["hidden", hidden], ["visibilityState", hidden ? "hidden" : "visible"]]) {
    Object.defineProperty(document, name, { configurable: true, get: () => value });
  }
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_polling_sends_the_etag_and_a_change_flashes_the_balance(page: Page, stack: RunningStack, api: Api) -> None:
    # Given Asha's dashboard, watching its balance requests and answers
    asha, ravi = api.register(), api.login(api.register(full_name="Ravi Kumar"))
    sent: list[str | None] = []
    answers: list[tuple[int, str | None]] = []

    def on_request(request: Request) -> None:
        if request.url.endswith(BALANCE_PATH):
            sent.append(request.headers.get("if-none-match"))

    def on_response(response: Response) -> None:
        if response.url.endswith(BALANCE_PATH):
            answers.append((response.status, response.headers.get("etag")))

    page.on("request", on_request)
    page.on("response", on_response)
    log_in(page, stack.url, asha)
    expect(page.locator("#balance")).to_have_text("₹10,000.00")
    # When the dashboard polls while nothing changes
    page.wait_for_timeout(4_000)
    # Then the first request asks for the balance, and every later one sends back its ETag and is
    # answered 304, with the balance left as it was and not flashed
    assert sent[0] is None
    assert answers[0][0] == 200
    first_etag = answers[0][1]
    assert first_etag
    assert len(sent) >= 2
    assert sent[1:] == [first_etag] * (len(sent) - 1)
    assert {status for status, _ in answers[1:]} == {304}
    expect(page.locator("#balance")).to_have_text("₹10,000.00")
    expect(page.locator("#balance")).not_to_have_class(re.compile("flash"))
    # When Ravi pays her
    assert api.transfer(ravi, asha.email, "2500.00").status_code == 201
    # Then the next poll gets a 200 with a new ETag, the balance changes and flashes, the new entry
    # is announced, and the poll after that sends the new ETag
    expect(page.locator("#balance")).to_have_text("₹12,500.00", timeout=10_000)
    expect(page.locator("#balance")).to_have_class(re.compile(r"\bflash\b"))
    expect(page.locator("#history-news")).to_have_text("New transaction: From Ravi Kumar, +₹2,500.00")
    screenshot(page, "dashboard-balance-flash")
    changed = next(etag for status, etag in answers if status == 200 and etag != first_etag)
    page.wait_for_timeout(3_500)
    assert sent[-1] == changed


def test_a_failed_attempt_made_elsewhere_appears_and_loaded_pages_stay(page: Page, stack: RunningStack, api: Api) -> None:
    # Given Asha's dashboard with two pages of history loaded
    asha, ravi = api.login(api.register()), api.register(full_name="Ravi Kumar")
    for index in range(12):
        assert api.transfer(asha, ravi, f"{index + 1}.00").status_code == 201
    log_in(page, stack.url, asha)
    expect(page.locator("#history li")).to_have_count(10)
    page.get_by_role("button", name="Load more").click()
    expect(page.locator("#history li")).to_have_count(13)
    page.evaluate("document.querySelector('#history li:last-child').dataset.marked = 'yes'")
    # And the list is not a live region: refreshes that bring nothing new announce nothing
    expect(page.locator("#history")).not_to_have_attribute("aria-live", re.compile(".*"))
    page.wait_for_timeout(3_500)
    expect(page.locator("#history-news")).to_have_text("")
    expect(page.locator("#history li")).to_have_count(13)
    # When she makes a payment elsewhere that is refused (a FAILED entry; the balance is unchanged)
    assert api.transfer(asha, ravi, "10000.00").status_code == 422  # at the step-up threshold: no grant needed
    # Then it appears on top without a reload, the pages loaded before stay, and only it is announced
    first = page.locator("#history li").first
    expect(first).to_contain_text("To Ravi Kumar", timeout=10_000)
    expect(first).to_contain_text("Failed")
    expect(first).to_contain_text("−₹10,000.00")
    expect(page.locator("#history li")).to_have_count(14)
    expect(page.locator("#history li:last-child")).to_have_attribute("data-marked", "yes")
    expect(page.locator("#history-news")).to_have_text("New transaction: To Ravi Kumar, −₹10,000.00, failed")
    expect(page.locator("#balance")).to_have_text("₹9,922.00")
    screenshot(page, "dashboard-failed-attempt")


def test_polls_never_overlap_and_stop_while_the_tab_is_hidden(page: Page, stack: RunningStack, api: Api) -> None:
    # Given a dashboard whose balance requests are slow (400 ms) and counted
    page.add_init_script(COUNT_BALANCE_POLLS)
    log_in(page, stack.url, api.register())
    page.wait_for_function("window.__polls.inFlight === 0")
    # When focus and visibilitychange ask for polls all at once
    page.evaluate("""() => {
      for (let i = 0; i < 5; i += 1) {
        window.dispatchEvent(new Event("focus"));
        document.dispatchEvent(new Event("visibilitychange"));
      }
    }""")
    page.wait_for_timeout(1_000)
    # Then one poll ran at a time
    assert page.evaluate("window.__polls.maxInFlight") == 1
    # When the tab is hidden, and focus and the interval come by
    page.wait_for_function("window.__polls.inFlight === 0")
    page.evaluate(SET_HIDDEN, True)
    started = page.evaluate("window.__polls.started")
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    page.wait_for_timeout(3_500)
    # Then no poll runs
    assert page.evaluate("window.__polls.started") == started
    # And when it is shown again, polling resumes at once
    page.evaluate(SET_HIDDEN, False)
    page.wait_for_function(f"window.__polls.started > {started}", timeout=1_000)
