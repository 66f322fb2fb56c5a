"""The webhook sender's chains: a status callback handed over behind one of its message that
this sender is still sending goes out only once that one is recorded, and goes back to the
outbox (to be claimed behind it) when that one is due again later. A real sender, a real
store and a loopback receiver; the store's clock is a FakeClock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from smsgate.connectors.base import Receipt, SubmitResult
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import ClaimedCallback
from smsgate.webhooks.sender import WebhookSender
from tests.fakes.receiver import Receiver, start_receiver
from tests.integration.test_carrier_receipts import World, world
from tests.stores import StoreHome


class Handoff:
    """The delivery service's view of a sender made once the store is open."""

    def __init__(self) -> None:
        self.sender: WebhookSender | None = None
        self.taken: list[ClaimedCallback] = []

    @property
    def owner(self) -> str:
        assert self.sender is not None
        return self.sender.owner

    @property
    def lease_us(self) -> int:
        assert self.sender is not None
        return self.sender.lease_us

    def has_room(self) -> bool:
        return self.sender is not None and self.sender.has_room()

    def take(self, claimed: ClaimedCallback) -> None:
        assert self.sender is not None
        self.taken.append(claimed)
        self.sender.take(claimed)


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()


async def until(probe: Callable[[], Any]) -> Any:
    """Poll ``probe`` (a function, or a coroutine function) until it returns something
    true, and return that; fail after ten seconds."""
    async with asyncio.timeout(10):
        while True:
            found = probe()
            if asyncio.iscoroutine(found):
                found = await found
            if found:
                return found
            await asyncio.sleep(0.01)


def run(
    store_home: StoreHome, scenario: Callable[[World, WebhookSender, Handoff], Awaitable[None]]
) -> None:
    async def main() -> None:
        handoff = Handoff()
        async with world(store_home, handoff=handoff) as w:
            sender = WebhookSender(w.store, w.clock, idle_poll=0.01)
            handoff.sender = sender
            stop = asyncio.Event()
            task = asyncio.create_task(sender.run(stop))
            await until(sender.has_room)
            try:
                await scenario(w, sender, handoff)
            finally:
                stop.set()
                await task

    asyncio.run(main())


def test_a_callback_behind_the_senders_own_goes_out_once_that_one_is_recorded(
    store_home: StoreHome, hooks: Receiver
) -> None:
    hooks.slow_seconds = 0.3

    async def scenario(w: World, sender: WebhookSender, handoff: Handoff) -> None:
        message = await w.sending(status_callback=hooks.url("/slow"))
        await w.delivery.submitted(message, SubmitResult("sim:1", receipt_timeout=60))
        await w.delivery.receipt(Receipt("sim:1", "delivered"))
        await until(lambda: len(hooks.statuses(message.sid)) == 3)
        first, second, third = hooks.for_message(message.sid)
        assert [h.params["MessageStatus"] for h in (first, second, third)] == [
            "sending",
            "sent",
            "delivered",
        ]
        # each waited for the one before to be answered (0.3 s) and recorded
        assert second.at - first.at >= 0.3
        assert third.at - second.at >= 0.3

        async def recorded() -> list[Any]:
            found = await w.store.callback_attempts(message.sid)
            return found if len(found) == 3 else []

        attempts = await until(recorded)
        assert [a.attempt for a in attempts] == [1, 1, 1]
        # all three were handed over as they were written: none waited for a claim
        assert [dict(c.callback.params)["MessageStatus"] for c in handoff.taken] == [
            "sending",
            "sent",
            "delivered",
        ]

    run(store_home, scenario)


def test_a_callback_behind_one_due_again_later_is_claimed_after_its_retry(
    store_home: StoreHome, hooks: Receiver
) -> None:
    async def scenario(w: World, sender: WebhookSender, handoff: Handoff) -> None:
        released: list[list[int]] = []
        real_release = w.store.release_callbacks

        async def release(ids: list[int], owner: str, now_us: int) -> None:
            released.append(ids)
            await real_release(ids, owner, now_us)

        w.store.release_callbacks = release  # type: ignore[method-assign]
        url = hooks.answer("/flaky", "", status=500, delay=0.3)
        # `sending` fails with a 500 (retried, #rp=5xx) while `sent` waits behind it
        message = await w.sending(status_callback=url + "#rp=5xx")
        await w.delivery.submitted(message, SubmitResult("sim:1", receipt_timeout=60))
        assert [dict(c.callback.params)["MessageStatus"] for c in handoff.taken] == [
            "sending",
            "sent",
        ]

        async def attempts() -> list[Any]:
            return await w.store.callback_attempts(message.sid)

        await until(attempts)
        assert hooks.statuses(message.sid) == ["sending"]
        # `sent` went back to the outbox: it is not sent before `sending` is retried
        hooks.answer("/flaky", "", status=200)
        w.clock.advance(0.5)
        # `sending` is not due yet, and `sent` may not go before it: nothing to claim
        assert await w.store.claim_callbacks("probe", to_us(w.clock.now()), 60_000_000, 10) == []
        assert hooks.statuses(message.sid) == ["sending"]
        w.clock.advance(1)
        sender.wake()
        await until(lambda: len(hooks.statuses(message.sid)) == 3)
        assert hooks.statuses(message.sid) == ["sending", "sending", "sent"]

        async def three() -> list[Any]:
            found = await attempts()
            return found if len(found) == 3 else []

        found = await until(three)
        assert [(a.status_code, a.attempt) for a in found] == [(500, 1), (200, 2), (200, 1)]
        # `sent` was given back once, when `sending` failed
        assert released == [[handoff.taken[1].id]]

        # `delivered`, with nothing left in the outbox: handed over and sent at once
        await w.delivery.receipt(Receipt("sim:1", "delivered"))
        await until(lambda: len(hooks.statuses(message.sid)) == 4)
        assert hooks.statuses(message.sid)[-1] == "delivered"
        assert released == [[handoff.taken[1].id]]

    run(store_home, scenario)
