"""The numbers and Messaging Services that status callbacks resolve to: the delivery side
reads each once for every status change that needs it at the same time, uses it for
TARGET_TTL_US, then reads it again (a number's new StatusCallback applies within a second)."""

from __future__ import annotations

import asyncio
from typing import Any

from smsgate.domain.messages import Direction, Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.ids import new_sid
from smsgate.services.pools import TARGET_TTL_US, TargetCache, status_callback
from tests.stores import StoreHome, worker_store

NUMBER = "+15005550006"


def test_a_number_is_read_once_for_concurrent_changes_and_again_after_the_ttl(
    store_home: StoreHome,
) -> None:
    async def main() -> None:
        async with worker_store(store_home) as (store, clock, sid):
            now = clock.now()
            await store.create_number(
                PhoneNumber(
                    new_sid("PN"), sid, NUMBER, "n", now, now, status_callback="http://a.test/1"
                )
            )
            reads: list[str] = []
            real = store.find_number

            async def counted(phone_number: str) -> Any:
                reads.append(phone_number)
                await asyncio.sleep(0)  # a read that takes a turn, as on PostgreSQL
                return await real(phone_number)

            store.find_number = counted  # type: ignore[method-assign]
            targets = TargetCache(store, clock)
            found = await asyncio.gather(*(targets.find_number(NUMBER) for _ in range(50)))
            assert {n.status_callback for n in found if n is not None} == {"http://a.test/1"}
            assert len(found) == 50 and reads == [NUMBER]

            store_home.query(
                "UPDATE phone_numbers SET status_callback = ? WHERE phone_number = ?",
                "http://a.test/2",
                NUMBER,
            )
            clock.advance(TARGET_TTL_US / 2_000_000)
            number = await targets.find_number(NUMBER)
            assert number is not None and number.status_callback == "http://a.test/1"
            clock.advance(TARGET_TTL_US / 1_000_000)
            number = await targets.find_number(NUMBER)
            assert number is not None and number.status_callback == "http://a.test/2"
            assert reads == [NUMBER, NUMBER]

            # A number nobody owns is remembered as absent for as long.
            assert await targets.find_number("+15550001111") is None
            assert await targets.find_number("+15550001111") is None
            assert reads == [NUMBER, NUMBER, "+15550001111"]

            # What a status change of a message from that number resolves to.
            message = Message(
                new_sid("SM"),
                sid,
                "+15558675310",
                NUMBER,
                "hi",
                Status.SENDING,
                Direction.OUTBOUND_API,
                1,
                0,
                now,
                now,
            )
            callback = await status_callback(targets, message, Status.SENT)
            assert callback is not None and callback.url == "http://a.test/2"
            assert len(reads) == 3

    asyncio.run(main())
