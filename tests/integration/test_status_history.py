"""A message's status history on each real store: every status it takes, in order, with the
time of the change (the store's injected clock, as the message's ``date_updated``) and its
error code, written by the transaction that makes the change; gone when the message is.

Time is a FakeClock, moved one second between steps, so each time is known exactly."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from alembic import command

from smsgate.connectors.base import InboundSms, PermanentError, Receipt, SubmitResult
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import DeliveryJob, StatusChange
from smsgate.domain.messages import CreateRequest, Message, Status
from smsgate.domain.pools import Assignment, SenderOption
from smsgate.ids import new_sid
from smsgate.services.console import ConsoleService
from smsgate.store import rows, schema
from smsgate.store.postgres import sqlalchemy_url
from tests.integration.test_carrier_receipts import NUMBER, PHONE, World, run
from tests.integration.test_sqlite_writer import message as stored_message
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


def test_a_pool_assignment_records_queued_or_failed(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        now = w.clock.now()
        accepted = [
            replace(
                await _created(w, "template"),
                sid=new_sid("SM"),
                from_=None,
                status=Status.ACCEPTED,
                messaging_service_sid=new_sid("MG"),
                date_created=now,
                date_updated=now,
            )
            for _ in range(2)
        ]
        for m in accepted:
            await w.store.insert_unassigned(m)
        w.clock.advance(1)
        at = _at(w)

        def assignment(m: Message, options: tuple[SenderOption, ...]) -> Assignment:
            return Assignment(m.sid, at, options, None, lambda _: None, None, 30001, "full")

        given = await w.store.assign_sender(assignment(accepted[0], (SenderOption(NUMBER, 0.0),)))
        assert given is not None and given.from_ == NUMBER
        await w.store.assign_sender(assignment(accepted[1], ()))
        assert _history(await w.store.status_history(accepted[0].sid)) == [
            ("accepted", to_us(now), None),
            ("queued", at, None),
        ]
        assert _history(await w.store.status_history(accepted[1].sid)) == [
            ("accepted", to_us(now), None),
            ("failed", at, 30001),
        ]

    run(store_home, scenario)


def test_messages_from_before_the_history_upgrade_cleanly(store_home: StoreHome) -> None:
    """A store at 0010 holding a message upgrades to 0011 (and down and up again): the old
    message has no history rows, and its timeline is derived from the message as before."""
    url = (
        f"sqlite:///{store_home.path}" if store_home.url is None else sqlalchemy_url(store_home.url)
    )
    command.upgrade(schema._config(url), "0010")
    account = new_sid("AC")
    store_home.query(
        "INSERT INTO accounts VALUES (?, ?, 'test', 'token', 'active', 0, 0)", account, account
    )
    old = replace(stored_message(0), account_sid=account)
    store_home.query(
        rows.values_sql(rows.INSERT_MESSAGES, len(rows.MESSAGE_NAMES), 1),
        *rows.message_values(old),
    )

    async def main() -> None:
        store = store_home.make()
        await store.open()  # upgrades to the head
        try:
            assert await store.status_history(old.sid) == []
            found = await store.get_message_by_sid(old.sid)
            assert found is not None
            timeline = ConsoleService.timeline(found, [], await store.status_history(old.sid))
            assert [e.what for e in timeline] == ["created", "queued"]
        finally:
            await store.close()

    asyncio.run(main())
    assert schema.current_revision(url) == schema.head_revision()
    command.downgrade(schema._config(url), "0010")
    assert schema.current_revision(url) == "0010"
    command.upgrade(schema._config(url), "head")
    assert store_home.query("SELECT count(*) FROM message_statuses") == [(0,)]
