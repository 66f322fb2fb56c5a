"""Sending through a Messaging Service: pool choice, sticky senders, schedules, cancel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.conftest import (
    Launcher,
    Server,
    Tenant,
    make_tenant,
    sdk,
    start_server,
    wait_until,
)
from tests.e2e.test_services import messaging, new_number
from tests.fakes.receiver import Receiver


def pool_service(
    tenant: Tenant, server: Server, size: int, **options: Any
) -> tuple[str, list[str]]:
    """A service with ``size`` new numbers in its pool: its SID and the numbers."""
    client = messaging(tenant, server)
    service = client.messaging.v1.services.create(friendly_name="pool", **options)
    numbers = []
    for _ in range(size):
        sid, phone = new_number(client)
        client.messaging.v1.services(service.sid).phone_numbers.create(phone_number_sid=sid)
        numbers.append(phone)
    return str(service.sid), numbers


@contextmanager
def own_tenant(srv: Server) -> Iterator[Tenant]:
    """A subaccount on a server a test started itself."""
    tenants = make_tenant(srv, sdk(srv, srv.account_sid, srv.auth_token))
    try:
        yield next(tenants)
    finally:
        tenants.close()


def status_of(tenant: Tenant, sid: str, *statuses: str, timeout: float = 20) -> Any:
    """Wait until the message reaches one of ``statuses``; return it."""
    return wait_until(
        lambda: (m := tenant.client.messages(sid).fetch()).status in statuses and m,
        timeout=timeout,
    )


def test_accepted_then_queued_from_the_pool_with_the_services_callbacks(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    url = receiver.url("/ok/service")
    service, numbers = pool_service(tenant, server, 2, status_callback=url)
    m = tenant.client.messages.create(
        to="+15558675310", messaging_service_sid=service, body="pooled"
    )
    assert (m.status, m.from_, m.num_segments) == ("accepted", None, "0")
    assert m.messaging_service_sid == service
    wait_until(lambda: receiver.statuses(m.sid) == ["queued", "sending", "sent", "delivered"])
    done = tenant.client.messages(m.sid).fetch()
    assert done.status == "delivered"
    assert done.from_ in numbers
    assert (done.num_segments, done.messaging_service_sid) == ("1", service)
    validator = RequestValidator(tenant.token)
    for hit in receiver.for_message(m.sid):
        assert validator.validate(url, hit.params, hit.headers["X-Twilio-Signature"])
        assert hit.params["MessagingServiceSid"] == service
        assert hit.params["From"] == done.from_
    # The message's own StatusCallback still wins over the service's.
    own = receiver.url("/ok/own")
    m2 = tenant.client.messages.create(
        to="+15558675311", messaging_service_sid=service, body="mine", status_callback=own
    )
    wait_until(lambda: receiver.statuses(m2.sid) == ["queued", "sending", "sent", "delivered"])
    assert {h.path for h in receiver.for_message(m2.sid)} == {"/ok/own"}


def test_a_from_in_the_pool_is_queued_at_once(server: Server, tenant: Tenant) -> None:
    service, numbers = pool_service(tenant, server, 1)
    m = tenant.client.messages.create(
        to="+15558675310", messaging_service_sid=service, from_=numbers[0], body="direct"
    )
    assert (m.status, m.from_, m.num_segments, m.messaging_service_sid) == (
        "queued",
        numbers[0],
        "1",
        service,
    )
    assert status_of(tenant, m.sid, "delivered").from_ == numbers[0]
    # A number of the account outside the pool is used as given (Twilio warns with 21711).
    outside = tenant.client.messages.create(
        to="+15558675310", messaging_service_sid=service, from_=tenant.number, body="outside"
    )
    assert (outside.status, outside.from_) == ("queued", tenant.number)
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(
            to="+15558675310", messaging_service_sid=service, from_="+15017129876", body="x"
        )
    assert info.value.code == 21606


def test_the_service_sid_may_come_as_from(server: Server, tenant: Tenant) -> None:
    service, numbers = pool_service(tenant, server, 1)
    m = tenant.client.messages.create(to="+15558675310", from_=service, body="via From")
    assert (m.status, m.from_, m.messaging_service_sid) == ("accepted", None, service)
    assert status_of(tenant, m.sid, "delivered").from_ == numbers[0]


def test_sticky_sender_keeps_one_number_per_recipient(server: Server, tenant: Tenant) -> None:
    service, numbers = pool_service(tenant, server, 3)
    sids = [
        tenant.client.messages.create(to=to, messaging_service_sid=service, body=f"{to} {i}").sid
        for i in range(3)
        for to in ("+15558675310", "+15558675311")
    ]
    senders: dict[str, set[str]] = {}
    for sid in sids:
        m = status_of(tenant, sid, "queued", "sending", "sent", "delivered")
        senders.setdefault(m.to, set()).add(m.from_)
    assert all(len(used) == 1 for used in senders.values()), senders
    assert set().union(*senders.values()) <= set(numbers)


def test_without_sticky_sender_a_burst_spreads_over_the_pool(
    server: Server, tenant: Tenant
) -> None:
    service, numbers = pool_service(tenant, server, 3, sticky_sender=False)
    sids = [
        tenant.client.messages.create(
            to="+15558675310", messaging_service_sid=service, body=str(i)
        ).sid
        for i in range(6)
    ]
    used = {status_of(tenant, sid, "queued", "sending", "sent", "delivered").from_ for sid in sids}
    assert used == set(numbers)


def test_services_settings_apply_to_its_messages(server: Server, tenant: Tenant) -> None:
    service, _ = pool_service(tenant, server, 1)
    m = tenant.client.messages.create(
        to="+15558675310", messaging_service_sid=service, body="“smart” — quotes"
    )
    assert m.body == '"smart" - quotes'  # the service's SmartEncoding (on by default)
    plain, _ = pool_service(tenant, server, 1, smart_encoding=False)
    m = tenant.client.messages.create(
        to="+15558675310", messaging_service_sid=plain, body="“smart”"
    )
    assert m.body == "“smart”"


def test_the_services_validity_period_expires_waiting_messages(
    server: Server, tenant: Tenant
) -> None:
    # One long code sends a segment per second: the seventh message is due six seconds on,
    # past the three-second validity, while the first has three seconds to be claimed even
    # on a busy machine.
    service, _ = pool_service(tenant, server, 1, validity_period=3)
    sids = [
        tenant.client.messages.create(
            to="+15558675310", messaging_service_sid=service, body=str(i)
        ).sid
        for i in range(7)
    ]
    assert status_of(tenant, sids[0], "delivered").status == "delivered"
    expired = status_of(tenant, sids[-1], "failed")
    assert expired.error_code == 30036


def test_unknown_or_empty_services_are_refused(server: Server, tenant: Tenant) -> None:
    empty = messaging(tenant, server).messaging.v1.services.create(friendly_name="empty")
    cases = [(empty.sid, 21704), ("MG" + "0" * 32, 21701), ("MGnope", 21701)]
    for service, code in cases:
        with pytest.raises(TwilioRestException) as info:
            tenant.client.messages.create(
                to="+15558675310", messaging_service_sid=service, body="x"
            )
        assert (info.value.status, info.value.code) == (400, code), service


def test_an_overloaded_pool_fails_after_creation_with_30001(
    launch: Launcher, tmp_path: Path
) -> None:
    srv = launch(tmp_path / "d", args=["--sender-mps", "0.001"])
    try:
        with own_tenant(srv) as tenant:
            service, (number,) = pool_service(tenant, srv, 1)
            # 10 hours at 0.001 segments per second is 36 segments: the pool takes no more.
            sids = []
            for i in range(40):
                m = tenant.client.messages.create(
                    to=f"+1555867{i:04d}", messaging_service_sid=service, body="x"
                )
                assert m.status == "accepted"  # never 21611 at create time
                sids.append(m.sid)

            def settled() -> list[Any]:
                found = [tenant.client.messages(sid).fetch() for sid in sids]
                return found if all(m.status not in ("accepted",) for m in found) else []

            final = wait_until(settled, timeout=30)
            failed = [m for m in final if m.status == "failed"]
            assert len(failed) >= 3
            assert all((m.error_code, m.from_) == (30001, None) for m in failed)
            # The pool's number and a direct send share one queue: it is full for both.
            with pytest.raises(TwilioRestException) as info:
                tenant.client.messages.create(to="+15558675310", from_=number, body="direct")
            assert info.value.code == 21611
    finally:
        assert srv.stop() == 0


# -- scheduling ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    """A server that schedules one second ahead, for tests that wait for SendAt."""
    srv = start_server(
        tmp_path_factory.mktemp("smsgate-sched") / "data",
        env={"SMSGATE_MIN_SCHEDULE_LEAD": "1"},
        store_kind=store_kind,
    )
    yield srv
    code = srv.stop()
    srv.drop_databases()
    assert code == 0, srv.log.read_text()


@pytest.fixture
def qtenant(quick: Server) -> Iterator[Tenant]:
    yield from make_tenant(quick, sdk(quick, quick.account_sid, quick.auth_token))


def ahead(seconds: float) -> datetime:
    """A SendAt this far ahead, in whole seconds as the SDK sends it."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def test_a_scheduled_message_is_sent_at_send_at_and_not_before(
    quick: Server, qtenant: Tenant, receiver: Receiver
) -> None:
    service, numbers = pool_service(qtenant, quick, 1, status_callback=receiver.url("/ok"))
    send_at = ahead(3)
    m = qtenant.client.messages.create(
        to="+15558675310",
        messaging_service_sid=service,
        body="later",
        schedule_type="fixed",
        send_at=send_at,
    )
    assert (m.status, m.from_, m.num_segments) == ("scheduled", None, "0")
    while datetime.now(UTC) < send_at - timedelta(seconds=0.3):
        assert qtenant.client.messages(m.sid).fetch().status == "scheduled"
        assert receiver.statuses(m.sid) == []
        time.sleep(0.1)
    done = status_of(qtenant, m.sid, "delivered")
    assert done.from_ == numbers[0]
    assert done.date_sent >= send_at
    wait_until(lambda: receiver.statuses(m.sid) == ["queued", "sending", "sent", "delivered"])


def test_a_scheduled_message_with_a_from_keeps_it(quick: Server, qtenant: Tenant) -> None:
    service, numbers = pool_service(qtenant, quick, 2)
    m = qtenant.client.messages.create(
        to="+15558675310",
        messaging_service_sid=service,
        from_=numbers[1],
        body="later",
        schedule_type="fixed",
        send_at=ahead(2),
    )
    assert (m.status, m.from_) == ("scheduled", numbers[1])
    assert status_of(qtenant, m.sid, "delivered").from_ == numbers[1]


def test_cancel_a_scheduled_message(quick: Server, qtenant: Tenant, receiver: Receiver) -> None:
    service, _ = pool_service(qtenant, quick, 1, status_callback=receiver.url("/ok"))
    m_send_at = ahead(2)
    m = qtenant.client.messages.create(
        to="+15558675310",
        messaging_service_sid=service,
        body="never",
        schedule_type="fixed",
        send_at=m_send_at,
    )
    # A twin scheduled for the same moment shows when that moment has come and gone.
    twin = qtenant.client.messages.create(
        to="+15558675311",
        messaging_service_sid=service,
        body="twin",
        schedule_type="fixed",
        send_at=m_send_at,
    )
    canceled = qtenant.client.messages(m.sid).update(status="canceled")
    assert canceled.status == "canceled"
    wait_until(lambda: receiver.statuses(m.sid) == ["canceled"])
    with pytest.raises(TwilioRestException) as info:
        qtenant.client.messages(m.sid).update(status="canceled")
    assert (info.value.status, info.value.code) == (400, 30409)
    jobs = quick.query("SELECT count(*) FROM delivery_jobs WHERE message_sid = ?", (m.sid,))
    assert jobs == [(0,)]
    # Past its SendAt it is still canceled, never sent, and may now be deleted.
    wait_until(lambda: receiver.statuses(twin.sid)[-1:] == ["delivered"])
    after = qtenant.client.messages(m.sid).fetch()
    assert (after.status, after.date_sent) == ("canceled", None)
    assert receiver.statuses(m.sid) == ["canceled"]
    assert qtenant.client.messages(m.sid).delete() is True


def test_a_sent_scheduled_message_cannot_be_canceled(quick: Server, qtenant: Tenant) -> None:
    service, _ = pool_service(qtenant, quick, 1)
    m = qtenant.client.messages.create(
        to="+15558675310",
        messaging_service_sid=service,
        body="soon",
        schedule_type="fixed",
        send_at=ahead(2),
    )
    status_of(qtenant, m.sid, "delivered")
    with pytest.raises(TwilioRestException) as info:
        qtenant.client.messages(m.sid).update(status="canceled")
    assert info.value.code == 30409


def test_scheduling_window_errors(server: Server, tenant: Tenant) -> None:
    service, _ = pool_service(tenant, server, 1)
    base = {"To": "+15558675310", "MessagingServiceSid": service, "Body": "x"}
    cases = [
        ({"ScheduleType": "fixed"}, 35111),
        ({"ScheduleType": "fixed", "SendAt": "tomorrow-ish"}, 35111),
        ({"ScheduleType": "fixed", "SendAt": ahead(600).isoformat()}, 35114),  # lead is 900
        ({"ScheduleType": "fixed", "SendAt": ahead(36 * 86400).isoformat()}, 35115),
        ({"ScheduleType": "later", "SendAt": ahead(3600).isoformat()}, 20001),
    ]
    for extra, code in cases:
        r = tenant.http.post(tenant.url("/Messages.json"), data={**base, **extra})
        assert (r.status_code, r.json()["code"]) == (400, code), extra
    r = tenant.http.post(
        tenant.url("/Messages.json"),
        data={**base, "ScheduleType": "fixed", "SendAt": ahead(3600).isoformat()},
    )
    assert (r.status_code, r.json()["status"]) == (201, "scheduled")


def test_without_a_service_scheduling_is_dropped(server: Server, tenant: Tenant) -> None:
    m = tenant.client.messages.create(
        to="+15558675310",
        from_=tenant.number,
        body="now",
        schedule_type="fixed",
        send_at=ahead(3600),
    )
    assert m.status == "queued"
    assert status_of(tenant, m.sid, "delivered").status == "delivered"


def test_a_schedule_survives_a_restart(launch: Launcher, tmp_path: Path) -> None:
    srv = launch(tmp_path / "d", args=["--min-schedule-lead", "1"])
    try:
        with own_tenant(srv) as tenant:
            service, numbers = pool_service(tenant, srv, 1)
            send_at = ahead(4)
            m = tenant.client.messages.create(
                to="+15558675310",
                messaging_service_sid=service,
                body="after a restart",
                schedule_type="fixed",
                send_at=send_at,
            )
            assert m.status == "scheduled"
    finally:
        assert srv.stop() == 0
    assert datetime.now(UTC) < send_at, "the first server must stop before SendAt"
    again = launch(tmp_path / "d", args=["--min-schedule-lead", "1"])
    try:
        client: Client = sdk(again, tenant.sid, tenant.token)
        assert client.messages(m.sid).fetch().status in ("scheduled", "queued", "sending", "sent")

        def delivered() -> Any:
            found = client.messages(m.sid).fetch()
            return found if found.status == "delivered" else None

        done = wait_until(delivered, timeout=20)
        assert done.date_sent >= send_at
        assert done.from_ == numbers[0]
    finally:
        assert again.stop() == 0


def test_stop_to_one_pooled_number_blocks_the_whole_service(server: Server, tenant: Tenant) -> None:
    service, numbers = pool_service(tenant, server, 2)
    phone = "+15558670042"
    r = tenant.http.post(
        "/simulator/inbound", data={"From": phone, "To": numbers[0], "Body": "stop"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["messaging_service_sid"] == service
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(to=phone, messaging_service_sid=service, body="x")
    assert info.value.code == 21610
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(
            to=phone, from_=numbers[1], messaging_service_sid=service, body="x"
        )
    assert info.value.code == 21610
    # A pooled number sending on its own (no MessagingServiceSid) is in the service too.
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(to=phone, from_=numbers[1], body="x")
    assert info.value.code == 21610
    # Numbers outside the service may still send.
    tenant.client.messages.create(to=phone, from_=tenant.number, body="still fine")
    tenant.http.post("/simulator/inbound", data={"From": phone, "To": numbers[1], "Body": "START"})
    tenant.client.messages.create(to=phone, from_=numbers[0], body="welcome back")
    tenant.client.messages.create(to=phone, messaging_service_sid=service, body="welcome back")
