"""The webhook sender and the inbound service on a real SQLite store, with a mock transport."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

from smsgate.clock import SystemClock
from smsgate.connectors.base import (
    InboundHandler,
    InboundSms,
    OutboundSms,
    PartRecorder,
    ReceiptHandler,
    SubmitResult,
)
from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.inbound import MAX_RESPONSE_BYTES
from smsgate.domain.messages import Direction, Message
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.paging import PageRequest, parse_page_request
from smsgate.ids import new_sid
from smsgate.services.delivery import DeliveryService
from smsgate.services.inbound import InboundService
from smsgate.store.base import MessageFilter
from smsgate.store.sqlite import SqliteStore
from smsgate.webhooks.overrides import Overrides
from smsgate.webhooks.sender import WebhookSender
from smsgate.worker.dispatcher import Dispatcher

Handler = Callable[[httpx.Request], httpx.Response]
NUMBER, PHONE = "+15017122661", "+15558675310"


async def _wait(predicate: Callable[[], Awaitable[Any]]) -> Any:
    """Poll ``predicate`` (the store) until it finds something; fail after ten seconds."""
    async with asyncio.timeout(10):
        while True:
            if found := await predicate():
                return found
            await asyncio.sleep(0.02)


async def _scenario(
    tmp_path: Path,
    handler: Handler,
    check: Callable[[SqliteStore, InboundService, Account], Awaitable[None]],
    **webhooks: str,
) -> None:
    store = SqliteStore(tmp_path / "smsgate.db")
    await store.open()
    clock = SystemClock()
    now = clock.now()
    sid = new_sid("AC")
    account = Account(sid, sid, "test", "token", AccountStatus.ACTIVE, now, now)
    await store.create_account(account)
    await store.create_number(PhoneNumber(new_sid("PN"), sid, NUMBER, "n", now, now, **webhooks))
    inbound = InboundService(store, clock)
    sender = WebhookSender(
        store,
        clock,
        defaults=Overrides(retry_count=0),
        transport=httpx.MockTransport(handler),
        responses=inbound,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        await check(store, inbound, account)
    finally:
        stop.set()
        await task
        await store.close()


async def _replies(store: SqliteStore, account: Account) -> list[Message]:
    page = await store.list_messages(account.sid, MessageFilter(to=PHONE), _first_page())
    return [m for m in page.items if m.direction is Direction.OUTBOUND_REPLY]


def _first_page() -> PageRequest:
    return parse_page_request(None, None, None, "SM", "MM")


def test_the_fallback_answers_after_the_primary_cannot_be_reached(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path == "/primary":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(
            200,
            headers={"content-type": "text/xml"},
            content=b"<Response><Message>fallback says hi</Message></Response>",
        )

    async def check(store: SqliteStore, inbound: InboundService, account: Account) -> None:
        m = await inbound.inject(PHONE, NUMBER, "hello")
        replies = await _wait(lambda: _replies(store, account))
        assert [r.body for r in replies] == ["fallback says hi"]
        # One retry of the primary (#rc=1 retries connection errors), then the fallback.
        assert seen == ["POST /primary", "POST /primary", "GET /fallback"]
        logged = await store.callback_attempts(m.sid)
        assert [(a.url, a.status_code) for a in logged] == [
            ("https://hooks.test/primary", None),
            ("https://hooks.test/primary", None),
            ("https://hooks.test/fallback", 200),
        ]
        stored = await store.get_message_by_sid(m.sid)
        assert stored is not None and stored.date_sent is not None

    asyncio.run(
        _scenario(
            tmp_path,
            handler,
            check,
            sms_url="https://hooks.test/primary#rc=1",
            sms_fallback_url="https://hooks.test/fallback",
            sms_fallback_method="GET",
        )
    )


def test_an_oversized_answer_is_cut_and_creates_no_reply(tmp_path: Path) -> None:
    big = b"<Response><Message>" + b"x" * MAX_RESPONSE_BYTES + b"</Message></Response>"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/xml"}, content=big)

    async def check(store: SqliteStore, inbound: InboundService, account: Account) -> None:
        m = await inbound.inject(PHONE, NUMBER, "hello")
        logged = await _wait(lambda: store.callback_attempts(m.sid))
        assert logged[0].status_code == 200
        assert logged[0].error is not None and logged[0].error.startswith("12100")
        assert await _replies(store, account) == []

    asyncio.run(_scenario(tmp_path, handler, check, sms_url="https://hooks.test/big"))


class _PhoneCarrier:
    """A connector that receives one message from a phone as soon as it starts."""

    name = "phone"

    def __init__(self, sms: InboundSms) -> None:
        self._sms = sms

    def ready(self) -> bool:
        return True

    async def start(self, on_receipt: ReceiptHandler, on_inbound: InboundHandler) -> None:
        await on_inbound(self._sms)

    async def submit(
        self, sms: OutboundSms, record_part: PartRecorder | None = None
    ) -> SubmitResult:
        return SubmitResult(f"phone-{sms.message_sid}")

    async def close(self) -> None:
        return None


def test_a_carriers_inbound_message_reaches_the_webhook(tmp_path: Path) -> None:
    hits: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hits.append(dict(parse_qsl(request.content.decode())))
        return httpx.Response(204)

    async def check(store: SqliteStore, inbound: InboundService, account: Account) -> None:
        sms = InboundSms(from_=PHONE, to=NUMBER, body="from a handset")
        clock = SystemClock()
        dispatcher = Dispatcher(
            DeliveryService(store, clock), _PhoneCarrier(sms), on_inbound=inbound.receive_sms
        )
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            await _wait(lambda: _async(hits))
        finally:
            stop.set()
            await task
        assert hits[0]["Body"] == "from a handset"
        assert hits[0]["AccountSid"] == account.sid
        stored = await store.get_message_by_sid(hits[0]["MessageSid"])
        assert stored is not None and stored.direction is Direction.INBOUND

    asyncio.run(_scenario(tmp_path, handler, check, sms_url="https://hooks.test/sms"))


async def _async(value: Any) -> Any:
    return value
