"""Two workers on one SQLite file (as ``serve`` beside ``smsgate worker``): leases keep every
message to one submit per attempt, and every message gets one."""

from __future__ import annotations

import asyncio
from collections import Counter

from smsgate.clock import SystemClock
from smsgate.connectors.base import (
    InboundHandler,
    OutboundSms,
    PartRecorder,
    ReceiptHandler,
    SubmitResult,
)
from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.messages import CreateRequest, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.ids import new_sid
from smsgate.services.delivery import DeliveryService
from smsgate.services.messages import MessageService
from smsgate.worker.dispatcher import Dispatcher
from tests.stores import StoreHome

NUMBER = "+15017122661"
MESSAGES = 300


class CountingCarrier:
    """Accepts every submit (after a yield, so submits overlap) and counts them."""

    name = "counting"

    def __init__(self, submits: Counter[tuple[str, int]]) -> None:
        self._submits = submits
        self.mine = 0

    def ready(self) -> bool:
        return True

    async def start(self, on_receipt: ReceiptHandler, on_inbound: InboundHandler) -> None:
        return None

    async def submit(
        self, sms: OutboundSms, record_part: PartRecorder | None = None
    ) -> SubmitResult:
        self._submits[(sms.message_sid, sms.attempt)] += 1
        self.mine += 1
        await asyncio.sleep(0.001)
        return SubmitResult(f"c-{sms.message_sid}")

    async def close(self) -> None:
        return None


def test_two_workers_never_submit_a_message_twice(store_home: StoreHome) -> None:
    async def scenario() -> None:
        first, second = store_home.make(), store_home.make()
        await first.open()
        await second.open()
        clock = SystemClock()
        now = clock.now()
        sid = new_sid("AC")
        account = Account(sid, sid, "test", "token", AccountStatus.ACTIVE, now, now)
        await first.create_account(account)
        await first.create_number(PhoneNumber(new_sid("PN"), sid, NUMBER, "n", now, now))
        api = MessageService(first, clock, sender_mps=0)
        sids = [
            (
                await api.create(
                    account, CreateRequest(to=f"+1555867{i:04d}", from_=NUMBER, body="x")
                )
            ).sid
            for i in range(MESSAGES)
        ]
        submits: Counter[tuple[str, int]] = Counter()
        stop = asyncio.Event()
        carriers = [CountingCarrier(submits), CountingCarrier(submits)]
        workers = [
            Dispatcher(
                DeliveryService(store, clock, lease_seconds=30, sender_mps=0),
                carrier,
                concurrency=16,
                idle_poll=0.01,
            )
            for store, carrier in zip((first, second), carriers, strict=True)
        ]
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        try:
            async with asyncio.timeout(60):
                while True:
                    found = [await first.get_message_by_sid(s) for s in sids]
                    if all(m is not None and m.status is Status.SENT for m in found):
                        break
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await first.close()
            await second.close()
        assert {message for message, _ in submits} == set(sids)
        assert set(submits.values()) == {1}, [k for k, v in submits.items() if v > 1]
        assert {attempt for _, attempt in submits} == {1}
        assert all(c.mine > 0 for c in carriers), "both workers must have taken work"

    asyncio.run(scenario())
