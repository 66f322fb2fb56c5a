"""Status callbacks handed from the delivery service to this process's webhook sender at
insert (leased as they are written), on both stores: only a message's first waiting
callback is, so the order per message holds; a lease that runs out is claimed as usual."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from smsgate.clock import FakeClock
from smsgate.connectors.base import Receipt, SubmitResult
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import CallbackAttempt, CallbackResult, ClaimedCallback
from smsgate.store.base import Store
from tests.integration.test_carrier_receipts import World, world
from tests.stores import StoreHome

HOOK = "https://example.com/status"
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


def run(store_home: StoreHome, scenario: Callable[[World, Sender], Awaitable[None]]) -> None:
    async def main() -> None:
        sender = Sender()
        async with world(store_home, handoff=sender) as w:
            await scenario(w, sender)

    asyncio.run(main())


def test_a_messages_first_waiting_callback_is_handed_over_and_the_rest_keep_their_order(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World, sender: Sender) -> None:
        store, clock, delivery = w.store, w.clock, w.delivery
        message = await w.sending(status_callback=HOOK)
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
    async def scenario(w: World, sender: Sender) -> None:
        store, clock = w.store, w.clock
        sender.room = False
        await w.sending(status_callback=HOOK)
        assert sender.taken == []
        (claimed,) = await claim(store, clock)
        assert (statuses([claimed]), claimed.attempt) == (["sending"], 1)

    run(store_home, scenario)
