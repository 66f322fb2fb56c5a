"""Deliver owed webhooks from the durable outbox: signed, bounded in time, retried, logged.

Callbacks of one message go out in order: the store hands out only the oldest pending
callback of each message, so a retrying callback holds back the later ones of its message
and no other message. Every attempt is logged with its outcome. The URL fragment
(``#ct=…&rt=…&tt=…&rc=…&rp=…``) overrides timeouts and retries and is never sent.

A callback that fails for good (no retry left) is sent once to its fallback URL, if it has
one (an inbound message's ``SmsFallbackUrl``); both requests are logged. A request fails when
it cannot connect, times out, is redirected too often, answers other than 2xx, or answers
2xx with something the ``ResponseHandler`` rejects (an inbound webhook's malformed TwiML).
The answer (status, content type and at most ``MAX_RESPONSE_BYTES`` of body) goes with the
result to that injected handler, which records both (and turns TwiML into replies).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import replace
from typing import Protocol

from smsgate.clock import Clock, TtlCache
from smsgate.domain.accounts import Account
from smsgate.domain.delivery import CallbackAttempt, CallbackResult, ClaimedCallback
from smsgate.domain.inbound import MAX_RESPONSE_BYTES, WebhookResponse
from smsgate.domain.values import value
from smsgate.store.base import Store, StoreUnavailable
from smsgate.webhooks import http as webhook_http
from smsgate.webhooks import overrides, signing

logger = logging.getLogger(__name__)
# How long an account's auth token read for signing is used before it is read again.
TOKEN_TTL_US = 1_000_000
# The longest an idle loop waits before it looks at the store again (see _idle).
IDLE_MAX = 0.25
USER_AGENT = "TwilioProxy/1.1 (smsgate)"
HEAD_BYTES = 512


class ResponseHandler(Protocol):
    """Judges and records a finished attempt and acts on the receiver's answer (an inbound
    webhook's TwiML). Injected by the CLI, so that webhooks/ never builds messages itself."""

    def rejects(self, item: ClaimedCallback, response: WebhookResponse) -> str | None:
        """Why a 2xx ``response`` still fails its request (an inbound webhook's answer that is
        not a TwiML document: ``12100: …``), or None when it is acceptable."""
        ...

    async def finish(
        self, item: ClaimedCallback, result: CallbackResult, response: WebhookResponse | None
    ) -> None: ...


class WebhookSender:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        defaults: overrides.Overrides | None = None,
        concurrency: int = 256,
        idle_poll: float = 0.05,
        lease_seconds: float = 60.0,
        responses: ResponseHandler | None = None,
        http: webhook_http.HttpClient | None = None,
    ) -> None:
        """``responses`` records each attempt and acts on the answer; without it attempts
        are only recorded in the store."""
        self._store = store
        self._clock = clock
        self._defaults = defaults or overrides.Overrides()
        self._concurrency = concurrency
        self._idle_poll = idle_poll
        # Polls that find nothing back off (doubling up to IDLE_MAX): an idle process makes
        # a few store calls a second, not twenty. Work found, or a wake(), resets it.
        self._idle_wait = idle_poll
        self.lease_us = int(lease_seconds * 1_000_000)
        # the HTTP client while run() runs (take() hands callbacks to it), else None
        self._running: webhook_http.HttpClient | None = None
        self._batch = max(1, concurrency // 4)
        self._responses = responses
        self._http = http or webhook_http.InProcessClient(concurrency, USER_AGENT)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._requesting = 0  # callbacks claimed whose requests are not over yet
        self._wake = asyncio.Event()
        self.owner = f"webhooks-{secrets.token_hex(4)}"
        # Messages with a callback going out here, and the callbacks of each that were
        # handed over behind it (take), with when (loop time): sent one after the other.
        self._chains: dict[str, list[tuple[ClaimedCallback, float]]] = {}
        # Messages whose callback went back to the outbox to be retried later, until when
        # (loop time): one handed over behind it meanwhile goes back too (see take).
        self._held_back: dict[str, float] = {}
        self._accounts: TtlCache[str, Account] = TtlCache(clock, TOKEN_TTL_US)

    def wake(self) -> None:
        self._wake.set()

    def nudge(self) -> None:
        """Callbacks may have been queued in this process: look now if the loop has backed
        off (while it is busy, its own pace is kept)."""
        if self._idle_wait > self._idle_poll:
            self._wake.set()

    def has_room(self) -> bool:
        """Whether a callback handed over now (``take``) would start at once."""
        return self._running is not None and self._requesting < self._concurrency

    def take(self, claimed: ClaimedCallback) -> None:
        """Send a callback that the store leased to ``owner`` as it inserted it, as if this
        sender had claimed it: at once when no earlier callback of its message was waiting,
        else after the earlier ones, which are this sender's own. Stopped, it leaves it: the
        lease runs out and a claim takes it."""
        if self._running is None:
            return
        sid = claimed.callback.message_sid
        loop = asyncio.get_running_loop()
        chain = self._chains.get(sid)
        if chain is not None:
            chain.append((claimed, loop.time()))
        elif self._held_back.get(sid, 0.0) > loop.time():
            # Leased behind a callback that has since gone back to be retried later.
            self._release([claimed])
        else:
            self._start(self._running, claimed)

    def _start(self, http: webhook_http.HttpClient, item: ClaimedCallback) -> None:
        sid = item.callback.message_sid
        self._chains.setdefault(sid, [])
        # A callback of it goes out here again (the retry, claimed): later ones chain to it.
        self._held_back.pop(sid, None)
        self._requesting += 1
        task = asyncio.create_task(self._send(http, item))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def run(self, stop: asyncio.Event) -> None:
        http = self._http
        await http.start()
        self._running = http
        try:
            while not stop.is_set():
                free = self._concurrency - self._requesting
                claimed: list[ClaimedCallback] = []
                # Claim in batches: after a claim the loop waits for a quarter of its slots
                # to come free (_request_done wakes it), not for every single one.
                if free >= self._batch or not self._requesting:
                    now = self._clock.now_us()
                    try:
                        claimed = await self._store.claim_callbacks(
                            self.owner, now, self.lease_us, free
                        )
                    except StoreUnavailable as exc:
                        # The database is away: claim again at the next poll, until it is back.
                        logger.warning("cannot claim webhooks: %s; will try again", exc)
                for item in claimed:
                    self._start(http, item)
                if claimed:
                    self._idle_wait = self._idle_poll
                else:
                    await self._idle(stop)
        finally:
            self._running = None
            while self._in_flight:  # what they start meanwhile (give-backs) too
                await asyncio.gather(*self._in_flight, return_exceptions=True)
            await http.close()

    def _request_done(self) -> None:
        """A claimed callback's requests are over; recording it does not hold a slot."""
        self._requesting -= 1
        if self._concurrency - self._requesting >= self._batch:
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

    async def _send(self, http: webhook_http.HttpClient, item: ClaimedCallback) -> None:
        recorded = None
        try:
            try:
                result, response = await self._attempt(http, item)
            finally:
                self._request_done()
            if self._responses is not None:
                await self._responses.finish(item, result, response)
            else:
                await self._store.finish_callback(result)
            recorded = result
        except Exception:
            logger.exception("webhook %s could not be recorded; its lease will expire", item.id)
        self._next(item.callback.message_sid, recorded)

    def _next(self, sid: str, recorded: CallbackResult | None) -> None:
        """A callback of message ``sid`` is over (``recorded``, or None when its result could
        not be recorded): start the next one handed over behind it. When this one is due
        again later, or it is not recorded, or this sender stops, they go back to the
        outbox instead: a claim hands them out behind it, in order. So does one whose lease
        may run out while it goes out."""
        followers = self._chains.pop(sid, [])
        loop = asyncio.get_running_loop()
        if recorded is not None and recorded.retry_at_us is not None:
            now = loop.time()
            if len(self._held_back) > 1024:
                self._held_back = {k: v for k, v in self._held_back.items() if v > now}
            self._held_back[sid] = now + self.lease_us / 2_000_000
        if not followers:
            return
        (first, taken), rest = followers[0], followers[1:]
        stale = loop.time() - taken >= self.lease_us / 2_000_000
        if self._running is None or recorded is None or recorded.retry_at_us is not None or stale:
            self._release([item for item, _ in followers])
        else:
            self._chains[sid] = rest
            self._start(self._running, first)

    def _release(self, items: list[ClaimedCallback]) -> None:
        task = asyncio.create_task(self._give_back(items))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _give_back(self, items: list[ClaimedCallback]) -> None:
        ids = [item.id for item in items]
        try:
            await self._store.release_callbacks(ids, self.owner, self._clock.now_us())
        except Exception:
            logger.exception("webhooks %s could not be given back; their leases will expire", ids)
        self._wake.set()

    async def _auth_token(self, account_sid: str) -> str:
        """The token that signs this account's requests: read once for every request that
        needs it at the same time, and kept for TOKEN_TTL_US (a busy sender signs thousands
        of requests a second for a handful of accounts; each read is a round trip on
        PostgreSQL). A rotated token signs within that time."""
        account = await self._accounts.get(
            account_sid, lambda: self._store.get_account(account_sid)
        )
        return account.auth_token if account is not None else ""

    async def _attempt(
        self, http: webhook_http.HttpClient, item: ClaimedCallback
    ) -> tuple[CallbackResult, WebhookResponse | None]:
        """Request the URL; when that fails for good, the fallback URL (once, right away)."""
        cb = item.callback
        first = await self._request(http, item, cb.url, cb.method)
        if first.ok:
            return CallbackResult(first.attempt, True), first.response
        self._log_failure(first.attempt)
        if first.retry:
            delay_us = 1_000_000 * 2 ** (item.attempt - 1)
            return CallbackResult(first.attempt, False, self._clock.now_us() + delay_us), None
        if not cb.fallback_url:
            return CallbackResult(first.attempt, False), first.response
        second = await self._request(http, item, cb.fallback_url, cb.fallback_method)
        if not second.ok:
            self._log_failure(second.attempt)
        return CallbackResult(first.attempt, second.ok, fallback=second.attempt), second.response

    async def _request(
        self, http: webhook_http.HttpClient, item: ClaimedCallback, target: str, method: str
    ) -> _Outcome:
        cb = item.callback
        started = self._clock.now_us()
        try:
            url, opts = overrides.split(target, self._defaults)
        except overrides.OverrideError as exc:
            attempt = CallbackAttempt(item.id, item.attempt, target, started, 0, None, None, "")
            return _Outcome(replace(attempt, error=f"11243: {exc}"), False, False, None)
        token = await self._auth_token(cb.account_sid)
        headers = {"I-Twilio-Idempotency-Token": f"smsgate-{item.id}"}
        send_to = url
        if method.upper() == "GET":
            send_to = webhook_http.form_url(url, cb.params)
            headers[signing.HEADER] = signing.signature(token, send_to)
        else:
            headers[signing.HEADER] = signing.signature(token, url, cb.params)
        clock_start = time.perf_counter()
        answer: WebhookResponse | None = None
        error: str | None = None
        kind = "all"
        try:
            answer = await http.request(
                method,
                send_to,
                cb.params,
                headers,
                connect_s=opts.connect_timeout_ms / 1000,
                read_s=opts.read_timeout_ms / 1000,
                total_s=opts.total_timeout_ms / 1000,
                limit=MAX_RESPONSE_BYTES,
            )
        except webhook_http.Failure as exc:
            error, kind = exc.text, exc.kind
        duration = int((time.perf_counter() - clock_start) * 1000)
        status = answer.status_code if answer is not None else None
        head = answer.body[:HEAD_BYTES].decode("utf-8", "replace") if answer is not None else ""
        ok = status is not None and 200 <= status < 300
        if status is not None and not ok:
            kind = "4xx" if status < 500 else "5xx"
        if ok and answer is not None and self._responses is not None:
            # A 2xx answer the handler cannot use (TwiML that does not parse) fails the
            # request too; only the "all" retry policy retries it.
            problem = self._responses.rejects(item, answer)
            if problem is not None:
                ok, error, kind = False, problem, "document"
        attempt = CallbackAttempt(
            item.id, item.attempt, url, started, duration, status, error, head
        )
        return _Outcome(attempt, ok, not ok and _may_retry(item.attempt, opts, kind), answer)

    @staticmethod
    def _log_failure(attempt: CallbackAttempt) -> None:
        error = attempt.error or f"HTTP {attempt.status_code}"
        # Errors that carry their own Debugger code (12100 …) say so; the rest are 11200.
        coded = error[:5].isdigit() and error[5:6] == ":"
        logger.warning(
            "webhook %s attempt %d to %s: %s%s",
            attempt.callback_id,
            attempt.attempt,
            attempt.url,
            error,
            "" if coded else " (Debugger 11200)",
        )


@value
class _Outcome:
    attempt: CallbackAttempt
    ok: bool
    retry: bool
    response: WebhookResponse | None


def _may_retry(attempt: int, opts: overrides.Overrides, kind: str) -> bool:
    if attempt > opts.retry_count:
        return False
    return "all" in opts.retry_policy or kind in opts.retry_policy
