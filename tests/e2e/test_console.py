"""The web console over HTTP (no browser): sign-in, sessions and CSRF, the message log's
filters and paging, the live feed, message detail, conversations, and resource pages.

Browser scenarios are in test_console_browser.py."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime

import httpx
import orjson
import pytest
from twilio.rest import Client

from tests.conftest import Launcher, Server, Tenant, random_number, wait_until

PHONE = "+15558675310"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


class Console:
    """A browser-like client: cookies, and the CSRF token of the last page read."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=20)
        self.csrf = ""

    def get(self, path: str, **params: str) -> httpx.Response:
        r = self.http.get(path, params=params) if params else self.http.get(path)
        if "csrf" in r.text:
            self.csrf = csrf_of(r.text)
        return r

    def post(self, path: str, data: dict[str, str], *, csrf: str | None = None) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.csrf if csrf is None else csrf, **data})

    def sign_in(self, username: str, password: str) -> httpx.Response:
        self.get("/console/login")
        r = self.post("/console/login", {"username": username, "password": password})
        if r.status_code == 303:
            self.get(r.headers["location"])  # signing in starts a session with a new token
        return r

    def page(self, path: str, **params: str) -> str:
        r = self.get(path, **params)
        assert r.status_code == 200, (r.status_code, r.headers, r.text[:500])
        return r.text


@pytest.fixture
def console(server: Server) -> Iterator[Console]:
    c = Console(server)
    yield c
    c.http.close()


def signed_in(console: Console, tenant: Tenant) -> Console:
    r = console.sign_in(tenant.sid, tenant.token)
    assert r.status_code == 303 and r.headers["location"] == f"/console/{tenant.sid}/messages"
    return console


def flash(html: str) -> str:
    found = re.search(r'<p class="flash (\w+)"[^>]*>(.*?)</p>', html, re.S)
    return f"{found.group(1)}: {found.group(2)}" if found else ""


# -- sign-in, session, CSRF -------------------------------------------------------------


def test_the_session_cookie_is_httponly_samesite_strict_and_scoped(
    console: Console, tenant: Tenant
) -> None:
    r = console.sign_in(tenant.sid, tenant.token)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert tenant.token not in r.headers["set-cookie"]
    assert "Messages" in console.page(f"/console/{tenant.sid}/messages")


def test_wrong_credentials_and_no_session_lead_to_the_sign_in_page(
    console: Console, tenant: Tenant
) -> None:
    assert console.get(f"/console/{tenant.sid}/messages").headers["location"] == "/console/login"
    r = console.sign_in(tenant.sid, "0" * 32)
    assert r.status_code == 401 and "not accepted" in r.text
    assert console.get(f"/console/{tenant.sid}/messages").status_code == 303
    assert console.get(f"/console/{tenant.sid}/events").status_code == 401


def test_every_form_needs_the_sessions_csrf_token(console: Console, tenant: Tenant) -> None:
    console.get("/console/login")
    no_token = console.post(
        "/console/login", {"username": tenant.sid, "password": tenant.token}, csrf=""
    )
    assert no_token.status_code == 403
    signed_in(console, tenant)
    sid = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="keep me").sid
    wait_until(lambda: tenant.client.messages(sid).fetch().status == "delivered")
    console.page(f"/console/{tenant.sid}/messages/{sid}")
    for token in ("", "forged-" + console.csrf[7:]):
        r = console.post(f"/console/{tenant.sid}/messages/{sid}/redact", {}, csrf=token)
        assert r.status_code == 403
    assert tenant.client.messages(sid).fetch().body == "keep me"
    # a token from another session is not this session's
    other = Console(console.server)
    other.sign_in(tenant.sid, tenant.token)
    r = console.post(f"/console/{tenant.sid}/messages/{sid}/redact", {}, csrf=other.csrf)
    assert r.status_code == 403
    other.http.close()
    assert tenant.client.messages(sid).fetch().body == "keep me"


def test_sign_out_ends_the_session(console: Console, tenant: Tenant) -> None:
    signed_in(console, tenant)
    console.page(f"/console/{tenant.sid}/messages")
    assert console.post("/console/logout", {}).headers["location"] == "/console/login"
    assert console.get(f"/console/{tenant.sid}/messages").headers["location"] == "/console/login"


def test_an_api_key_signs_in_and_a_deleted_key_ends_its_session(
    console: Console, tenant: Tenant
) -> None:
    key = tenant.client.new_keys.create(friendly_name="console")
    r = console.sign_in(key.sid, key.secret)
    assert r.headers["location"] == f"/console/{tenant.sid}/messages"
    assert "Keys are managed with the account" in console.page(f"/console/{tenant.sid}/keys")
    tenant.client.keys(key.sid).delete()
    assert console.get(f"/console/{tenant.sid}/messages").headers["location"] == "/console/login"


def test_a_new_auth_token_ends_old_sessions(server: Server, main_client: Client) -> None:
    sub = main_client.api.v2010.accounts.create(friendly_name="rotating")
    c = Console(server)
    c.sign_in(sub.sid, sub.auth_token)
    c.page(f"/console/{sub.sid}/messages")
    # no token rotation in the API yet: closing the account must end the session too
    main_client.api.v2010.accounts(sub.sid).update(status="closed")
    assert c.get(f"/console/{sub.sid}/messages").headers["location"] == "/console/login"
    c.http.close()


def test_a_main_account_reaches_its_subaccounts_and_not_the_other_way(
    server: Server, console: Console, tenant: Tenant
) -> None:
    console.sign_in(server.account_sid, server.auth_token)
    page = console.page(f"/console/{tenant.sid}/messages")
    assert f'value="{tenant.sid}" selected' in page  # the switcher offers it
    other = Console(server)
    other.sign_in(tenant.sid, tenant.token)
    assert other.get(f"/console/{server.account_sid}/messages").status_code == 404
    other.http.close()


# -- the message log ---------------------------------------------------------------------


def sids_on(html: str) -> list[str]:
    return re.findall(r'<tr data-sid="(\w+)"', html)


def test_the_log_filters_by_direction_status_number_and_body(
    console: Console, tenant: Tenant
) -> None:
    signed_in(console, tenant)
    other = random_number()
    out1 = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="Invoice 50% paid")
    out2 = tenant.client.messages.create(to=other, from_=tenant.number, body="ünïcode ✓")
    failed = tenant.client.messages.create(to="+15005550012", from_=tenant.number, body="nope")
    inbound = tenant.http.post(
        "/simulator/inbound", data={"From": PHONE, "To": tenant.number, "Body": "hello back"}
    ).json()["sid"]
    everyone = {out1.sid, out2.sid, inbound}
    wait_until(
        lambda: all(
            tenant.client.messages(s).fetch().status in ("delivered", "received") for s in everyone
        )
    )
    base = f"/console/{tenant.sid}/messages"
    assert set(sids_on(console.page(base))) >= everyone
    assert sids_on(console.page(base, direction="inbound")) == [inbound]
    assert set(sids_on(console.page(base, direction="outbound-api"))) >= {out1.sid, out2.sid}
    assert sids_on(console.page(base, number=other)) == [out2.sid]
    assert set(sids_on(console.page(base, number=PHONE))) == {out1.sid, inbound}
    assert sids_on(console.page(base, number=PHONE, direction="inbound")) == [inbound]
    assert sids_on(console.page(base, q="50%")) == [out1.sid]
    assert sids_on(console.page(base, q="INVOICE")) == [out1.sid]
    assert sids_on(console.page(base, q="%")) == [out1.sid]  # a literal %, not a wildcard
    wait_until(lambda: tenant.client.messages(failed.sid).fetch().status == "failed")
    assert sids_on(console.page(base, status="failed")) == [failed.sid]
    assert failed.sid not in sids_on(console.page(base, status="delivered"))
    day = out1.date_created.strftime("%Y-%m-%d")
    assert set(sids_on(console.page(base, **{"from": day, "to": day}))) >= everyone
    assert sids_on(console.page(base, **{"from": "2000-01-01", "to": "2000-01-02"})) == []


def test_the_log_pages_with_keyset_links(idle_server: Server, idle_tenant: Tenant) -> None:
    console = Console(idle_server)
    tenant = signed_in(console, idle_tenant) and idle_tenant
    sent = [
        tenant.client.messages.create(to=PHONE, from_=tenant.number, body=f"page {i}").sid
        for i in range(55)
    ]
    first = console.page(f"/console/{tenant.sid}/messages")
    page1 = sids_on(first)
    assert len(page1) == 50
    older = re.search(r'<a href="\?([^"]+)" rel="next">', first)
    assert older, "a first page of 50 out of 55 links to older ones"
    second = console.page(f"/console/{tenant.sid}/messages?" + older.group(1).replace("&amp;", "&"))
    page2 = sids_on(second)
    assert len(page2) == 5 and not set(page1) & set(page2)
    assert set(page1) | set(page2) == set(sent)
    assert 'rel="next"' not in second
    console.http.close()


# -- the live feed -----------------------------------------------------------------------


def test_the_feed_reports_new_messages_and_each_status_change(
    server: Server, console: Console, tenant: Tenant
) -> None:
    signed_in(console, tenant)
    seen: list[dict[str, str]] = []
    kind: list[str] = []
    stop = threading.Event()

    def listen() -> None:
        try:
            with console.http.stream("GET", f"/console/{tenant.sid}/events") as r:
                kind.append(r.headers["content-type"])
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        seen.append(orjson.loads(line[6:]))
                    if stop.is_set():
                        return
        except httpx.HTTPError:  # the client closed under it at the end of the test
            if not stop.is_set():
                raise

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    wait_until(lambda: kind)
    assert kind[0].startswith("text/event-stream")
    sid = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="live").sid
    wait_until(lambda: [e["status"] for e in seen if e["sid"] == sid][-1:] == ["delivered"])
    statuses = [e["status"] for e in seen if e["sid"] == sid]
    assert len(statuses) == len(set(statuses)), f"a change came twice: {statuses}"
    assert statuses[-1] == "delivered"
    event = next(e for e in seen if e["sid"] == sid)
    assert event["thread"] == [tenant.number, PHONE]
    stop.set()
    # one more change wakes the reader so it sees stop
    tenant.client.messages.create(to=PHONE, from_=tenant.number, body="bye")
    t.join(timeout=10)


# -- one message -------------------------------------------------------------------------


def test_message_detail_explains_segments_and_lists_callbacks(
    console: Console, tenant: Tenant, receiver: object
) -> None:
    signed_in(console, tenant)
    url = receiver.url("/status")  # type: ignore[attr-defined]
    body = "Price: 5€ — café ☕"
    m = tenant.client.messages.create(to=PHONE, from_=tenant.number, body=body, status_callback=url)
    wait_until(lambda: tenant.client.messages(m.sid).fetch().status == "delivered")
    wait_until(lambda: "delivered" in receiver.statuses(m.sid))  # type: ignore[attr-defined]
    page = console.page(f"/console/{tenant.sid}/messages/{m.sid}")
    assert "UCS-2" in page and "U+2014" in page and "U+2615" in page
    assert "U+20AC" not in page  # € is in GSM-7's extension table, it forced nothing
    assert url in page and "HTTP 200" in page
    for field in ("account_sid", "api_version", "date_sent", "num_segments", "price"):
        assert f"<dt>{field}</dt>" in page
    assert "<strong>delivered</strong>" in page and "<strong>sent</strong>" in page
    gsm = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="{curly} [x]")
    page = console.page(f"/console/{tenant.sid}/messages/{gsm.sid}")
    assert "GSM-7" in page and "two septets" in page


TIMELINE = re.compile(r'<ol class="timeline">(.*?)</ol>', re.S)
PART_STATE = re.compile(r'<td data-label="State">([^<]+)</td>')
ENTRY = re.compile(r'<time datetime="([^"]+)">[^<]*</time> <strong>([^<]+)</strong>')


def test_message_detail_shows_each_status_with_its_time_without_a_status_callback(
    console: Console, tenant: Tenant
) -> None:
    signed_in(console, tenant)
    m = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="no callback")
    wait_until(lambda: tenant.client.messages(m.sid).fetch().status == "delivered")
    delivered = tenant.client.messages(m.sid).fetch()
    page = console.page(f"/console/{tenant.sid}/messages/{m.sid}")
    assert "No status callback attempts (no StatusCallback was given)" in page
    found = TIMELINE.search(page)
    assert found, page
    entries = [(what, datetime.fromisoformat(at)) for at, what in ENTRY.findall(found.group(1))]
    assert [what for what, _ in entries] == ["created", "queued", "sending", "sent", "delivered"]
    times = [at for _, at in entries]
    assert times == sorted(times)
    assert times[1] == times[0]  # queued when created
    assert times[2] > times[1]  # the worker's claim came later
    # sent is when the carrier took it; delivered is the message's last change
    assert times[3].replace(microsecond=0) == delivered.date_sent
    assert times[4].replace(microsecond=0) == delivered.date_updated
    # its one carrier part shows the receipt's outcome, not the `sent` it was recorded with
    assert PART_STATE.findall(page) == ["delivered"]


def test_redact_and_delete_go_through_the_message_service(console: Console, tenant: Tenant) -> None:
    signed_in(console, tenant)
    m = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="secret code 1234")
    wait_until(lambda: tenant.client.messages(m.sid).fetch().status == "delivered")
    console.page(f"/console/{tenant.sid}/messages/{m.sid}")
    r = console.post(f"/console/{tenant.sid}/messages/{m.sid}/redact", {})
    assert r.status_code == 303
    assert tenant.client.messages(m.sid).fetch().body == ""
    assert "redacted" in flash(console.page(r.headers["location"]))
    r = console.post(f"/console/{tenant.sid}/messages/{m.sid}/delete", {})
    assert r.headers["location"] == f"/console/{tenant.sid}/messages"
    assert console.get(f"/console/{tenant.sid}/messages/{m.sid}").status_code == 404


def test_an_in_flight_message_cannot_be_redacted_and_says_why(
    idle_server: Server, idle_tenant: Tenant
) -> None:
    c = Console(idle_server)
    c.sign_in(idle_tenant.sid, idle_tenant.token)
    m = idle_tenant.client.messages.create(to=PHONE, from_=idle_tenant.number, body="queued")
    page = c.page(f"/console/{idle_tenant.sid}/messages/{m.sid}")
    assert "once it reaches a final status" in page
    r = c.post(
        f"/console/{idle_tenant.sid}/messages/{m.sid}/redact",
        {"back": f"/console/{idle_tenant.sid}/messages/{m.sid}"},
    )
    said = flash(c.page(r.headers["location"]))
    assert said.startswith("error: ") and "20009" in said
    assert idle_tenant.client.messages(m.sid).fetch().body == "queued"
    c.http.close()


# -- conversations -----------------------------------------------------------------------


def test_a_conversation_replies_and_phones_in(
    console: Console, tenant: Tenant, receiver: object
) -> None:
    signed_in(console, tenant)
    reply = "<Response><Message>Thanks, we got it</Message></Response>"
    url = receiver.answer("/sms", reply)  # type: ignore[attr-defined]
    number = tenant.client.incoming_phone_numbers.list(phone_number=tenant.number)[0]
    number.update(sms_url=url)
    them = random_number()
    base = f"/console/{tenant.sid}"
    r = console.post(f"{base}/conversations", {"ours": tenant.number, "theirs": them})
    thread_url = r.headers["location"]
    console.page(thread_url)
    r = console.post(
        f"{base}/thread/phone", {"ours": tenant.number, "theirs": them, "body": "is it open?"}
    )
    assert r.headers["location"] == thread_url
    inbound = wait_until(lambda: tenant.client.messages.list(from_=them, limit=1))[0]
    twiml = wait_until(lambda: tenant.client.messages.list(from_=tenant.number, to=them, limit=1))[
        0
    ]
    assert twiml.body == "Thanks, we got it"
    r = console.post(
        f"{base}/thread/reply", {"ours": tenant.number, "theirs": them, "body": "see you"}
    )
    assert r.status_code == 303
    sent = wait_until(
        lambda: [m for m in tenant.client.messages.list(to=them, limit=5) if m.body == "see you"]
    )[0]
    assert sent.direction == "outbound-api"
    page = console.page(thread_url)
    for text in ("is it open?", "Thanks, we got it", "see you", "TwiML reply"):
        assert text in page
    detail = console.page(f"{base}/messages/{inbound.sid}")
    assert "Inbound webhook" in detail and "HTTP 200" in detail
    assert "Thanks, we got it" in detail  # the TwiML the webhook answered
    assert them in console.page(f"{base}/conversations")


def test_a_reply_the_service_refuses_shows_its_error(console: Console, tenant: Tenant) -> None:
    signed_in(console, tenant)
    base = f"/console/{tenant.sid}"
    not_ours = random_number()
    here = f"{base}/thread?ours=%2B{not_ours[1:]}&theirs=%2B{PHONE[1:]}"
    console.page(here)
    r = console.post(
        f"{base}/thread/reply", {"ours": not_ours, "theirs": PHONE, "body": "x", "back": here}
    )
    assert "21606" in flash(console.page(r.headers["location"]))


# -- numbers, services, keys, accounts ---------------------------------------------------


def test_numbers_services_keys_and_subaccounts_are_managed(
    server: Server, console: Console, tenant: Tenant
) -> None:
    signed_in(console, tenant)
    base = f"/console/{tenant.sid}"
    console.page(f"{base}/numbers")
    new = random_number()
    r = console.post(f"{base}/numbers", {"phone_number": new, "friendly_name": "shop"})
    assert "Added" in flash(console.page(r.headers["location"]))
    created = tenant.client.incoming_phone_numbers.list(phone_number=new)[0]
    assert created.friendly_name == "shop"
    r = console.post(
        f"{base}/numbers/{created.sid}",
        {
            "friendly_name": "shop",
            "sms_url": "http://127.0.0.1:9/in",
            "sms_method": "GET",
            "sms_fallback_url": "",
            "status_callback": "",
        },
    )
    fetched = tenant.client.incoming_phone_numbers(created.sid).fetch()
    assert (fetched.sms_url, fetched.sms_method) == ("http://127.0.0.1:9/in", "GET")
    r = console.post(f"{base}/numbers/{created.sid}", {"sms_url": "not a url"})
    assert "21502" in flash(console.page(r.headers["location"]))

    tenant.client.messaging.base_url = server.base_url
    console.page(f"{base}/services")
    r = console.post(f"{base}/services", {"friendly_name": "alerts", "sticky_sender": "on"})
    service = tenant.client.messaging.v1.services.list()[0]
    assert service.friendly_name == "alerts"
    console.page(f"{base}/services")
    console.post(f"{base}/services/{service.sid}/senders", {"number_sid": created.sid})
    pool = tenant.client.messaging.v1.services(service.sid).phone_numbers.list()
    assert [p.sid for p in pool] == [created.sid]
    console.post(f"{base}/services/{service.sid}", {"friendly_name": "alerts 2"})
    assert tenant.client.messaging.v1.services(service.sid).fetch().friendly_name == "alerts 2"

    page = console.page(f"{base}/keys")
    r = console.post(f"{base}/keys", {"friendly_name": "ci"})
    shown = flash(console.page(r.headers["location"]))
    key_sid, secret = re.search(
        r"Created (SK\w+)\. Its secret, shown only now: (\w+)", shown
    ).groups()  # type: ignore[union-attr]
    assert Console(server).sign_in(key_sid, secret).status_code == 303
    console.page(f"{base}/keys")
    console.post(f"{base}/keys/{key_sid}", {"friendly_name": "ci 2"})
    assert tenant.client.keys(key_sid).fetch().friendly_name == "ci 2"
    r = console.post(f"{base}/keys/{key_sid}/delete", {})
    assert flash(console.page(r.headers["location"])) == f"ok: Deleted {key_sid}."
    assert key_sid not in [k.sid for k in tenant.client.keys.list()]
    assert "Create a key" in page


def test_a_main_account_creates_and_suspends_subaccounts(
    server: Server, console: Console, main_client: Client
) -> None:
    console.sign_in(server.account_sid, server.auth_token)
    base = f"/console/{server.account_sid}"
    console.page(f"{base}/accounts")
    r = console.post(f"{base}/accounts", {"friendly_name": "from the console"})
    sid = re.search(r"subaccount (AC\w+)", flash(console.page(r.headers["location"]))).group(1)  # type: ignore[union-attr]
    console.post(f"{base}/accounts/{sid}", {"friendly_name": "renamed", "status": "suspended"})
    sub = main_client.api.v2010.accounts(sid).fetch()
    assert (sub.friendly_name, sub.status) == ("renamed", "suspended")


def test_assets_ship_inside_the_package(console: Console) -> None:
    for asset in ("console.css", "console.js"):
        r = console.http.get(f"/console/static/{asset}")
        assert r.status_code == 200 and len(r.content) > 500


def test_an_open_event_stream_does_not_hold_up_shutdown(launch: Launcher, tmp_path: object) -> None:
    """uvicorn waits for open responses on SIGTERM: the feed must end when it stops."""
    from pathlib import Path

    own = launch(Path(str(tmp_path)) / "data")
    c = Console(own)
    c.sign_in(own.account_sid, own.auth_token)
    opened, ended = threading.Event(), threading.Event()

    def listen() -> None:
        with c.http.stream("GET", f"/console/{own.account_sid}/events") as r:
            for line in r.iter_lines():
                if line.startswith("retry:"):
                    opened.set()
        ended.set()

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(10)
    assert own.stop(timeout=10) == 0
    assert ended.wait(5)
    c.http.close()
