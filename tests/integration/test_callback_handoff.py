"""Status callbacks handed from the delivery service to this process's webhook sender at
insert (leased as they are written), on both stores: only a message's first waiting
callback is, so the order per message holds; a lease that runs out is claimed as usual."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from smsgate.clock import FakeClock
from smsgate.connectors.base import Receipt, SubmitResult
from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import CallbackAttempt, CallbackResult, ClaimedCallback
from smsgate.domain.messages import CreateRequest, Message
from smsgate.domain.numbers import PhoneNumber
from smsgate.ids import new_sid
from smsgate.services.delivery import DeliveryService
from smsgate.services.messages import MessageService
from smsgate.store.base import Store
from tests.stores import StoreHome

NUMBER, PHONE, HOOK = "+15017122661", "+15558675310", "https://example.com/status"
LEASE_US = 60_000_000


class Sender:
    """Stands in for the webhook sender: records what it is handed."""

    owner = "webhooks-test"
    lease_us = LEASE_US

    def __init__(self) -> None:
        self.room = True
        self.taken: list[ClaimedCallback] = []

    def has_room(self) -> bool:
        return self.room

    def take(self, claimed: ClaimedCallback) -> None:
        self.taken.append(claimed)


async def finish(store: Store, clock: FakeClock, item: ClaimedCallback) -> None:
    attempt = CallbackAttempt(item.id, item.attempt, HOOK, to_us(clock.now()), 1, 200, None, "")
    await store.finish_callback(CallbackResult(attempt, succeeded=True))


async def claim(store: Store, clock: FakeClock) -> list[ClaimedCallback]:
    return await store.claim_callbacks("other", to_us(clock.now()), LEASE_US, 10)


def statuses(items: list[ClaimedCallback]) -> list[str]:
    return [dict(i.callback.params)["MessageStatus"] for i in items]


def run(store_home: StoreHome, scenario: Callable[..., Awaitable[None]]) -> None:
    async def main() -> None:
        store = store_home.make()
        await store.open()
        clock = FakeClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
        now = clock.now()
        sid = new_sid("AC")
        account = Account(sid, sid, "test", "token", AccountStatus.ACTIVE, now, now)
        await store.create_account(account)
        await store.create_number(PhoneNumber(new_sid("PN"), sid, NUMBER, "n", now, now))
        sender = Sender()
        delivery = DeliveryService(store, clock, sender_mps=0, handoff=sender)
        messages = MessageService(store, clock, sender_mps=0)

        async def sending() -> Message:
            created = await messages.create(
                account, CreateRequest(to=PHONE, from_=NUMBER, body="hi", status_callback=HOOK)
            )
            (job,) = [j for j in await delivery.claim("w", 10) if j.message_sid == created.sid]
            started = await delivery.start(job)
            assert isinstance(started, tuple)
            return started[0]

        try:
            await scenario(store, clock, delivery, sender, sending)
        finally:
            await store.close()

    asyncio.run(main())


def test_a_messages_first_waiting_callback_is_handed_over_and_the_rest_keep_their_order(
    store_home: StoreHome,
) -> None:
    async def scenario(
        store: Store, clock: FakeClock, delivery: DeliveryService, sender: Sender, sending: Any
    ) -> None:
        message = await sending()
        # `sending`: nothing of this message waits, so it is leased to the sender and handed
        assert statuses(sender.taken) == ["sending"]
        (first,) = sender.taken
        assert (first.attempt, first.callback.url) == (1, HOOK)
        assert await claim(store, clock) == []  # leased: no claim takes it

        # `sent` while `sending` is still out: it waits in the outbox, behind it
        await delivery.submitted(message, SubmitResult("sim:1", receipt_timeout=60))
        assert len(sender.taken) == 1
        assert await claim(store, clock) == []
        await finish(store, clock, first)
        (second,) = await claim(store, clock)
        assert (statuses([second]), second.attempt) == (["sent"], 1)
        await finish(store, clock, second)

        # `delivered` with nothing waiting: handed over again
        await delivery.receipt(Receipt("sim:1", "delivered"))
        assert statuses(sender.taken) == ["sending", "delivered"]
        assert await claim(store, clock) == []

        # a sender that dies with it: the lease runs out and a claim takes it, as attempt 2
        clock.advance(LEASE_US / 1_000_000 + 1)
        (again,) = await claim(store, clock)
        assert (again.id, again.attempt) == (sender.taken[1].id, 2)
        assert statuses([again]) == ["delivered"]

    run(store_home, scenario)


def test_a_sender_with_no_room_gets_nothing_handed_over(store_home: StoreHome) -> None:
    async def scenario(
        store: Store, clock: FakeClock, delivery: DeliveryService, sender: Sender, sending: Any
    ) -> None:
        sender.room = False
        await sending()
        assert sender.taken == []
        (claimed,) = await claim(store, clock)
        assert (statuses([claimed]), claimed.attempt) == (["sending"], 1)

    run(store_home, scenario)
