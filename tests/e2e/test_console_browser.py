"""The web console in a real browser: Playwright driving Debian's chromium, headless.

Playwright's own browser download is not used; ``scripts/test`` installs the ``chromium``
package when it can (as root), and these tests skip, saying why, when there is none.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import Server, Tenant, random_number, wait_until

PHONE = "+15558675310"
CHROMIUM = os.environ.get("SMSGATE_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no chromium at {CHROMIUM}: install Debian's chromium package "
    "(scripts/test does when run as root) or set SMSGATE_CHROMIUM",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread
    while it is open, and later tests call asyncio.run()."""
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    p = context.new_page()
    yield p
    context.close()


def sign_in(page: Any, server: Server, sid: str, secret: str) -> None:
    page.goto(f"{server.base_url}/console/login")
    page.get_by_label("Account SID or API key SID").fill(sid)
    page.get_by_label("Auth Token or key secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/console/AC\w+/messages$"))


def live(page: Any) -> None:
    """Wait until the page's event stream is open."""
    expect(page.locator("#live-state")).to_have_text("● live")


def test_watch_answer_and_redact_in_the_browser(
    page: Any, server: Server, tenant: Tenant, receiver: Any
) -> None:
    sign_in(page, server, tenant.sid, tenant.token)
    live(page)
    page.evaluate("window.notReloaded = true")

    # A message sent through the SDK appears in the log and reaches delivered, live.
    sent = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="Your code is 4242")
    row = page.locator(f'tr[data-sid="{sent.sid}"]')
    expect(row.locator(".status")).to_have_text("delivered")
    expect(row).to_contain_text("Your code is 4242")
    assert page.evaluate("window.notReloaded") is True

    # Its timeline.
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/messages/{sent.sid}$"))
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("created")
    # every status from its history, in order, each with its time (no StatusCallback here)
    statuses = timeline.locator("li strong")
    expect(statuses).to_have_text(["created", "queued", "sending", "sent", "delivered"])
    expect(timeline.locator("li time")).to_have_count(5)

    # A reply from the phone box reaches the app's webhook; its TwiML answers.
    url = receiver.answer("/sms", "<Response><Message>Got it, thanks!</Message></Response>")
    tenant.client.incoming_phone_numbers.list(phone_number=tenant.number)[0].update(sms_url=url)
    page.get_by_role("link", name="Conversation", exact=True).click()
    expect(page).to_have_url(re.compile(r"/thread\?"))
    live(page)
    page.get_by_role("textbox", name=re.compile("^Phone:")).fill("Can I change my booking?")
    page.get_by_role("button", name="Text from the phone").click()
    live(page)
    chat = page.locator("ol.chat")
    expect(chat.locator("li.in")).to_contain_text("Can I change my booking?")
    expect(chat.locator("li.out").last).to_contain_text("Got it, thanks!")  # arrives live
    chat.locator("li.in a").click()
    exchange = page.locator(".exchange")
    expect(exchange).to_contain_text("HTTP 200")
    expect(exchange.locator("pre.twiml")).to_contain_text("<Message>Got it, thanks!</Message>")

    # Send from the conversation, then redact it once delivered.
    page.go_back()
    page.get_by_role("textbox", name=re.compile("^Reply from")).fill("Yes, tomorrow at 10.")
    page.get_by_role("button", name="Send", exact=True).click()
    live(page)
    mine = chat.locator("li.out", has_text="Yes, tomorrow at 10.")
    expect(mine.locator(".status")).to_have_text("delivered")
    mine.get_by_role("link").click()
    expect(page.locator("#current-status")).to_have_text("delivered")
    page.get_by_role("button", name="Redact body").click()
    expect(page.locator(".flash.ok")).to_contain_text("redacted")
    expect(page.locator(".msgbody")).to_contain_text("empty or redacted")
    redacted = wait_until(
        lambda: [m for m in tenant.client.messages.list(to=PHONE, limit=10) if m.body == ""]
    )
    assert len(redacted) == 1


def test_the_log_is_usable_at_375_px_and_by_keyboard(
    browser: Any, server: Server, tenant: Tenant
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        other = random_number()
        tenant.client.messages.create(to=other, from_=tenant.number, body="small screens")
        page.goto(f"{server.base_url}/console/login")
        # keyboard only: the first field has the focus, Tab goes on, Enter submits
        assert page.evaluate("document.activeElement.id") == "username"
        page.keyboard.type(tenant.sid)
        page.keyboard.press("Tab")
        page.keyboard.type(tenant.token)
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/messages$"))
        expect(page.get_by_text("small screens")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page scrolls sideways at 375 px: {width}"
        page.get_by_label("Number (either side)").fill(other)
        page.get_by_label("Number (either side)").press("Enter")
        expect(page.locator("tbody tr")).to_have_count(1)
    finally:
        context.close()
