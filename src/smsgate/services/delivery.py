"""Use cases of the delivery pipeline: claim, submit outcomes, receipts, and their callbacks.

The worker (``smsgate.worker``) drives these; every status change goes through one
``Transition`` so the store records it, its callback and the job's fate together.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Protocol

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
    CallbackLease,
    CarrierRef,
    ClaimedCallback,
    DeliveryJob,
    JobAction,
    ParkedReceipt,
    SubmitProgress,
    Transition,
    combined_status,
    error_message,
    raw_dlr_done_date,
)
from smsgate.domain.media import MediaProblem
from smsgate.domain.messages import Direction, Message, Status
from smsgate.domain.pricing import DEFAULT_TABLE, UNIT, PriceTable
from smsgate.domain.senders import retry_delay
from smsgate.domain.values import value
from smsgate.services.media import MediaService
from smsgate.services.pools import UNASSIGNED, SenderAssigner, TargetCache, status_callback
from smsgate.store.base import Store, StoreUnavailable

logger = logging.getLogger(__name__)
# A parked receipt whose submit has been recorded for this long was not applied by the
# process that recorded it (it stopped in between): the sweep applies it. Applying a receipt
# twice changes nothing, so this only needs to be longer than the usual path takes.
ORPHAN_AGE_US = 10_000_000
# A parked receipt that matched no submit for this long is dropped, with a warning: its id
# is not one of ours (another system's, or a message whose submit never got recorded).
PARKED_RETENTION_US = 24 * 3600 * 1_000_000

NO_RECEIPT = 30008  # a sent message whose receipt never came

READY = frozenset({Status.QUEUED, Status.ACCEPTED, Status.SENDING})
RECEIPT_STATUSES = {
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
}
# a media fetch that was not allowed to start goes back to the queue for this long
MEDIA_DEFER_US = 1_000_000
# How many sent one-part messages a process remembers until their receipt comes (see SentMemory)
SENT_MEMORY = 16_384


class SentMemory:
    """One-part messages this process recorded ``sent``, by carrier id, until their receipt.

    A receipt found here is applied without reading its carrier reference and its message
    back from the store: under load those two reads were a tenth of the worker's event loop.
    What a status callback is built from (sid, account, From, To, service, StatusCallback)
    does not change once a message is sent, and the store still applies the receipt only
    if the message is ``sent`` or ``sending`` then. Past ``cap`` the oldest are forgotten;
    their receipts (like those of other processes' submits) take the store's path.
    """

    def __init__(self, cap: int = SENT_MEMORY) -> None:
        self._cap = cap
        self._messages: dict[str, Message] = {}

    def __len__(self) -> int:
        return len(self._messages)

    def remember(self, carrier_id: str, message: Message) -> None:
        self._messages[carrier_id] = message
        if len(self._messages) > self._cap:
            del self._messages[next(iter(self._messages))]

    def take(self, carrier_ids: tuple[str, ...]) -> tuple[CarrierRef, Message] | None:
        """The message one of ``carrier_ids`` stands for, forgotten as it is returned (a
        repeated receipt finds the message settled in the store and changes nothing)."""
        for carrier_id in carrier_ids:
            message = self._messages.pop(carrier_id, None)
            if message is not None:
                return CarrierRef(carrier_id, message.sid), message
        return None


@dataclass(frozen=True, slots=True)
class PendingMedia:
    """A claimed message whose media must be fetched and stored before it is submitted."""

    job: DeliveryJob
    message: Message


@value
class Started:
    """A claimed message ready for its carrier. ``sending`` is its ``sending`` change when
    this claim makes it: queued in the store, not necessarily written yet. The carrier is
    asked meanwhile, and the outcome (``submitted``, ``submit_failed``) is queued behind it,
    so a carrier that answers fast has both written in one batch, with one write of the
    message's row instead of two."""

    message: Message
    sms: OutboundSms
    sending: asyncio.Future[tuple[bool, int | None]] | None = None


class CallbackHandoff(Protocol):
    """This process's webhook sender (smsgate.webhooks.sender), as the delivery service
    sees it: a status callback may be inserted leased to it and handed over at once."""

    owner: str
    lease_us: int

    def has_room(self) -> bool:
        """Whether it can start another callback now."""
        ...

    def take(self, claimed: ClaimedCallback) -> None:
        """Send a callback the store leased to ``owner`` as it inserted it."""
        ...


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
        media: MediaService | None = None,
        handoff: CallbackHandoff | None = None,
    ) -> None:
        """``media`` fetches MediaUrls before a message is submitted (without it, media
        URLs go to the carrier as they were given).

        ``handoff`` gets the status callbacks that can go out at once: one whose message
        has no earlier callback still in the outbox is inserted leased to it and handed
        over, so it needs no claim (a write, and the wait for it); the others wait in the
        outbox for the sender's claims, in order, as before."""
        self._handoff = handoff
        self._media = media
        self._assigner = SenderAssigner(store, sender_mps=sender_mps)
        self._targets = TargetCache(store, clock)
        self._prices = prices or PriceTable.parse(DEFAULT_TABLE)
        self._store = store
        self._clock = clock
        self._lease_us = int(lease_seconds * 1_000_000)
        self.max_attempts = max_attempts
        # Carrier ids whose `sent` this process is recording: done once it is (see receipt).
        self._recording: dict[str, asyncio.Future[None]] = {}
        self.sent = SentMemory()

    def _now_us(self) -> int:
        return self._clock.now_us()

    async def claim(self, owner: str, limit: int) -> list[DeliveryJob]:
        """Lease up to ``limit`` due jobs; a crashed owner's leases expire and are re-claimed."""
        return await self._store.claim_jobs(owner, self._now_us(), self._lease_us, limit)

    async def expire_jobs(self, owner: str, limit: int = 100) -> int:
        """Fail queued messages past their validity period (30036) without waiting for
        their turn: a slow sender's backlog, or everything while the carrier is down."""
        jobs = await self._store.claim_expired_jobs(owner, self._now_us(), self._lease_us, limit)
        messages = await self.messages_of(jobs)
        for job in jobs:
            # finds it expired: fails it and ends the job
            await self.start(job, messages.get(job.message_sid))
        return len(jobs)

    async def messages_of(self, jobs: list[DeliveryJob]) -> dict[str, Message]:
        """The messages of claimed jobs, read at once (``start`` takes each)."""
        if not jobs:
            return {}
        return await self._store.get_messages_by_sid([job.message_sid for job in jobs])

    async def start(
        self, job: DeliveryJob, message: Message | None = None
    ) -> tuple[Message, OutboundSms] | PendingMedia | None:
        """``begin``, and wait until ``sending`` is written: the message as ``sending`` and
        what to submit. None when there is nothing to submit."""
        started = await self.begin(job, message)
        if not isinstance(started, Started):
            return started
        if started.sending is None:
            return started.message, started.sms
        if not (await started.sending)[0]:
            return None
        changed = await self._store.get_message_by_sid(started.message.sid)
        return None if changed is None else (changed, started.sms)

    async def begin(
        self, job: DeliveryJob, message: Message | None = None
    ) -> Started | PendingMedia | None:
        """Queue the message's ``sending`` change (or expire it); None when there is
        nothing to submit, PendingMedia when its media must be stored first
        (``fetch_media``). ``message`` is the job's message as read since the claim
        (``messages_of``); without it, it is read here. The claim has counted the attempt,
        so a process that stops before ``sending`` is written submits again only as the
        next attempt, as when it stops before ``sent`` is."""
        if message is None or message.sid != job.message_sid:
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
        if await self._needs_media(message):
            return PendingMedia(job, message)
        sending = None
        if message.status is not Status.SENDING:
            change = Transition(message.sid, READY, Status.SENDING, now)
            sending = await self._queue(message, Status.SENDING, change)
            sending.add_done_callback(_retrieved)
        resume = None
        if message.num_segments > 1:
            resume = await self._store.get_submit_progress(message.sid)
        sms = OutboundSms(
            message_sid=message.sid,
            account_sid=message.account_sid,
            to=message.to,
            from_=message.from_ or "",
            body=message.body,
            media_urls=tuple(message.media_urls),
            num_segments=message.num_segments,
            attempt=job.attempt,
            resume=resume,
        )
        return Started(message, sms, sending)

    async def sending_done(self, started: Started) -> None:
        """Wait for the ``sending`` change ``begin`` queued, once the outcome is queued
        behind it; a message that had changed meanwhile (it was not written) is logged,
        and then nothing queued behind it applied either."""
        if started.sending is None:
            return
        try:
            changed, _ = await started.sending
        except Exception:  # logged as it failed (_retrieved); the lease brings the job back
            return
        if not changed:
            logger.warning(
                "message %s was submitted, but had changed before it was marked sending",
                started.message.sid,
            )

    async def _needs_media(self, message: Message) -> bool:
        return (
            self._media is not None
            and message.num_media > 0
            and message.direction is not Direction.INBOUND
            and not await self._store.has_media(message.sid)
        )

    async def fetch_media(self, pending: PendingMedia) -> None:
        """Fetch and store a message's media; the job is due again once they are stored
        (media and job change in one transaction). Media that cannot be used fail the
        message with Twilio's code (11200, 11215, 12300, 30019). The fetch ends within
        half the lease, so no other worker takes the job over meanwhile."""
        assert self._media is not None
        message = pending.message
        try:
            staged = await self._media.fetch_all(message.media_urls)
        except MediaProblem as problem:
            logger.warning("message %s failed: media %s (%s)", message.sid, problem.code, problem)
            await self._fail(message, problem.code, self._now_us(), from_=READY)
            return
        try:
            now = self._clock.now()
            records = self._media.records(message.account_sid, message.sid, staged, now)
            await self._store.attach_media(message.sid, records, staged, to_us(now))
        finally:
            self._media.discard(staged)

    async def defer(self, job: DeliveryJob) -> None:
        """Put a claimed job back for a moment without counting the attempt (the worker
        is fetching as much media as it may at once)."""
        await self._retry_later(job.message_sid, Status.QUEUED, MEDIA_DEFER_US, job.attempt - 1)

    async def record_parts(self, message_sid: str, progress: SubmitProgress) -> None:
        """The carrier confirmed some parts of a split message: a later attempt resumes
        after them instead of sending them twice."""
        await self._store.save_submit_progress(message_sid, progress)

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
        """The carrier accepted the message: ``sent``, and the job leaves the queue.

        A receipt that comes while this is recorded waits for it (``receipt``); receipts
        that came before (parked) are applied once it is recorded.
        """
        part_ids = result.part_ids or (result.carrier_id,)
        recorded = asyncio.get_running_loop().create_future()
        for carrier_id in part_ids:
            self._recording[carrier_id] = recorded
        try:
            applied = await self._record_sent(message, result, part_ids)
            if applied and len(part_ids) == 1:
                # What its callbacks are built from does not change once it is sent.
                self.sent.remember(part_ids[0], message)
        finally:
            for carrier_id in part_ids:
                if self._recording.get(carrier_id) is recorded:
                    del self._recording[carrier_id]
            recorded.set_result(None)
        if not applied:
            return
        for carrier_id, parked in await self._store.parked_receipts(part_ids):
            ref = CarrierRef(carrier_id, message.sid, part_ids.index(carrier_id) + 1, len(part_ids))
            await self._apply_parked(ref, parked)

    async def _record_sent(
        self, message: Message, result: SubmitResult, part_ids: tuple[str, ...]
    ) -> bool:
        now = self._now_us()
        due = (
            None
            if result.receipt_timeout is None
            else now + int(result.receipt_timeout * 1_000_000)
        )
        return await self._apply(
            message,
            Status.SENT,
            Transition(
                message.sid,
                frozenset({Status.SENDING}),
                Status.SENT,
                now,
                date_sent_us=now,
                carrier_id=result.carrier_id,
                part_ids=part_ids,
                num_segments=result.parts if result.parts != message.num_segments else None,
                price=self._prices.price(message.to, result.parts),
                price_unit=UNIT,
                job=JobAction.DONE,
                receipt_due_us=due,
            ),
        )

    async def _apply_parked(self, ref: CarrierRef, parked: ParkedReceipt) -> None:
        """Apply a parked receipt, then remove it. A failure leaves it parked, and the
        sweep (``recover_parked_receipts``) applies it later."""
        try:
            await self._apply_receipt(ref, parked.status, parked.error_code, parked.done_date)
            await self._store.drop_parked_receipts((ref.carrier_id,))
        except StoreUnavailable as exc:
            logger.warning("parked receipt %s not applied yet (%s)", ref.carrier_id, exc)

    async def recover_parked_receipts(self, limit: int = 100) -> int:
        """Apply parked receipts whose submit was recorded by a process that stopped before
        applying them, and drop those that matched nothing for ``PARKED_RETENTION_US``.
        Returns how many were applied."""
        now = self._now_us()
        orphans = await self._store.orphaned_receipts(now - ORPHAN_AGE_US, limit)
        for ref, parked in orphans:
            logger.info("applying receipt %s parked before a crash", ref.carrier_id)
            await self._apply_parked(ref, parked)
        forgotten = await self._store.forget_parked_receipts(now - PARKED_RETENTION_US, limit)
        if forgotten:
            logger.warning("dropped %d receipts that matched no message for a day", forgotten)
        return len(orphans)

    async def submit_failed(self, job: DeliveryJob, message: Message, error: Exception) -> None:
        """A temporary error is retried with backoff; a permanent one fails the message.

        A temporary error that is not the message's fault (no bind, throttling) does not use
        up an attempt.
        """
        now = self._now_us()
        temporary = isinstance(error, TemporaryError) or not isinstance(error, ConnectorError)
        counts = not isinstance(error, TemporaryError) or error.counts
        code = error.code if isinstance(error, ConnectorError) else 30008
        if temporary and (not counts or job.attempt < self.max_attempts):
            delay_us = int(retry_delay(job.attempt if counts else 1) * 1_000_000)
            logger.info("retrying %s after %s: %s", message.sid, delay_us / 1e6, error)
            attempt = None if counts else job.attempt - 1
            await self._retry_later(message.sid, Status.SENDING, delay_us, attempt)
            return
        logger.warning("message %s failed: %s", message.sid, error)
        await self._fail(message, code, now, from_=frozenset({Status.SENDING}))

    async def _retry_later(
        self, sid: str, status: Status, delay_us: int, attempt: int | None
    ) -> None:
        """Back to the queue in ``status``, due after ``delay_us``; ``attempt`` None counts
        the attempt, a number sets it (so a retry that is not the message's fault is free)."""
        now = self._now_us()
        await self._store.apply_transition(
            Transition(
                sid,
                frozenset({status}),
                status,
                now,
                job=JobAction.RETRY,
                retry_at_us=now + delay_us,
                attempt=attempt,
            )
        )

    async def receipt(self, receipt: Receipt) -> None:
        """A delivery receipt: ``delivered``, ``undelivered`` or ``failed``.

        An SMSC may send the receipt right behind the submit_sm_resp, before ``sent`` is
        recorded. When this process is recording it, the receipt waits for that; otherwise
        one that matches no submit yet is parked durably and applied when the submit is
        recorded (two more writes and a read, which under load were most receipts' path).
        """
        keys = (receipt.carrier_id, *receipt.alternatives)
        recording = next((self._recording[k] for k in keys if k in self._recording), None)
        if recording is not None:
            await asyncio.shield(recording)
        done = raw_dlr_done_date(receipt.done_date)
        known = self.sent.take(keys)
        if known is not None:
            await self._apply_receipt(known[0], receipt.status, receipt.error_code, done, known[1])
            return
        ref = await self._store.find_carrier_ref(keys)
        if ref is None:
            parked = ParkedReceipt(keys, receipt.status, receipt.error_code, done, self._now_us())
            ref = await self._store.park_receipt(parked)
            if ref is None:
                logger.info("receipt for %s matches no message yet; kept", receipt.carrier_id)
                return
        await self._apply_receipt(ref, receipt.status, receipt.error_code, done)

    async def _apply_receipt(
        self,
        ref: CarrierRef,
        outcome: str,
        error_code: int | None,
        done: str | None,
        message: Message | None = None,
    ) -> None:
        """``message``, when given, is the message as this process recorded it ``sent``."""
        if ref.parts > 1:
            combined = combined_status(await self._store.mark_part(ref.carrier_id, outcome))
            if combined is None:
                return  # other parts are still on their way
            outcome = combined
        if message is None:
            message = await self._store.get_message_by_sid(ref.message_sid)
        if message is None:
            return
        status = RECEIPT_STATUSES[outcome]
        code = error_code if status is not Status.DELIVERED else None
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

    async def expire_receipts(self, limit: int = 100) -> int:
        """``sent`` messages whose receipt never came by their deadline: ``undelivered``
        with 30008. Returns how many were due."""
        now = self._now_us()
        due = await self._store.claim_receipt_waits(now, self._lease_us, limit)
        for sid in due:
            message = await self._store.get_message_by_sid(sid)
            if message is None:
                await self._store.drop_receipt_wait(sid)
                continue
            changed = await self._apply(
                message,
                Status.UNDELIVERED,
                Transition(
                    sid,
                    frozenset({Status.SENT}),
                    Status.UNDELIVERED,
                    now,
                    error_code=NO_RECEIPT,
                    error_message=error_message(NO_RECEIPT),
                ),
            )
            if not changed:
                await self._store.drop_receipt_wait(sid)  # settled meanwhile
        return len(due)

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
    ) -> bool:
        """Queue ``change`` and wait until it is written: whether it applied."""
        applied, _ = await (await self._queue(message, status, change, raw_done_date=raw_done_date))
        return applied

    async def _queue(
        self,
        message: Message,
        status: Status,
        change: Transition,
        *,
        raw_done_date: str | None = None,
    ) -> asyncio.Future[tuple[bool, int | None]]:
        """Queue ``change`` with its callback in the store (Store.queue_transition: in
        order with this process's later changes); the future says whether it applied (and
        the outbox id of a callback inserted leased) once it is written, and a callback
        inserted leased goes to the sender then, before anyone awaiting it resumes."""
        callback = await self._callback_for(message, status, change.error_code, raw_done_date)
        handoff = self._handoff
        lease = None
        if callback is not None and handoff is not None and handoff.has_room():
            lease = CallbackLease(handoff.owner, change.now_us + handoff.lease_us)
        written = self._store.queue_transition(
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
                part_ids=change.part_ids,
                num_segments=change.num_segments,
                receipt_due_us=change.receipt_due_us,
                lease=lease,
            )
        )
        if lease is not None and callback is not None and handoff is not None:
            written.add_done_callback(functools.partial(_hand_over, callback, handoff))
        return written

    async def _callback_for(
        self, message: Message, status: Status, error_code: int | None, raw_done_date: str | None
    ) -> Callback | None:
        """The status callback owed for this change: the message's URL, else its Messaging
        Service's, else its number's."""
        return await status_callback(
            self._targets, message, status, error_code=error_code, raw_done_date=raw_done_date
        )


def _hand_over(
    callback: Callback, handoff: CallbackHandoff, written: asyncio.Future[tuple[bool, int | None]]
) -> None:
    """A change's callback that was inserted leased goes to the sender."""
    if written.cancelled() or written.exception() is not None:
        return
    outbox_id = written.result()[1]
    if outbox_id is not None:
        handoff.take(ClaimedCallback(outbox_id, callback, 1))


def _retrieved(task: asyncio.Future[tuple[bool, int | None]]) -> None:
    """A ``sending`` change is awaited by whoever records the outcome; when nobody does
    (the worker stopped in between), its failure is logged here rather than lost."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.warning("a sending change was not written: %s", exc)
