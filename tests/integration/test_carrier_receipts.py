"""Receipts on a real SQLite store: early receipts, split messages, receipt deadlines,
resumed split submits, and concatenated inbound parts. Time is a FakeClock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from smsgate.clock import FakeClock
from smsgate.connectors.base import InboundPart, InboundSms, Receipt, SubmitResult
from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.delivery import (
    CallbackAttempt,
    CallbackResult,
    SubmitProgress,
    raw_dlr_done_date,
    status_params,
)
from smsgate.domain.messages import CreateRequest, Direction, Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.paging import parse_page_request
from smsgate.ids import new_sid
from smsgate.services.delivery import CallbackHandoff, DeliveryService
from smsgate.services.inbound import InboundService
from smsgate.services.messages import MessageService
from smsgate.store.base import MessageFilter, Store, StoreUnavailable
from tests.stores import StoreHome

NUMBER, PHONE = "+15017122661", "+15558675310"
DONE = datetime(2026, 11, 25, 12, 1, tzinfo=UTC)


@dataclass
class World:
    store: Store
    clock: FakeClock
    account: Account
    messages: MessageService
    delivery: DeliveryService
    inbound: InboundService

    async def sending(self, body: str = "hello", status_callback: str | None = None) -> Message:
        """A message claimed by a worker and marked ``sending``."""
        created = await self.messages.create(
            self.account,
            CreateRequest(to=PHONE, from_=NUMBER, body=body, status_callback=status_callback),
        )
        jobs = await self.delivery.claim("test", 10)
        job = next(j for j in jobs if j.message_sid == created.sid)
        started = await self.delivery.start(
            job, (await self.delivery.messages_of(jobs))[job.message_sid]
        )
        assert started is not None
        return started[0]

    async def status(self, sid: str) -> Message:
        message = await self.store.get_message_by_sid(sid)
        assert message is not None
        return message


@asynccontextmanager
async def world(
    store_home: StoreHome, handoff: CallbackHandoff | None = None
) -> AsyncIterator[World]:
    """A store with an account and its number, and the services over it (``handoff``: the
    delivery service's webhook sender, if any)."""
    store = store_home.make()
    await store.open()
    clock = FakeClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    now = clock.now()
    sid = new_sid("AC")
    account = Account(sid, sid, "test", "token", AccountStatus.ACTIVE, now, now)
    await store.create_account(account)
    await store.create_number(PhoneNumber(new_sid("PN"), sid, NUMBER, "n", now, now))
    try:
        yield World(
            store,
            clock,
            account,
            MessageService(store, clock, sender_mps=0),
            DeliveryService(store, clock, sender_mps=0, handoff=handoff),
            InboundService(store, clock, sender_mps=0),
        )
    finally:
        await store.close()


def run(store_home: StoreHome, scenario: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        async with world(store_home) as w:
            await scenario(w)

    asyncio.run(main())


def test_a_receipt_that_overtakes_its_submit_is_kept_and_applied(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        message = await w.sending()
        # the SMSC receipts id 0A1B2C (as decimal 662316) before submit_sm_resp is recorded
        await w.delivery.receipt(Receipt("smpp:662316", "delivered", alternatives=("smpp:a1b2c",)))
        assert (await w.status(message.sid)).status is Status.SENDING
        await w.delivery.submitted(message, SubmitResult("smpp:a1b2c", receipt_timeout=60))
        after = await w.status(message.sid)
        assert after.status is Status.DELIVERED
        assert await w.store.parked_receipts(("smpp:662316", "smpp:a1b2c")) == []

    run(store_home, scenario)


def test_a_receipt_that_comes_while_its_submit_is_recorded_here_waits_instead_of_parking(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World) -> None:
        message = await w.sending()
        parked: list[Any] = []
        real_park = w.store.park_receipt

        async def park(receipt: Any) -> Any:
            parked.append(receipt)
            return await real_park(receipt)

        w.store.park_receipt = park  # type: ignore[method-assign]
        # submit_sm_resp, then the receipt right behind it: the receipt's handler runs
        # while the worker's write of `sent` is still on its way to the store
        recording = asyncio.create_task(
            w.delivery.submitted(message, SubmitResult("smpp:5e", receipt_timeout=60))
        )
        await asyncio.sleep(0)
        assert not recording.done()
        await w.delivery.receipt(Receipt("smpp:94", "delivered", alternatives=("smpp:5e",)))
        await recording
        assert parked == []
        assert (await w.status(message.sid)).status is Status.DELIVERED
        history = [c.status for c in await w.store.status_history(message.sid)]
        assert history[-2:] == [Status.SENT, Status.DELIVERED]

        # The same with the write of `sent` failing: the receipt is parked, as before.
        second = await w.sending()
        real_queue = w.store.queue_transition

        def failing(change: Any) -> Any:
            async def written() -> Any:
                await asyncio.sleep(0)
                raise StoreUnavailable("the database went away")

            return written()

        w.store.queue_transition = failing  # type: ignore[method-assign]
        recording = asyncio.create_task(
            w.delivery.submitted(second, SubmitResult("smpp:6f", receipt_timeout=60))
        )
        await asyncio.sleep(0)
        w.store.queue_transition = real_queue  # type: ignore[method-assign]
        await w.delivery.receipt(Receipt("smpp:111", "delivered", alternatives=("smpp:6f",)))
        with pytest.raises(StoreUnavailable):
            await recording
        assert len(parked) == 1
        assert (await w.status(second.sid)).status is Status.SENDING

    run(store_home, scenario)


def test_a_receipt_for_a_submit_recorded_here_is_applied_without_reading_the_store(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World) -> None:
        hook = "https://example.com/status"
        message = await w.sending(status_callback=hook)
        await w.delivery.submitted(message, SubmitResult("smpp:b1", receipt_timeout=60))
        real_find, real_get = w.store.find_carrier_ref, w.store.get_message_by_sid

        async def unread(*args: Any) -> Any:
            raise AssertionError("the receipt read the store")

        w.store.find_carrier_ref = unread  # type: ignore[method-assign]
        w.store.get_message_by_sid = unread  # type: ignore[method-assign]
        await w.delivery.receipt(Receipt("smpp:b1", "delivered", done_date=DONE))
        w.store.find_carrier_ref, w.store.get_message_by_sid = real_find, real_get  # type: ignore[method-assign]
        assert (await w.status(message.sid)).status is Status.DELIVERED
        assert len(w.delivery.sent) == 0

        # the callback is the one the store's path builds: in order, with the sent message
        now = int(w.clock.now().timestamp() * 1_000_000)
        params = []
        while claimed := await w.store.claim_callbacks("test", now, 60_000_000, 10):
            (one,) = claimed
            assert one.callback.url == hook
            params.append(dict(one.callback.params))
            attempt = CallbackAttempt(one.id, 1, hook, now, 1, 200, None, "")
            await w.store.finish_callback(CallbackResult(attempt, succeeded=True))
        assert [p["MessageStatus"] for p in params] == ["sending", "sent", "delivered"]
        stored = await w.status(message.sid)
        done = raw_dlr_done_date(DONE)
        assert done is not None
        assert params[-1] == dict(status_params(stored, Status.DELIVERED, raw_done_date=done))

        # a repeated receipt takes the store's path and changes nothing
        await w.delivery.receipt(Receipt("smpp:b1", "delivered"))
        history = [c.status for c in await w.store.status_history(message.sid)]
        assert history.count(Status.DELIVERED) == 1

    run(store_home, scenario)


def test_a_receipt_remembered_here_does_not_move_a_message_settled_meanwhile(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World) -> None:
        message = await w.sending()
        await w.delivery.submitted(message, SubmitResult("smpp:c1", receipt_timeout=1))
        w.clock.advance(2)
        assert await w.delivery.expire_receipts() == 1  # another worker's sweep, say
        await w.delivery.receipt(Receipt("smpp:c1", "delivered"))
        settled = await w.status(message.sid)
        assert (settled.status, settled.error_code) == (Status.UNDELIVERED, 30008)

    run(store_home, scenario)


def test_messages_of_claimed_jobs_are_read_at_once(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        created = [
            await w.messages.create(w.account, CreateRequest(to=PHONE, from_=NUMBER, body=b))
            for b in ("one", "two")
        ]
        found = await w.store.get_messages_by_sid([created[1].sid, "SM" + "0" * 32, created[0].sid])
        assert {sid: m.body for sid, m in found.items()} == {
            created[0].sid: "one",
            created[1].sid: "two",
        }
        jobs = await w.delivery.claim("test", 10)
        messages = await w.delivery.messages_of(jobs)
        assert set(messages) == {c.sid for c in created}
        assert await w.delivery.messages_of([]) == {}

    run(store_home, scenario)


def test_a_receipt_left_parked_by_a_stopped_worker_is_applied_by_the_sweep(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World) -> None:
        message = await w.sending()
        await w.delivery.receipt(Receipt("smpp:77", "delivered", alternatives=("smpp:4d",)))
        real = w.store.parked_receipts

        async def killed(carrier_ids: tuple[str, ...]) -> list[Any]:
            raise RuntimeError("worker killed after recording the submit")

        # the worker records `sent`, then stops before it reads what was parked
        w.store.parked_receipts = killed  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            await w.delivery.submitted(message, SubmitResult("smpp:4d", receipt_timeout=600))
        w.store.parked_receipts = real  # type: ignore[method-assign]
        assert (await w.status(message.sid)).status is Status.SENT
        assert len(await w.store.parked_receipts(("smpp:4d",))) == 1

        assert await w.delivery.recover_parked_receipts() == 0  # too young: maybe in progress
        w.clock.advance(11)
        assert await w.delivery.recover_parked_receipts() == 1
        assert (await w.status(message.sid)).status is Status.DELIVERED
        assert await w.store.parked_receipts(("smpp:77", "smpp:4d")) == []
        assert await w.delivery.recover_parked_receipts() == 0
        history = [c.status for c in await w.store.status_history(message.sid)]
        assert history.count(Status.DELIVERED) == 1

        # a receipt nobody's submit ever matches is kept a day, then dropped
        await w.delivery.receipt(Receipt("smpp:nobody", "delivered"))
        w.clock.advance(23 * 3600)
        await w.delivery.recover_parked_receipts()
        assert len(await w.store.parked_receipts(("smpp:nobody",))) == 1
        w.clock.advance(3601)
        await w.delivery.recover_parked_receipts()
        assert await w.store.parked_receipts(("smpp:nobody",)) == []

    run(store_home, scenario)


def test_a_split_message_follows_all_of_its_parts(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        ok = await w.sending("a" * 400)
        bad = await w.sending("b" * 400)
        ids = ("smpp:1", "smpp:2", "smpp:3")
        await w.delivery.submitted(ok, SubmitResult(ids[0], parts=3, part_ids=ids))
        bad_ids = ("smpp:4", "smpp:5", "smpp:6")
        await w.delivery.submitted(bad, SubmitResult(bad_ids[0], parts=3, part_ids=bad_ids))
        for carrier_id in ids[:2]:
            await w.delivery.receipt(Receipt(carrier_id, "delivered"))
        assert (await w.status(ok.sid)).status is Status.SENT
        await w.delivery.receipt(Receipt(ids[2], "delivered"))
        assert (await w.status(ok.sid)).status is Status.DELIVERED

        await w.delivery.receipt(Receipt("smpp:5", "undelivered", error_code=30003))
        failed = await w.status(bad.sid)
        assert (failed.status, failed.error_code) == (Status.UNDELIVERED, 30003)
        # the other parts' receipts change nothing any more
        await w.delivery.receipt(Receipt("smpp:4", "delivered"))
        await w.delivery.receipt(Receipt("smpp:6", "delivered"))
        assert (await w.status(bad.sid)).status is Status.UNDELIVERED

    run(store_home, scenario)


def test_a_message_whose_receipt_never_comes_becomes_undelivered(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        waiting = await w.sending()
        answered = await w.sending()
        for message, carrier_id in ((waiting, "smpp:10"), (answered, "smpp:11")):
            await w.delivery.submitted(message, SubmitResult(carrier_id, receipt_timeout=600))
        await w.delivery.receipt(Receipt("smpp:11", "delivered"))
        w.clock.advance(599)
        assert await w.delivery.expire_receipts() == 0
        w.clock.advance(2)
        assert await w.delivery.expire_receipts() == 1  # only the one still waiting
        given_up = await w.status(waiting.sid)
        assert (given_up.status, given_up.error_code) == (Status.UNDELIVERED, 30008)
        assert (await w.status(answered.sid)).status is Status.DELIVERED
        # a late receipt cannot move a settled message, and nothing is due any more
        await w.delivery.receipt(Receipt("smpp:10", "delivered"))
        assert (await w.status(waiting.sid)).status is Status.UNDELIVERED
        w.clock.advance(3600)
        assert await w.delivery.expire_receipts() == 0

    run(store_home, scenario)


def test_an_interrupted_split_submit_resumes_after_its_confirmed_parts(
    store_home: StoreHome,
) -> None:
    async def scenario(w: World) -> None:
        message = await w.sending("c" * 400)
        await w.delivery.record_parts(message.sid, SubmitProgress(77, ("smpp:20", "smpp:21")))
        # the attempt dies; the lease runs out and the job is claimed again
        w.clock.advance(3600)
        (job,) = await w.delivery.claim("second", 10)
        started = await w.delivery.start(job)
        assert started is not None
        assert started[1].resume == SubmitProgress(77, ("smpp:20", "smpp:21"))
        ids = ("smpp:20", "smpp:21", "smpp:22")
        await w.delivery.submitted(started[0], SubmitResult(ids[0], parts=3, part_ids=ids))
        assert await w.store.get_submit_progress(message.sid) is None

    run(store_home, scenario)


def test_concatenated_inbound_parts_become_one_message(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        texts = ["Hello, ", "this came ", "in three parts"]
        for seq in (3, 1, 1, 2):  # out of order, and part 1 delivered twice
            await w.inbound.receive_sms(
                InboundSms(
                    PHONE, NUMBER, texts[seq - 1], carrier="smpp", part=InboundPart(9, 3, seq)
                )
            )
        page = await w.store.list_messages(
            w.account.sid,
            MessageFilter(to=NUMBER),
            parse_page_request(None, None, None, "SM", "MM"),
        )
        inbound = [m for m in page.items if m.direction is Direction.INBOUND]
        assert [m.body for m in inbound] == ["Hello, this came in three parts"]
        assert inbound[0].num_segments == 3

    run(store_home, scenario)


def test_a_queued_message_past_its_validity_fails_before_its_turn(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        slow = MessageService(w.store, w.clock, sender_mps=0.01)  # one segment per 100 s
        first = await slow.create(w.account, CreateRequest(to=PHONE, from_=NUMBER, body="1"))
        late = await slow.create(
            w.account, CreateRequest(to=PHONE, from_=NUMBER, body="2", validity_period=5)
        )
        w.clock.advance(4)
        assert await w.delivery.expire_jobs("sweeper") == 0
        w.clock.advance(2)
        assert await w.delivery.expire_jobs("sweeper") == 1
        expired = await w.status(late.sid)
        assert (expired.status, expired.error_code) == (Status.FAILED, 30036)
        assert (await w.status(first.sid)).status is Status.QUEUED

    run(store_home, scenario)
