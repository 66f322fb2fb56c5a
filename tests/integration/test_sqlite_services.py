"""The store's Messaging Service operations, each one atomic, on a real SQLite file and a
real PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import Callback
from smsgate.domain.messages import Direction, Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.pools import Assignment, MessagingService, PoolNumber, SenderOption
from smsgate.ids import new_sid
from smsgate.store.base import Outcome, PoolAdd, Store
from tests.stores import StoreHome

T = TypeVar("T")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
A, B = "+15017120001", "+15017120002"


def run(home: StoreHome, body: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = home.make()
        await store.open()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def query(home: StoreHome, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return home.query(sql, *args)


async def setup(store: Store, *numbers: str) -> tuple[str, MessagingService, list[str]]:
    sid = new_sid("AC")
    account = Account(sid, sid, "t", "x" * 32, AccountStatus.ACTIVE, NOW, NOW)
    await store.create_account(account)
    service = MessagingService(new_sid("MG"), account.sid, "svc", NOW, NOW)
    await store.create_service(service)
    sids = []
    for n in numbers:
        number = PhoneNumber(new_sid("PN"), account.sid, n, n, NOW, NOW)
        await store.create_number(number)
        entry = PoolNumber(service.sid, account.sid, number.sid, n, NOW, NOW)
        assert await store.add_pool_number(entry, 400) is PoolAdd.ADDED
        sids.append(number.sid)
    return account.sid, service, sids


def message(account: str, service: str, status: Status, send_at: datetime | None) -> Message:
    return Message(
        new_sid("SM"), account, "+15558675310", None, "hi", status, Direction.OUTBOUND_API,
        1, 0, NOW, NOW, messaging_service_sid=service, send_at=send_at, validity_period=60,
    )  # fmt: skip


def assignment(m: Message, *senders: str, sticky: str | None = None) -> Assignment:
    def queued(after: Message) -> Callback:
        return Callback(after.account_sid, after.sid, "status", "https://cb/", "POST",
                        (("MessageStatus", "queued"), ("From", after.from_ or "")))  # fmt: skip

    failed = Callback(m.account_sid, m.sid, "status", "https://cb/", "POST", ())
    return Assignment(
        m.sid, to_us(NOW), tuple(SenderOption(s, 1.0) for s in senders), sticky, queued,
        failed, 30001, "Queue overflow",
    )  # fmt: skip


def test_a_scheduled_message_waits_without_a_slot_and_cancels_cleanly(
    store_home: StoreHome,
) -> None:
    at = NOW + timedelta(hours=1)

    async def body(store: Store) -> None:
        account, service, _ = await setup(store, A)
        m = message(account, service.sid, Status.SCHEDULED, at)
        await store.insert_unassigned(m)
        jobs = query(store_home, "SELECT sender, ready_at, expires_at FROM delivery_jobs")
        assert jobs == [(service.sid, to_us(at), to_us(at) + 60 * 1_000_000)]
        assert query(store_home, "SELECT * FROM sender_queues") == []
        cb = Callback(account, m.sid, "status", "https://cb/", "POST", (("S", "canceled"),))
        outcome, after = await store.cancel_message(account, m.sid, to_us(NOW), callback=cb)
        assert outcome is Outcome.DONE and after is not None
        assert after.status is Status.CANCELED
        assert query(store_home, "SELECT count(*) FROM delivery_jobs") == [(0,)]
        assert query(store_home, "SELECT url FROM webhook_outbox") == [("https://cb/",)]
        again, _ = await store.cancel_message(account, m.sid, to_us(NOW))
        assert again is Outcome.REFUSED
        assert await store.assign_sender(assignment(m, A)) is None

    run(store_home, body)


def test_assignment_takes_a_slot_and_remembers_the_sticky_sender(store_home: StoreHome) -> None:
    async def body(store: Store) -> None:
        account, service, _ = await setup(store, A, B)
        first = message(account, service.sid, Status.ACCEPTED, None)
        await store.insert_unassigned(first)
        after = await store.assign_sender(assignment(first, A, B, sticky=service.sid))
        assert after is not None
        assert (after.status, after.from_) == (Status.QUEUED, A)
        assert query(store_home, "SELECT sender, attempt, lease_owner FROM delivery_jobs") == [
            (A, 0, None)
        ]
        assert query(store_home, "SELECT sender, queued_segments FROM sender_queues") == [(A, 1)]
        assert query(store_home, "SELECT sender FROM sticky_senders") == [(A,)]
        assert query(store_home, "SELECT params FROM webhook_outbox")[0][0].count(A) == 1
        # The same recipient sticks to A although B is idle; without stickiness B is chosen.
        second = message(account, service.sid, Status.ACCEPTED, None)
        await store.insert_unassigned(second)
        stuck = await store.assign_sender(assignment(second, A, B, sticky=service.sid))
        assert stuck is not None and stuck.from_ == A
        third = message(account, service.sid, Status.ACCEPTED, None)
        await store.insert_unassigned(third)
        spread = await store.assign_sender(assignment(third, A, B))
        assert spread is not None and spread.from_ == B
        # Only once: a second assignment finds the message queued and writes nothing.
        assert await store.assign_sender(assignment(first, A, B)) is None

    run(store_home, body)


def test_no_room_in_the_pool_fails_the_message(store_home: StoreHome) -> None:
    async def body(store: Store) -> None:
        account, service, _ = await setup(store, A)
        store_home.query("INSERT INTO sender_queues VALUES (?, 36000, ?)", A, to_us(NOW))
        m = message(account, service.sid, Status.ACCEPTED, None)
        await store.insert_unassigned(m)
        after = await store.assign_sender(assignment(m, A))
        assert after is not None
        assert (after.status, after.error_code, after.from_) == (Status.FAILED, 30001, None)
        assert query(store_home, "SELECT count(*) FROM delivery_jobs") == [(0,)]
        assert query(store_home, "SELECT queued_segments FROM sender_queues") == [(36000,)]

    run(store_home, body)


def test_a_number_is_in_one_pool_and_leaves_with_its_number_or_service(
    store_home: StoreHome,
) -> None:
    async def body(store: Store) -> None:
        account, service, (pn,) = await setup(store, A)
        again = PoolNumber(service.sid, account, pn, A, NOW, NOW)
        assert await store.add_pool_number(again, 400) is PoolAdd.ALREADY_HERE
        other = MessagingService(new_sid("MG"), account, "other", NOW, NOW)
        await store.create_service(other)
        elsewhere = PoolNumber(other.sid, account, pn, A, NOW, NOW)
        assert await store.add_pool_number(elsewhere, 400) is PoolAdd.ELSEWHERE
        stranger = PoolNumber(other.sid, account, new_sid("PN"), B, NOW, NOW)
        assert await store.add_pool_number(stranger, 400) is PoolAdd.NO_NUMBER
        number_b = PhoneNumber(new_sid("PN"), account, B, B, NOW, NOW)
        await store.create_number(number_b)
        b_entry = PoolNumber(other.sid, account, number_b.sid, B, NOW, NOW)
        assert await store.add_pool_number(b_entry, 0) is PoolAdd.POOL_FULL
        assert [n.phone_number for n in await store.pool_senders(service.sid)] == [A]
        found = await store.service_of_number(pn)
        assert found is not None and found.sid == service.sid
        assert await store.delete_number(account, pn)
        assert await store.pool_senders(service.sid) == []
        assert await store.add_pool_number(b_entry, 400) is PoolAdd.ADDED
        assert await store.delete_service(account, other.sid)
        assert query(store_home, "SELECT count(*) FROM service_numbers") == [(0,)]

    run(store_home, body)
