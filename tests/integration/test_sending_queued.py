"""The ``sending`` change is queued, not awaited, before the carrier is asked (on each real
store): the carrier's answer is queued behind it, so both usually go in one batch, and the
message's history, callbacks and job come out as if each had been written alone."""

from __future__ import annotations

import logging

import pytest

from smsgate.connectors.base import PermanentError, SubmitResult
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import CallbackAttempt, CallbackResult, DeliveryJob, Transition
from smsgate.domain.messages import CreateRequest, Message, Status
from smsgate.services.delivery import Started
from tests.integration.test_carrier_receipts import NUMBER, PHONE, World, run
from tests.stores import StoreHome

CALLBACK = "http://127.0.0.1:9/status"


async def _claimed(w: World) -> tuple[DeliveryJob, Message]:
    created = await w.messages.create(
        w.account, CreateRequest(to=PHONE, from_=NUMBER, body="hi", status_callback=CALLBACK)
    )
    w.clock.advance(1)
    jobs = await w.delivery.claim("test", 10)
    (job,) = [j for j in jobs if j.message_sid == created.sid]
    return job, (await w.delivery.messages_of(jobs))[job.message_sid]


async def _callbacks(w: World, sid: str) -> list[str]:
    """The statuses of the message's callbacks in the outbox, in the order they go out."""
    out = []
    while claimed := await w.store.claim_callbacks("t", to_us(w.clock.now()) + 10**9, 1, 10):
        for item in claimed:
            if item.callback.message_sid == sid:
                out.append(dict(item.callback.params)["MessageStatus"])
            await w.store.finish_callback(_done(item.id))
    return out


def _done(callback_id: int) -> CallbackResult:
    return CallbackResult(CallbackAttempt(callback_id, 1, CALLBACK, 0, 1, 200, None, ""), True)


def test_sending_and_a_fast_answer_come_out_in_order(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        job, message = await _claimed(w)
        began = to_us(w.clock.now())
        started = await w.delivery.begin(job, message)
        assert isinstance(started, Started) and started.sending is not None
        assert not started.sending.done()  # queued; the carrier is asked meanwhile
        w.clock.advance(1)
        await w.delivery.submitted(started.message, SubmitResult("sim:1", receipt_timeout=60))
        await w.delivery.sending_done(started)
        history = await w.store.status_history(message.sid)
        assert [(c.status, c.at_us) for c in history][1:] == [
            (Status.SENDING, began),
            (Status.SENT, began + 1_000_000),
        ]
        after = await w.status(message.sid)
        assert after.status is Status.SENT and to_us(after.date_sent) == began + 1_000_000
        assert await _callbacks(w, message.sid) == ["sending", "sent"]
        assert await w.delivery.claim("test", 10) == []  # the job is done

    run(store_home, scenario)


def test_a_refused_submit_is_queued_behind_sending(store_home: StoreHome) -> None:
    async def scenario(w: World) -> None:
        job, message = await _claimed(w)
        started = await w.delivery.begin(job, message)
        assert isinstance(started, Started)
        await w.delivery.submit_failed(job, started.message, PermanentError(30007, "filtered"))
        await w.delivery.sending_done(started)
        history = await w.store.status_history(message.sid)
        assert [c.status for c in history] == [Status.QUEUED, Status.SENDING, Status.FAILED]
        assert (await w.status(message.sid)).error_code == 30007
        assert await _callbacks(w, message.sid) == ["sending", "failed"]

    run(store_home, scenario)


def test_a_message_that_changed_after_its_claim_is_not_marked_sent(
    store_home: StoreHome, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(w: World) -> None:
        job, message = await _claimed(w)
        # something else settles it between the claim's read and the sending change
        settled = Transition(
            message.sid, frozenset({Status.QUEUED}), Status.FAILED, to_us(w.clock.now())
        )
        assert await w.store.apply_transition(settled) is not None
        started = await w.delivery.begin(job, message)
        assert isinstance(started, Started)
        await w.delivery.submitted(started.message, SubmitResult("sim:2", receipt_timeout=60))
        with caplog.at_level(logging.WARNING, logger="smsgate.services.delivery"):
            await w.delivery.sending_done(started)
        assert "had changed before it was marked sending" in caplog.text
        history = await w.store.status_history(message.sid)
        assert [c.status for c in history] == [Status.QUEUED, Status.FAILED]
        assert (await w.status(message.sid)).status is Status.FAILED

    run(store_home, scenario)
