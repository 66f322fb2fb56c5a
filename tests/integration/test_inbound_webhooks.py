"""The webhook sender and the inbound service on a real SQLite store, with a loopback receiver."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

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
from smsgate.store.base import MessageFilter, Store
from smsgate.webhooks.overrides import Overrides
from smsgate.webhooks.sender import WebhookSender
from smsgate.worker.dispatcher import Dispatcher
from tests.fakes.receiver import Receiver, start_receiver
from tests.stores import StoreHome

NUMBER, PHONE = "+15017122661", "+15558675310"


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _refusing_url(path: str) -> str:
    """A loopback URL nothing listens on: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


async def _wait(predicate: Callable[[], Awaitable[Any]]) -> Any:
    """Poll ``predicate`` (the store) until it finds something; fail after ten seconds."""
    async with asyncio.timeout(10):
        while True:
            if found := await predicate():
                return found
            await asyncio.sleep(0.02)


async def _scenario(
    store_home: StoreHome,
    check: Callable[[Store, InboundService, Account], Awaitable[None]],
    **webhooks: str,
) -> None:
    store = store_home.make()
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


async def _replies(store: Store, account: Account) -> list[Message]:
    page = await store.list_messages(account.sid, MessageFilter(to=PHONE), _first_page())
    return [m for m in page.items if m.direction is Direction.OUTBOUND_REPLY]


def _first_page() -> PageRequest:
    return parse_page_request(None, None, None, "SM", "MM")


def test_the_fallback_answers_after_the_primary_cannot_be_reached(
    store_home: StoreHome, hooks: Receiver
) -> None:
    primary = _refusing_url("/primary")
    fallback = hooks.answer("/fallback", "<Response><Message>fallback says hi</Message></Response>")

    async def check(store: Store, inbound: InboundService, account: Account) -> None:
        m = await inbound.inject(PHONE, NUMBER, "hello")
        replies = await _wait(lambda: _replies(store, account))
        assert [r.body for r in replies] == ["fallback says hi"]
        assert [(h.method, h.path) for h in hooks.hits] == [("GET", "/fallback")]
        # One retry of the primary (#rc=1 retries connection errors), then the fallback.
        logged = await store.callback_attempts(m.sid)
        assert [(a.url, a.status_code) for a in logged] == [
            (primary, None),
            (primary, None),
            (fallback, 200),
        ]
        assert all(a.error and a.error.startswith("connect") for a in logged[:2])
        stored = await store.get_message_by_sid(m.sid)
        assert stored is not None and stored.date_sent is not None

    asyncio.run(
        _scenario(
            store_home,
            check,
            sms_url=primary + "#rc=1",
            sms_fallback_url=fallback,
            sms_fallback_method="GET",
        )
    )


def test_an_oversized_answer_is_cut_and_creates_no_reply(
    store_home: StoreHome, hooks: Receiver
) -> None:
    big = b"<Response><Message>" + b"x" * MAX_RESPONSE_BYTES + b"</Message></Response>"
    url = hooks.answer("/big", big)

    async def check(store: Store, inbound: InboundService, account: Account) -> None:
        m = await inbound.inject(PHONE, NUMBER, "hello")
        logged = await _wait(lambda: store.callback_attempts(m.sid))
        assert logged[0].status_code == 200
        assert logged[0].error is not None and logged[0].error.startswith("12100")
        assert await _replies(store, account) == []

    asyncio.run(_scenario(store_home, check, sms_url=url))


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


def test_a_carriers_inbound_message_reaches_the_webhook(
    store_home: StoreHome, hooks: Receiver
) -> None:
    async def check(store: Store, inbound: InboundService, account: Account) -> None:
        sms = InboundSms(from_=PHONE, to=NUMBER, body="from a handset")
        clock = SystemClock()
        dispatcher = Dispatcher(
            DeliveryService(store, clock), _PhoneCarrier(sms), on_inbound=inbound.receive_sms
        )
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            await _wait(lambda: _async(hooks.hits))
        finally:
            stop.set()
            await task
        hit = hooks.hits[0].params
        assert hit["Body"] == "from a handset"
        assert hit["AccountSid"] == account.sid
        stored = await store.get_message_by_sid(hit["MessageSid"])
        assert stored is not None and stored.direction is Direction.INBOUND

    asyncio.run(_scenario(store_home, check, sms_url=hooks.url("/sms")))


async def _async(value: Any) -> Any:
    return value
