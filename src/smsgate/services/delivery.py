"""Use cases of the delivery pipeline: claim, submit outcomes, receipts, and their callbacks.

The worker (``smsgate.worker``) drives these; every status change goes through one
``Transition`` so the store records it, its callback and the job's fate together.
"""

from __future__ import annotations

import asyncio
import logging

from smsgate.clock import Clock
from smsgate.connectors.base import (
    ConnectorError,
    OutboundSms,
    Receipt,
    SubmitResult,
    TemporaryError,
)
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import (
    Callback,
    DeliveryJob,
    JobAction,
    Transition,
    error_message,
    raw_dlr_done_date,
)
from smsgate.domain.messages import Message, Status
from smsgate.domain.pricing import DEFAULT_TABLE, UNIT, PriceTable
from smsgate.domain.senders import retry_delay
from smsgate.services.pools import UNASSIGNED, SenderAssigner, status_callback
from smsgate.store.base import Store

logger = logging.getLogger(__name__)

READY = frozenset({Status.QUEUED, Status.ACCEPTED, Status.SENDING})
RECEIPT_STATUSES = {
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
}


class DeliveryService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        prices: PriceTable | None = None,
        sender_mps: float | None = None,
    ) -> None:
        self._assigner = SenderAssigner(store, sender_mps=sender_mps)
        self._prices = prices or PriceTable.parse(DEFAULT_TABLE)
        self._store = store
        self._clock = clock
        self._lease_us = int(lease_seconds * 1_000_000)
        self._receipt_wait = lease_seconds
        self.max_attempts = max_attempts
        # Receipts that arrived before the ``sent`` that records their carrier id: carrier
        # id -> set once that ``sent`` is committed (or the submit failed).
        self._early: dict[str, asyncio.Future[None]] = {}

    def _now_us(self) -> int:
        return to_us(self._clock.now())

    async def claim(self, owner: str, limit: int) -> list[DeliveryJob]:
        """Lease up to ``limit`` due jobs; a crashed owner's leases expire and are re-claimed."""
        return await self._store.claim_jobs(owner, self._now_us(), self._lease_us, limit)

    async def start(self, job: DeliveryJob) -> tuple[Message, OutboundSms] | None:
        """Mark the message ``sending`` (or expire it); None when there is nothing to submit."""
        message = await self._store.get_message(job.account_sid, job.message_sid)
        if message is not None and message.status in UNASSIGNED:
            await self._assign(job, message)
            return None
        if message is None or message.status not in READY:
            await self._store.drop_job(job.message_sid)
            return None
        now = self._now_us()
        if now > job.expires_us:
            await self._fail(message, 30036, now, from_=READY)
            return None
        if message.status is not Status.SENDING:
            changed = await self._apply(
                message, Status.SENDING, Transition(message.sid, READY, Status.SENDING, now)
            )
            if changed is None:
                return None
            message = changed
        sms = OutboundSms(
            message_sid=message.sid,
            account_sid=message.account_sid,
            to=message.to,
            from_=message.from_ or "",
            body=message.body,
            media_urls=tuple(message.media_urls),
            num_segments=message.num_segments,
            attempt=job.attempt,
        )
        return message, sms

    async def _assign(self, job: DeliveryJob, message: Message) -> None:
        """A Messaging Service message is due: give it a sender and a slot in its queue.

        The job goes back to the queue at that slot (``queued``); it is submitted when it is
        claimed again. No sender with room fails it with 30001, an empty pool with 21704.
        """
        now = self._now_us()
        if now > job.expires_us:
            await self._fail(message, 30036, now, from_=UNASSIGNED)
            return
        after = await self._assigner.assign(message, now)
        if after is not None and after.status is Status.FAILED:
            logger.warning(
                "message %s failed: %s %s", message.sid, after.error_code, after.error_message
            )

    async def submitted(self, message: Message, result: SubmitResult) -> None:
        """The carrier accepted the message: ``sent``, and the job leaves the queue."""
        now = self._now_us()
        try:
            await self._record_sent(message, result, now)
        finally:
            early = self._early.get(result.carrier_id)
            if early is not None and not early.done():
                early.set_result(None)

    async def _record_sent(self, message: Message, result: SubmitResult, now: int) -> None:
        await self._apply(
            message,
            Status.SENT,
            Transition(
                message.sid,
                frozenset({Status.SENDING}),
                Status.SENT,
                now,
                date_sent_us=now,
                carrier_id=result.carrier_id,
                price=self._prices.price(message.to, result.parts),
                price_unit=UNIT,
                job=JobAction.DONE,
            ),
        )

    async def submit_failed(self, job: DeliveryJob, message: Message, error: Exception) -> None:
        """A temporary error is retried with backoff; a permanent one fails the message."""
        now = self._now_us()
        temporary = isinstance(error, TemporaryError) or not isinstance(error, ConnectorError)
        code = error.code if isinstance(error, ConnectorError) else 30008
        if temporary and job.attempt < self.max_attempts:
            delay_us = int(retry_delay(job.attempt) * 1_000_000)
            logger.info("retrying %s after %s: %s", message.sid, delay_us / 1e6, error)
            await self._store.apply_transition(
                Transition(
                    message.sid,
                    frozenset({Status.SENDING}),
                    Status.SENDING,
                    now,
                    job=JobAction.RETRY,
                    retry_at_us=now + delay_us,
                    attempt=job.attempt + 1,
                )
            )
            return
        logger.warning("message %s failed: %s", message.sid, error)
        await self._fail(message, code, now, from_=frozenset({Status.SENDING}))

    async def receipt(self, receipt: Receipt) -> None:
        """A delivery receipt: ``delivered``, ``undelivered`` or ``failed``.

        A carrier may report delivery before the ``sent`` that records its id is committed
        (a fast receipt, or a busy store): such a receipt waits for that commit, for at
        most the job lease, instead of being dropped.
        """
        sid = await self._carrier_ref(receipt.carrier_id)
        if sid is None:
            logger.warning("receipt for unknown carrier id %s", receipt.carrier_id)
            return
        message = await self._store.get_message_by_sid(sid)
        if message is None:
            return
        status = RECEIPT_STATUSES[receipt.status]
        code = receipt.error_code if status is not Status.DELIVERED else None
        done = raw_dlr_done_date(receipt.done_date)
        await self._apply(
            message,
            status,
            Transition(
                message.sid,
                frozenset({Status.SENT, Status.SENDING}),
                status,
                self._now_us(),
                error_code=code,
                error_message=error_message(code),
            ),
            raw_done_date=done,
        )

    async def _carrier_ref(self, carrier_id: str) -> str | None:
        # Registered before the lookup, so a ``sent`` committed in between still wakes it.
        early = self._early.setdefault(carrier_id, asyncio.get_running_loop().create_future())
        try:
            sid = await self._store.find_carrier_ref(carrier_id)
            if sid is not None:
                return sid
            try:
                await asyncio.wait_for(asyncio.shield(early), self._receipt_wait)
            except TimeoutError:
                return None
            return await self._store.find_carrier_ref(carrier_id)
        finally:
            if self._early.get(carrier_id) is early:
                del self._early[carrier_id]

    async def _fail(self, message: Message, code: int, now: int, from_: frozenset[Status]) -> None:
        await self._apply(
            message,
            Status.FAILED,
            Transition(
                message.sid,
                from_,
                Status.FAILED,
                now,
                error_code=code,
                error_message=error_message(code),
                job=JobAction.DONE,
            ),
        )

    async def _apply(
        self,
        message: Message,
        status: Status,
        change: Transition,
        *,
        raw_done_date: str | None = None,
    ) -> Message | None:
        callback = await self._callback_for(message, status, change.error_code, raw_done_date)
        return await self._store.apply_transition(
            Transition(
                change.message_sid,
                change.allowed_from,
                change.status,
                change.now_us,
                date_sent_us=change.date_sent_us,
                error_code=change.error_code,
                error_message=change.error_message,
                carrier_id=change.carrier_id,
                price=change.price,
                price_unit=change.price_unit,
                job=change.job,
                retry_at_us=change.retry_at_us,
                attempt=change.attempt,
                callback=callback,
            )
        )

    async def _callback_for(
        self, message: Message, status: Status, error_code: int | None, raw_done_date: str | None
    ) -> Callback | None:
        """The status callback owed for this change: the message's URL, else its Messaging
        Service's, else its number's."""
        return await status_callback(
            self._store, message, status, error_code=error_code, raw_done_date=raw_done_date
        )
