"""The shared SMPP bind limit in the store (smsgate.services.binds): slots are leased, renewed,
released, and taken over once a holder's lease runs out."""

from __future__ import annotations

import asyncio

from smsgate.clock import FakeClock
from smsgate.services.binds import BindSlots
from smsgate.store.base import Store
from tests.stores import StoreHome

CARRIER = "smsgate@127.0.0.1:2775"


async def _open(home: StoreHome) -> Store:
    store = home.make()
    await store.open()
    return store


def test_a_slot_is_held_renewed_released_and_taken_over_after_its_lease(
    store_home: StoreHome,
) -> None:
    async def run() -> None:
        store = await _open(store_home)
        clock = FakeClock()
        a = BindSlots(store, clock, lease_seconds=30)
        b = BindSlots(store, clock, lease_seconds=30)
        try:
            assert a.renew_every == 10
            assert await a.hold(CARRIER, "a-trx", 1)
            assert not await b.hold(CARRIER, "b-trx", 1)
            assert await b.hold("other@127.0.0.1:2775", "b-trx", 1)  # limits are per account
            clock.advance(25)
            assert await a.hold(CARRIER, "a-trx", 1)  # renewed: good for 30 s from now
            clock.advance(25)
            assert not await b.hold(CARRIER, "b-trx", 1)
            clock.advance(6)  # a stopped renewing (died): its lease ran out
            assert await b.hold(CARRIER, "b-trx", 1)
            assert not await a.hold(CARRIER, "a-trx", 1)  # and a must not bind again
            await b.release(CARRIER, "b-trx")
            assert await a.hold(CARRIER, "a-trx", 1)  # released: free at once
        finally:
            await store.close()

    asyncio.run(run())


def test_the_limit_counts_sessions_and_a_lowered_limit_is_obeyed(store_home: StoreHome) -> None:
    async def run() -> None:
        store = await _open(store_home)
        clock = FakeClock()
        gate = BindSlots(store, clock, lease_seconds=30)
        try:
            holders = [f"p{i}-tx" for i in range(4)]
            held = [await gate.hold(CARRIER, h, 3) for h in holders]
            assert held == [True, True, True, False]
            assert await gate.hold(CARRIER, holders[0], 3)
            # the operator lowers max_binds to 2: the holder of slot 2 gives it up
            assert await gate.hold(CARRIER, holders[0], 2)
            assert await gate.hold(CARRIER, holders[1], 2)
            assert not await gate.hold(CARRIER, holders[2], 2)
        finally:
            await store.close()

    asyncio.run(run())


def test_a_held_slot_is_trusted_only_for_part_of_its_lease_while_the_store_is_away(
    store_home: StoreHome,
) -> None:
    async def run() -> None:
        store = await _open(store_home)
        clock = FakeClock()
        gate = BindSlots(store, clock, lease_seconds=30)
        assert await gate.hold(CARRIER, "a-trx", 1)
        await store.close()  # every store call now fails
        clock.advance(10)
        assert await gate.hold(CARRIER, "a-trx", 1)  # still well within the lease
        assert not await gate.hold(CARRIER, "b-trx", 1)  # never a new bind without the store
        clock.advance(11)  # 21 s: less than a third of the lease left
        assert not await gate.hold(CARRIER, "a-trx", 1)
        await gate.release(CARRIER, "a-trx")  # logged, not raised

    asyncio.run(run())
