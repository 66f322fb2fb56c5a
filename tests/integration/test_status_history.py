"""A message's status history on each real store: every status it takes, in order, with the
time of the change (the store's injected clock, as the message's ``date_updated``) and its
error code, written by the transaction that makes the change; gone when the message is.

Time is a FakeClock, moved one second between steps, so each time is known exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from smsgate.connectors.base import InboundSms, PermanentError, Receipt, SubmitResult
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import DeliveryJob, StatusChange
from smsgate.domain.messages import CreateRequest, Message, Status
from smsgate.ids import new_sid
from tests.integration.test_carrier_receipts import NUMBER, PHONE, World, run
from tests.stores import StoreHome


def _history(changes: list[StatusChange]) -> list[tuple[str, int, int | None]]:
    return [(c.status.value, c.at_us, c.error_code) for c in changes]


async def _created(w: World, body: str = "hello") -> Message:
    return await w.messages.create(w.account, CreateRequest(to=PHONE, from_=NUMBER, body=body))


async def _sending(w: World, *messages: Message) -> list[tuple[Message, DeliveryJob]]:
    """A second later, claim the jobs of ``messages`` and mark them ``sending``."""
    w.clock.advance(1)
    jobs = {j.message_sid: j for j in await w.delivery.claim("test", 10)}
    out = []
    for message in messages:
        started = await w.delivery.start(jobs[message.sid])
        assert isinstance(started, tuple)
        out.append((started[0], jobs[message.sid]))
    return out


def _at(w: World) -> int:
    return to_us(w.clock.now())


def test_a_delivered_message_lists_every_status_with_its_time(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        t0 = _at(w)
        message = await _created(w)
        ((sending, _),) = await _sending(w, message)
        w.clock.advance(1)
        await w.delivery.submitted(sending, SubmitResult("sim:1", receipt_timeout=60))
        w.clock.advance(1)
        await w.delivery.receipt(Receipt("sim:1", "delivered"))
        s = 1_000_000
        assert _history(await w.store.status_history(message.sid)) == [
            ("queued", t0, None),
            ("sending", t0 + s, None),
            ("sent", t0 + 2 * s, None),
            ("delivered", t0 + 3 * s, None),
        ]
        final = await w.store.get_message_by_sid(message.sid)
        assert final is not None and to_us(final.date_updated) == t0 + 3 * s
        # a late or repeated receipt changes nothing, so it adds nothing
        await w.delivery.receipt(Receipt("sim:1", "undelivered", error_code=30003))
        assert len(await w.store.status_history(message.sid)) == 4

    run(store_home, scenario)


def test_undelivered_and_failed_paths_keep_their_error_codes(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        t0 = _at(w)
        undelivered = await _created(w, "one")
        failed = await _created(w, "two")
        (s1, _), (s2, job) = await _sending(w, undelivered, failed)
        w.clock.advance(1)
        await w.delivery.submitted(s1, SubmitResult("sim:7", receipt_timeout=60))
        w.clock.advance(1)
        await w.delivery.receipt(Receipt("sim:7", "undelivered", error_code=30003))
        w.clock.advance(1)
        await w.delivery.submit_failed(job, s2, PermanentError(30007, "filtered"))
        s = 1_000_000
        assert _history(await w.store.status_history(undelivered.sid)) == [
            ("queued", t0, None),
            ("sending", t0 + s, None),
            ("sent", t0 + 2 * s, None),
            ("undelivered", t0 + 3 * s, 30003),
        ]
        assert _history(await w.store.status_history(failed.sid)) == [
            ("queued", t0, None),
            ("sending", t0 + s, None),
            ("failed", t0 + 4 * s, 30007),
        ]

    run(store_home, scenario)


def test_expiry_cancel_inbound_and_delete(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        t0 = _at(w)
        late = await w.messages.create(
            w.account, CreateRequest(to=PHONE, from_=NUMBER, body="late", validity_period=1)
        )
        w.clock.advance(2)
        assert await w.delivery.expire_jobs("sweeper") == 1
        assert _history(await w.store.status_history(late.sid)) == [
            ("queued", t0, None),
            ("failed", t0 + 2_000_000, 30036),
        ]

        # a scheduled message (the store's part of a Messaging Service's SendAt), canceled
        now = w.clock.now()
        scheduled = replace(
            late,
            sid=new_sid("SM"),
            status=Status.SCHEDULED,
            error_code=None,
            error_message=None,
            messaging_service_sid=new_sid("MG"),
            send_at=now + timedelta(days=1),
            date_created=now,
            date_updated=now,
        )
        await w.store.insert_unassigned(scheduled)
        w.clock.advance(1)
        await w.messages.update(w.account, scheduled.sid, None, "canceled")
        assert _history(await w.store.status_history(scheduled.sid)) == [
            ("scheduled", to_us(now), None),
            ("canceled", to_us(now) + 1_000_000, None),
        ]

        await w.inbound.receive_sms(InboundSms(PHONE, NUMBER, "hi there"))
        (received,) = [
            str(r[0])
            for r in store_home.query("SELECT sid FROM messages WHERE status = 'received'")
        ]
        assert _history(await w.store.status_history(received)) == [("received", _at(w), None)]

        for sid in (late.sid, scheduled.sid, received):
            await w.messages.delete(w.account, sid)
            assert await w.store.status_history(sid) == []
        assert store_home.query("SELECT count(*) FROM message_statuses") == [(0,)]

    run(store_home, scenario)
