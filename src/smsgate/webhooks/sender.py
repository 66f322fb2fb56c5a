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
from dataclasses import dataclass, replace
from typing import Protocol
from urllib.parse import urlencode

import httpx

from smsgate.clock import Clock
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import CallbackAttempt, CallbackResult, ClaimedCallback
from smsgate.domain.inbound import MAX_RESPONSE_BYTES, WebhookResponse
from smsgate.store.base import Store
from smsgate.webhooks import overrides, signing

logger = logging.getLogger(__name__)
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
        concurrency: int = 64,
        idle_poll: float = 0.05,
        lease_seconds: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        responses: ResponseHandler | None = None,
    ) -> None:
        """``responses`` records each attempt and acts on the answer; without it attempts
        are only recorded in the store."""
        self._store = store
        self._clock = clock
        self._defaults = defaults or overrides.Overrides()
        self._concurrency = concurrency
        self._idle_poll = idle_poll
        self._lease_us = int(lease_seconds * 1_000_000)
        self._transport = transport
        self._responses = responses
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.owner = f"webhooks-{secrets.token_hex(4)}"

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": USER_AGENT},
            transport=self._transport,
            limits=httpx.Limits(max_connections=self._concurrency),
        ) as http:
            try:
                while not stop.is_set():
                    free = self._concurrency - len(self._in_flight)
                    now = to_us(self._clock.now())
                    claimed = (
                        await self._store.claim_callbacks(self.owner, now, self._lease_us, free)
                        if free > 0
                        else []
                    )
                    for item in claimed:
                        task = asyncio.create_task(self._send(http, item))
                        self._in_flight.add(task)
                        task.add_done_callback(self._in_flight.discard)
                    if not claimed:
                        await self._idle(stop)
            finally:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _idle(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=self._idle_poll, return_when="FIRST_COMPLETED")
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _send(self, http: httpx.AsyncClient, item: ClaimedCallback) -> None:
        try:
            result, response = await self._attempt(http, item)
            if self._responses is not None:
                await self._responses.finish(item, result, response)
            else:
                await self._store.finish_callback(result)
        except Exception:
            logger.exception("webhook %s could not be recorded; its lease will expire", item.id)

    async def _attempt(
        self, http: httpx.AsyncClient, item: ClaimedCallback
    ) -> tuple[CallbackResult, WebhookResponse | None]:
        """Request the URL; when that fails for good, the fallback URL (once, right away)."""
        cb = item.callback
        first = await self._request(http, item, cb.url, cb.method)
        if first.ok:
            return CallbackResult(first.attempt, True), first.response
        self._log_failure(first.attempt)
        if first.retry:
            delay_us = 1_000_000 * 2 ** (item.attempt - 1)
            return CallbackResult(first.attempt, False, to_us(self._clock.now()) + delay_us), None
        if not cb.fallback_url:
            return CallbackResult(first.attempt, False), first.response
        second = await self._request(http, item, cb.fallback_url, cb.fallback_method)
        if not second.ok:
            self._log_failure(second.attempt)
        return CallbackResult(first.attempt, second.ok, fallback=second.attempt), second.response

    async def _request(
        self, http: httpx.AsyncClient, item: ClaimedCallback, target: str, method: str
    ) -> _Outcome:
        cb = item.callback
        started = to_us(self._clock.now())
        try:
            url, opts = overrides.split(target, self._defaults)
        except overrides.OverrideError as exc:
            attempt = CallbackAttempt(item.id, item.attempt, target, started, 0, None, None, "")
            return _Outcome(replace(attempt, error=f"11243: {exc}"), False, False, None)
        account = await self._store.get_account(cb.account_sid)
        token = account.auth_token if account is not None else ""
        request = _build(http, method, url, cb.params, token, item.id)
        timeout = httpx.Timeout(
            connect=opts.connect_timeout_ms / 1000,
            read=opts.read_timeout_ms / 1000,
            write=opts.read_timeout_ms / 1000,
            pool=opts.connect_timeout_ms / 1000,
        )
        request.extensions["timeout"] = timeout.as_dict()
        clock_start = time.perf_counter()
        answer: WebhookResponse | None = None
        error: str | None = None
        kind = "all"
        try:
            async with asyncio.timeout(opts.total_timeout_ms / 1000):
                response = await http.send(request, stream=True)
                try:
                    body, truncated = await _read_bounded(response, MAX_RESPONSE_BYTES)
                finally:
                    await response.aclose()
                answer = WebhookResponse(
                    response.status_code, response.headers.get("content-type"), body, truncated
                )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            error, kind = f"connect: {exc!r}", "ct"
        except (httpx.ReadTimeout, TimeoutError) as exc:
            error, kind = f"timeout: {exc!r}", "rt"
        except httpx.TooManyRedirects as exc:
            error = f"redirects: {exc}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
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


@dataclass(frozen=True, slots=True)
class _Outcome:
    attempt: CallbackAttempt
    ok: bool
    retry: bool
    response: WebhookResponse | None


async def _read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False


def _may_retry(attempt: int, opts: overrides.Overrides, kind: str) -> bool:
    if attempt > opts.retry_count:
        return False
    return "all" in opts.retry_policy or kind in opts.retry_policy


def _build(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    params: tuple[tuple[str, str], ...],
    token: str,
    callback_id: int,
) -> httpx.Request:
    headers = {"I-Twilio-Idempotency-Token": f"smsgate-{callback_id}"}
    if method.upper() == "GET":
        full = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}" if params else url
        headers[signing.HEADER] = signing.signature(token, full)
        return http.build_request("GET", full, headers=headers)
    headers[signing.HEADER] = signing.signature(token, url, params)
    return http.build_request("POST", url, data=dict(_multi(params)), headers=headers)


def _multi(params: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    return grouped
