"""Delivery through the simulator carrier, with signed status callbacks to a local receiver."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.conftest import (
    SMSGATE,
    Launcher,
    Server,
    Tenant,
    free_port,
    make_tenant,
    sdk,
    start_server,
    wait_until,
)
from tests.fakes.receiver import Receiver


def final(tenant: Tenant, sid: str, *statuses: str) -> str:
    """Wait until the message reaches one of ``statuses``; return it."""
    return str(
        wait_until(
            lambda: (s := tenant.client.messages(sid).fetch().status) in statuses and s,
            timeout=20,
        )
    )


def test_a_message_moves_to_delivered_with_signed_callbacks_in_order(
    tenant: Tenant, receiver: Receiver
) -> None:
    url = receiver.url("/ok/status?tag=1")
    m = tenant.client.messages.create(
        to="+15558675310", from_=tenant.number, body="hello", status_callback=url
    )
    assert m.status == "queued"
    wait_until(lambda: receiver.statuses(m.sid) == ["sending", "sent", "delivered"])
    fetched = tenant.client.messages(m.sid).fetch()
    assert fetched.status == "delivered"
    assert fetched.date_sent is not None
    assert fetched.error_code is None
    assert (fetched.price, fetched.price_unit) == ("-0.00790", "USD")
    validator = RequestValidator(tenant.token)
    for hit in receiver.for_message(m.sid):
        assert hit.method == "POST"
        assert hit.query == [("tag", "1")]
        assert validator.validate(url, hit.params, hit.headers["X-Twilio-Signature"])
        assert hit.params["AccountSid"] == tenant.sid
        assert hit.params["From"] == tenant.number
        assert hit.params["To"] == "+15558675310"
        assert hit.params["ApiVersion"] == "2010-04-01"
        assert hit.params["SmsSid"] == m.sid
        assert hit.params["SmsStatus"] == hit.params["MessageStatus"]
    delivered = receiver.for_message(m.sid)[-1].params
    assert len(delivered["RawDlrDoneDate"]) == 10
    assert "ErrorCode" not in delivered


def test_the_numbers_status_callback_is_used_with_its_method(
    tenant: Tenant, receiver: Receiver
) -> None:
    number = tenant.client.incoming_phone_numbers.list(phone_number=tenant.number)[0]
    url = receiver.url("/ok/number")
    number.update(status_callback=url, status_callback_method="GET")
    m = tenant.client.messages.create(to="+15558675310", from_=tenant.number, body="via number")
    wait_until(lambda: receiver.statuses(m.sid) == ["sending", "sent", "delivered"])
    hit = receiver.for_message(m.sid)[0]
    assert hit.method == "GET"
    full = url + "?" + "&".join(f"{k}={v}" for k, v in hit.query)
    signed = RequestValidator(tenant.token).compute_signature(url + "?" + _encoded(hit.query), {})
    assert hit.headers["X-Twilio-Signature"] == signed, full


def _encoded(query: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    return urlencode(query)


@pytest.mark.parametrize(
    ("to", "status", "code"),
    [
        ("+15005550010", "undelivered", 30003),
        ("+15005550011", "undelivered", 30005),
        ("+15005550012", "failed", 30007),
        ("+15005550013", "failed", 30006),
    ],
)
def test_documented_numbers_fail_the_way_they_say(
    tenant: Tenant, receiver: Receiver, to: str, status: str, code: int
) -> None:
    m = tenant.client.messages.create(
        to=to, from_=tenant.number, body="x", status_callback=receiver.url("/ok")
    )
    assert final(tenant, m.sid, status) == status
    fetched = tenant.client.messages(m.sid).fetch()
    assert fetched.error_code == code
    assert fetched.error_message
    wait_until(lambda: receiver.statuses(m.sid) and receiver.statuses(m.sid)[-1] == status)
    assert receiver.for_message(m.sid)[-1].params["ErrorCode"] == str(code)


def test_temporary_carrier_errors_are_retried(tenant: Tenant) -> None:
    m = tenant.client.messages.create(to="+15005550016", from_=tenant.number, body="flaky")
    assert final(tenant, m.sid, "delivered", "failed") == "delivered"


def test_no_receipt_leaves_the_message_sent(tenant: Tenant) -> None:
    m = tenant.client.messages.create(to="+15005550015", from_=tenant.number, body="quiet")
    assert final(tenant, m.sid, "sent", "delivered") == "sent"


@pytest.mark.parametrize(
    ("to", "from_", "code"),
    [
        ("+15005550001", None, 21211),
        ("+15005550002", None, 21612),
        ("+15005550003", None, 21408),
        ("+15005550004", None, 21610),
        ("+15005550009", None, 21614),
        ("+15558675310", "+15005550001", 21212),
        ("+15558675310", "+15005550007", 21606),
        ("+15558675310", "+15005550008", 21611),
    ],
)
def test_twilio_magic_numbers(tenant: Tenant, to: str, from_: str | None, code: int) -> None:
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(to=to, from_=from_ or tenant.number, body="magic")
    assert (info.value.status, info.value.code) == (400, code)


def test_the_always_valid_test_number_works_for_every_account(tenant: Tenant) -> None:
    m = tenant.client.messages.create(to="+15558675310", from_="+15005550006", body="magic")
    assert final(tenant, m.sid, "delivered") == "delivered"


def test_callbacks_are_retried_as_the_fragment_says_and_never_block_others(
    tenant: Tenant, receiver: Receiver
) -> None:
    failing = tenant.client.messages.create(
        to="+15558675310",
        from_=tenant.number,
        body="a",
        status_callback=receiver.url("/fail#rc=2&rp=5xx"),
    )
    hanging = tenant.client.messages.create(
        to="+15558675311",
        from_="+15005550006",
        body="b",
        status_callback=receiver.url("/slow#tt=500&rc=0"),
    )
    fine = tenant.client.messages.create(
        to="+15558675312",
        from_="+15005550006",
        body="c",
        status_callback=receiver.url("/ok"),
    )
    wait_until(lambda: receiver.statuses(fine.sid) == ["sending", "sent", "delivered"])
    # Three tries (one plus two retries) of the first callback; the fragment is never sent.
    wait_until(lambda: len(receiver.for_message(failing.sid)) >= 3, timeout=30)
    first = receiver.for_message(failing.sid)
    assert all(h.path == "/fail" for h in first)
    assert {h.params["MessageStatus"] for h in first[:3]} == {"sending"}
    # A hanging receiver costs bounded time: its callbacks give up and the next ones follow.
    wait_until(lambda: len(receiver.for_message(hanging.sid)) >= 3, timeout=30)


def test_a_redirect_loop_costs_bounded_time(tenant: Tenant, receiver: Receiver) -> None:
    m = tenant.client.messages.create(
        to="+15558675310",
        from_=tenant.number,
        body="loop",
        status_callback=receiver.url("/redirect#rc=0"),
    )
    assert final(tenant, m.sid, "delivered") == "delivered"
    # Each of the three callbacks: the POST and five followed redirects, then it gives up.
    wait_until(lambda: len([h for h in receiver.hits if h.path == "/redirect"]) == 3 * 6)
    assert len(receiver.for_message(m.sid)) == 3


def test_validity_period_expires_queued_messages(tenant: Tenant) -> None:
    # A long code sends one segment per second: the later messages wait past their validity
    # of three seconds, while the first has those three seconds even on a busy machine.
    sids = [
        tenant.client.messages.create(
            to="+15558675310", from_=tenant.number, body=str(i), validity_period=3
        ).sid
        for i in range(7)
    ]
    assert final(tenant, sids[0], "delivered") == "delivered"
    for sid in sids[4:]:
        assert final(tenant, sid, "failed") == "failed"
        assert tenant.client.messages(sid).fetch().error_code == 30036


def test_a_full_sender_queue_refuses_with_21611(launch: Launcher, tmp_path: Path) -> None:
    srv = launch(tmp_path / "d", args=["--sender-mps", "0.001", "--no-worker"])
    try:
        client: Client = sdk(srv, srv.account_sid, srv.auth_token)
        number = client.incoming_phone_numbers.create(phone_number="+15017122661").phone_number
        for _ in range(36):  # 10 hours at 0.001 segments per second
            client.messages.create(to="+15558675310", from_=number, body="x")
        with pytest.raises(TwilioRestException) as info:
            client.messages.create(to="+15558675310", from_=number, body="x")
        assert info.value.code == 21611
        # Another sender is not affected.
        client.messages.create(to="+15558675310", from_=srv.test_number, body="x")
    finally:
        assert srv.stop() == 0


def test_a_new_sender_is_not_held_behind_another_senders_backlog(
    server: Server, tenant: Tenant
) -> None:
    backlog = [
        tenant.client.messages.create(to="+15558675310", from_=tenant.number, body=str(i)).sid
        for i in range(10)
    ]
    other = tenant.client.incoming_phone_numbers.create(phone_number="+15017129999").phone_number
    first = tenant.client.messages.create(to="+15558675310", from_=other, body="first")
    assert final(tenant, first.sid, "delivered") == "delivered"
    assert tenant.client.messages(backlog[-1]).fetch().status == "queued"
    tenant.client.incoming_phone_numbers.list(phone_number=other)[0].delete()


def test_a_refused_callback_url_costs_bounded_time_and_blocks_nothing(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    # Nobody listens on this port: every request is refused at once.
    refused = f"http://127.0.0.1:{free_port()}/cb"
    m = tenant.client.messages.create(
        to="+15558675310", from_=tenant.number, body="refused", status_callback=refused + "#rc=1"
    )
    fine = tenant.client.messages.create(
        to="+15558675311", from_="+15005550006", body="fine", status_callback=receiver.url("/ok")
    )
    wait_until(lambda: receiver.statuses(fine.sid) == ["sending", "sent", "delivered"])
    assert final(tenant, m.sid, "delivered") == "delivered"

    def logged() -> list[tuple[str, int | None, str]]:
        return server.query(
            "SELECT url, status_code, error FROM webhook_attempts WHERE message_sid = ?",
            (m.sid,),
        )

    # sending, sent, delivered: each tried twice (#rc=1 retries connection errors), then dropped.
    tries = wait_until(lambda: len(found := logged()) == 6 and found)
    assert all((url, code) == (refused, None) for url, code, _ in tries)
    assert all(error.startswith("connect") for _, _, error in tries)


def test_status_callbacks_of_a_service_without_one_go_to_the_pooled_number(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    from tests.e2e.test_service_sending import pool_service

    service, (number,) = pool_service(tenant, server, 1)
    url = receiver.url("/ok/pooled-number")
    tenant.client.incoming_phone_numbers.list(phone_number=number)[0].update(
        status_callback=url, status_callback_method="POST"
    )
    m = tenant.client.messages.create(to="+15558675310", messaging_service_sid=service, body="x")
    wait_until(lambda: receiver.statuses(m.sid) == ["queued", "sending", "sent", "delivered"])
    validator = RequestValidator(tenant.token)
    for hit in receiver.for_message(m.sid):
        assert hit.path == "/ok/pooled-number"
        assert hit.params["MessagingServiceSid"] == service
        assert hit.params["From"] == number
        assert validator.validate(url, hit.params, hit.headers["X-Twilio-Signature"])


def test_a_worker_process_delivers_beside_an_api_only_server(
    tmp_path: Path, receiver: Receiver, store_kind: str
) -> None:
    srv = start_server(tmp_path / "d", args=["--no-worker"], store_kind=store_kind)
    worker = subprocess.Popen(
        [SMSGATE, "worker", *srv.store_flags, "--simulator-delay", "0.1"],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("w"),
    )
    try:
        tenants = make_tenant(srv, sdk(srv, srv.account_sid, srv.auth_token))
        tenant = next(tenants)
        m = tenant.client.messages.create(
            to="+15558675310",
            from_=tenant.number,
            body="via the worker",
            status_callback=receiver.url("/ok/worker"),
        )
        wait_until(lambda: receiver.statuses(m.sid) == ["sending", "sent", "delivered"])
        assert tenant.client.messages(m.sid).fetch().status == "delivered"
        # The worker's webhook sender also carries inbound webhooks the API stored.
        tenant.client.incoming_phone_numbers.list(phone_number=tenant.number)[0].update(
            sms_url=receiver.url("/ok/worker-inbound")
        )
        r = tenant.http.post(
            "/simulator/inbound", data={"From": "+15558675310", "To": tenant.number, "Body": "hi"}
        )
        assert r.status_code == 201, r.text
        hit = wait_until(lambda: receiver.for_message(r.json()["sid"]))[0]
        assert hit.path == "/ok/worker-inbound"
        tenants.close()
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(20)
        assert srv.stop() == 0
        srv.drop_databases()
    assert code == 0, (tmp_path / "worker.log").read_text()


def test_a_carrier_that_stops_answering_loses_no_message(
    launch: Launcher, tmp_path: Path, receiver: Receiver
) -> None:
    # A submit may take half the lease: one second here.
    srv = launch(tmp_path / "d", args=["--lease-seconds", "2"])
    try:
        client: Client = sdk(srv, srv.account_sid, srv.auth_token)
        silent = client.messages.create(
            to="+15005550017",
            from_=srv.test_number,
            body="into the void",
            status_callback=receiver.url("/ok/silent"),
        )
        other = client.messages.create(to="+15558675310", from_=srv.test_number, body="fine")
        # The unanswered submit holds back no other message.
        wait_until(lambda: client.messages(other.sid).fetch().status == "delivered")
        assert client.messages(silent.sid).fetch().status == "sending"
        wait_until(lambda: client.messages(silent.sid).fetch().status == "delivered")
        # Sending once (the retry is the same attempt to send), then sent and delivered.
        wait_until(lambda: receiver.statuses(silent.sid) == ["sending", "sent", "delivered"])
    finally:
        assert srv.stop() == 0
