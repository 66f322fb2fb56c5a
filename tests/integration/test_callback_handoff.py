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
from smsgate.domain.messages import Message
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


async def record_sent(w: World, message: Message) -> None:
    """The carrier took ``message`` (as carrier id ``sim:1``): ``sent``, with its callback."""
    await w.delivery.submitted(message, SubmitResult("sim:1", receipt_timeout=60))


def statuses(items: list[ClaimedCallback]) -> list[str]:
    return [dict(i.callback.params)["MessageStatus"] for i in items]


def run(store_home: StoreHome, scenario: Callable[[World, Sender], Awaitable[None]]) -> None:
    async def main() -> None:
        sender = Sender()
        async with world(store_home, handoff=sender) as w:
            await scenario(w, sender)

    asyncio.run(main())


def test_callbacks_are_handed_over_behind_the_senders_own_and_claimed_behind_anyone_elses(
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

        # `sent` while `sending` is still out with this sender: handed to it too, behind it
        # (the sender sends it once `sending` is recorded); no claim takes either
        await record_sent(w, message)
        assert statuses(sender.taken) == ["sending", "sent"]
        second = sender.taken[1]
        assert second.attempt == 1
        assert await claim(store, clock) == []
        await finish(store, clock, first)
        await finish(store, clock, second)

        # `delivered` with nothing waiting: handed over again
        await delivery.receipt(Receipt("sim:1", "delivered"))
        assert statuses(sender.taken) == ["sending", "sent", "delivered"]
        assert await claim(store, clock) == []

        # a sender that dies with it: the lease runs out and a claim takes it, as attempt 2
        clock.advance(LEASE_US / 1_000_000 + 1)
        (again,) = await claim(store, clock)
        assert (again.id, again.attempt) == (sender.taken[2].id, 2)
        assert statuses([again]) == ["delivered"]

    run(store_home, scenario)


def test_a_callback_behind_one_that_is_not_the_senders_waits_in_the_outbox(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World, sender: Sender) -> None:
        store, clock = w.store, w.clock
        sender.room = False
        message = await w.sending(status_callback=HOOK)
        sender.room = True
        # `sending` waits unleased; another process's sender claims it
        (first,) = await claim(store, clock)
        assert statuses([first]) == ["sending"]
        # `sent` behind a callback leased to someone else: not handed over, and claimed
        # only once that one is finished
        await record_sent(w, message)
        assert sender.taken == []
        assert await claim(store, clock) == []
        await finish(store, clock, first)
        (second,) = await claim(store, clock)
        assert (statuses([second]), second.attempt) == (["sent"], 1)

    run(store_home, scenario)


def test_a_callback_behind_the_senders_own_expired_lease_waits_in_the_outbox(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World, sender: Sender) -> None:
        store, clock = w.store, w.clock
        message = await w.sending(status_callback=HOOK)
        (first,) = sender.taken
        clock.advance(LEASE_US / 1_000_000 + 1)  # the sender's lease on `sending` ran out
        await record_sent(w, message)
        assert statuses(sender.taken) == ["sending"]
        (again,) = await claim(store, clock)
        assert (again.id, again.attempt) == (first.id, 2)

    run(store_home, scenario)


def test_released_callbacks_are_claimed_in_order_with_their_attempt_uncounted(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World, sender: Sender) -> None:
        store, clock = w.store, w.clock
        message = await w.sending(status_callback=HOOK)
        await record_sent(w, message)
        first, second = sender.taken
        # `sending` is due again later; the sender gives `sent` back
        now = to_us(clock.now())
        attempt = CallbackAttempt(first.id, 1, HOOK, now, 1, 500, None, "")
        await store.finish_callback(CallbackResult(attempt, False, now + 1_000_000))
        await store.release_callbacks([second.id], "someone-else", now)  # not theirs
        assert await claim(store, clock) == []
        await store.release_callbacks([second.id], Sender.owner, now)
        assert await claim(store, clock) == []  # `sending` first, and it is not due yet
        clock.advance(1)
        (retried,) = await claim(store, clock)
        assert (retried.id, retried.attempt) == (first.id, 2)
        await finish(store, clock, retried)
        (released,) = await claim(store, clock)
        assert (released.id, released.attempt, statuses([released])) == (second.id, 1, ["sent"])

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
