"""The delivery loop: claim due messages, submit them to the carrier, record what happened.

Runs inside ``smsgate serve`` by default, or alone as ``smsgate worker``. Jobs are leased in
the store, so a worker that dies mid-flight loses nothing: its leases expire and another
claim picks the messages up again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from smsgate.connectors.base import (
    Connector,
    InboundHandler,
    InboundSms,
    PartRecorder,
    Receipt,
    SubmitProgress,
    TemporaryError,
)
from smsgate.domain.delivery import DeliveryJob
from smsgate.domain.messages import Message
from smsgate.services.delivery import DeliveryService, PendingMedia, Started
from smsgate.store.base import StoreUnavailable

logger = logging.getLogger(__name__)
# The longest an idle loop waits before it looks at the store again (see _idle).
IDLE_MAX = 0.25


class Dispatcher:
    def __init__(
        self,
        delivery: DeliveryService,
        connector: Connector,
        *,
        concurrency: int = 1024,
        idle_poll: float = 0.05,
        submit_timeout: float = 15.0,
        on_inbound: InboundHandler | None = None,
        sweep_every: float = 1.0,
        media_concurrency: int = 32,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        """``submit_timeout`` must stay below the job lease, so that a job is never
        submitted by two workers for the same attempt. ``on_inbound`` takes the messages
        the carrier receives (smsgate.services.inbound).

        Media are fetched outside the ``concurrency`` submit slots, at most
        ``media_concurrency`` messages at once: a slow media host holds a fetch slot, never
        a submit slot, so other messages keep going out. A message whose media cannot start
        fetching yet goes back to the queue for a second.

        ``on_progress`` is called whenever a message may have changed status here (a
        delivery step ended, a receipt came): the webhook sender's ``nudge``."""
        self._delivery = delivery
        self._connector = connector
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._batch = max(1, concurrency // 4)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._fetching: set[asyncio.Task[None]] = set()
        self._media_concurrency = media_concurrency
        self._idle_poll = idle_poll
        # Polls that find nothing back off (doubling up to IDLE_MAX): an idle process makes
        # a few store calls a second, not twenty. Work found, or a wake(), resets it.
        self._idle_wait = idle_poll
        self._submit_timeout = submit_timeout
        self._on_inbound = on_inbound
        self._on_progress = on_progress or (lambda: None)
        self._sweep_every = sweep_every
        self._wake = asyncio.Event()
        self.owner = f"worker-{secrets.token_hex(4)}"
        # Submits under way, by the task that awaits each, with their deadlines (loop time);
        # and those the watchdog (_watch) cancelled for passing it.
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._timed_out: set[asyncio.Task[Any]] = set()

    def wake(self) -> None:
        """New work was enqueued in this process: claim without waiting for the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        await self._connector.start(self._receipt, self._inbound)
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        watchdog = asyncio.create_task(self._watch())
        try:
            while not stop.is_set():
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + self._sweep_every
                    await self._sweep()
                free = self._concurrency - len(self._in_flight)
                # Claim in batches: with every slot busy, wait for a quarter of them to come
                # free (_done wakes the loop) rather than claiming one job at a time. While
                # the carrier cannot submit (no bind), messages wait in the queue.
                jobs: list[DeliveryJob] = []
                messages: dict[str, Message] = {}
                batch_free = free >= self._batch or not self._in_flight
                if free > 0 and batch_free and self._connector.ready():
                    try:
                        jobs = await self._delivery.claim(self.owner, free)
                        messages = await self._delivery.messages_of(jobs)
                    except StoreUnavailable as exc:
                        # The database is away: claim again at the next poll, until it is back.
                        logger.warning("cannot claim messages: %s; will try again", exc)
                for job in jobs:
                    task = asyncio.create_task(self._deliver(job, messages.get(job.message_sid)))
                    self._in_flight.add(task)
                    task.add_done_callback(self._done)
                if jobs:
                    self._idle_wait = self._idle_poll
                else:
                    await self._idle(stop)
        finally:
            for task in self._fetching:
                task.cancel()  # the lease runs out and the fetch starts over
            await asyncio.gather(*self._in_flight, *self._fetching, return_exceptions=True)
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
            await self._connector.close()

    async def _watch(self) -> None:
        """Cancel the submits that pass their deadline (``submit_timeout``), checked a few
        times per timeout over the submits under way. One timer for every submit: an
        ``asyncio.timeout`` each (a timer to set, move and cancel for every message) was
        5% of the worker's event loop. A submit ends at most a quarter of the timeout (at
        most a second) after its deadline."""
        loop = asyncio.get_running_loop()
        period = min(1.0, self._submit_timeout / 4)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for task, deadline in list(self._deadlines.items()):
                if deadline <= now and task not in self._timed_out:
                    self._timed_out.add(task)
                    task.cancel()

    async def _sweep(self) -> None:
        """Apply receipts a stopped process left parked, then give up on receipts that never
        came and on messages past their validity (bounded work per sweep)."""
        try:
            await self._delivery.recover_parked_receipts()
            await self._delivery.expire_receipts()
            await self._delivery.expire_jobs(self.owner)
            self._on_progress()
        except Exception:
            logger.exception("expiring overdue receipts failed; will try again")

    async def _receipt(self, receipt: Receipt) -> None:
        await self._delivery.receipt(receipt)
        self._on_progress()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._on_progress()
        if self._concurrency - len(self._in_flight) >= self._batch:
            self._wake.set()

    async def _idle(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=self._idle_wait, return_when="FIRST_COMPLETED")
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._wake.is_set():
            self._idle_wait = self._idle_poll
        else:
            self._idle_wait = min(self._idle_wait * 2, IDLE_MAX)

    async def _deliver(self, job: DeliveryJob, message: Message | None) -> None:
        try:
            started = await self._delivery.begin(job, message)
            if started is None:
                return
            if isinstance(started, PendingMedia):
                await self._fetch(started)
                return
            try:
                await self._submit(job, started)
            finally:
                await self._delivery.sending_done(started)
        except Exception:
            # The lease expires and the job is claimed again; nothing is lost.
            logger.exception("delivering %s failed; it will be retried", job.message_sid)

    async def _submit(self, job: DeliveryJob, started: Started) -> None:
        """Ask the carrier while ``sending`` is being written, and queue the outcome behind
        it (DeliveryService.begin)."""
        message, sms = started.message, started.sms
        task = asyncio.current_task()
        assert task is not None
        self._deadlines[task] = asyncio.get_running_loop().time() + self._submit_timeout
        error: Exception | None = None
        try:
            result = await self._connector.submit(sms, self._recorder(sms.message_sid))
        except asyncio.CancelledError:
            if task not in self._timed_out:
                raise  # the worker stops
            task.uncancel()
            error = TemporaryError(30008, "The carrier did not answer the submit in time")
        except Exception as exc:
            error = exc
        finally:
            # before anything else is awaited: the watchdog cancels only submits
            del self._deadlines[task]
            self._timed_out.discard(task)
        if error is not None:
            await self._delivery.submit_failed(job, message, error)
            return
        await self._delivery.submitted(message, result)

    async def _fetch(self, pending: PendingMedia) -> None:
        if len(self._fetching) >= self._media_concurrency:
            await self._delivery.defer(pending.job)
            return
        task = asyncio.create_task(self._fetch_media(pending))
        self._fetching.add(task)
        task.add_done_callback(self._fetching.discard)

    async def _fetch_media(self, pending: PendingMedia) -> None:
        try:
            await self._delivery.fetch_media(pending)
        except Exception:
            logger.exception(
                "fetching the media of %s failed; it will be retried", pending.job.message_sid
            )
        self.wake()  # the job is due again (or the message failed)

    def _recorder(self, message_sid: str) -> PartRecorder:
        async def record(progress: SubmitProgress) -> None:
            await self._delivery.record_parts(message_sid, progress)

        return record

    async def _inbound(self, sms: InboundSms) -> None:
        if self._on_inbound is None:
            logger.warning("inbound message from %s to %s ignored: no handler", sms.from_, sms.to)
            return
        await self._on_inbound(sms)
