"""The console's live feed (services.console.Feed) on each real store: every change is
reported once, in order, including one committed late with an earlier stamp, and a batch
larger than one read is followed to its end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from smsgate.clock import FakeClock
from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.messages import Direction, Message, Status
from smsgate.ids import new_sid
from smsgate.services import console as console_module
from smsgate.services.console import ConsoleService
from smsgate.store.base import Store
from tests.stores import StoreHome

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _message(account: str, at: datetime, status: Status = Status.QUEUED) -> Message:
    return Message(
        sid=new_sid("SM"),
        account_sid=account,
        to="+15558675310",
        from_="+15005550006",
        body="hi",
        status=status,
        direction=Direction.OUTBOUND_API,
        num_segments=1,
        num_media=0,
        date_created=at,
        date_updated=at,
    )


def _run(home: StoreHome, body: Callable[[Store, Account], Awaitable[None]]) -> None:
    async def main() -> None:
        store = home.make()
        await store.open()
        account = Account(new_sid("AC"), "", "feed", "0" * 32, AccountStatus.ACTIVE, T0, T0)
        account = replace(account, owner_account_sid=account.sid)
        await store.create_account(account)
        try:
            await body(store, account)
        finally:
            await store.close()

    asyncio.run(main())


def test_each_change_is_reported_once_even_when_committed_late(store_home: StoreHome) -> None:
    async def body(store: Store, account: Account) -> None:
        clock = FakeClock(T0 + timedelta(seconds=10))
        feed = ConsoleService(store, clock).feed(account)
        before = _message(account.sid, T0)  # older than the feed's start and its lag window
        await store.insert_message(before)
        assert await feed.poll() == []
        a = _message(account.sid, T0 + timedelta(seconds=11))
        await store.insert_message(a)
        assert [m.sid for m in await feed.poll()] == [a.sid]
        assert await feed.poll() == []  # nothing twice
        # a change of ``a``: reported again, as its new version
        sent = replace(a, status=Status.SENT, date_updated=T0 + timedelta(seconds=12))
        await store.save_message(sent)
        assert [(m.sid, m.status) for m in await feed.poll()] == [(a.sid, Status.SENT)]
        # committed now, stamped a second before the newest change seen: still reported
        late = _message(account.sid, T0 + timedelta(seconds=11, milliseconds=500))
        await store.insert_message(late)
        assert [m.sid for m in await feed.poll()] == [late.sid]
        # stamped before the lag window: too late to be seen (the documented limit)
        lost = _message(account.sid, T0 + timedelta(seconds=12) - timedelta(seconds=3))
        await store.insert_message(lost)
        assert await feed.poll() == []
        # other accounts' changes are not this feed's
        other = Account(new_sid("AC"), "", "x", "0" * 32, AccountStatus.ACTIVE, T0, T0)
        await store.create_account(replace(other, owner_account_sid=other.sid))
        await store.insert_message(_message(other.sid, T0 + timedelta(seconds=13)))
        assert await feed.poll() == []

    _run(store_home, body)


def test_a_burst_larger_than_one_read_is_followed_to_its_end(
    store_home: StoreHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_module, "FEED_BATCH", 7)

    async def body(store: Store, account: Account) -> None:
        clock = FakeClock(T0)
        feed = ConsoleService(store, clock).feed(account)
        burst = [_message(account.sid, T0 + timedelta(milliseconds=i // 3)) for i in range(40)]
        await asyncio.gather(*(store.insert_message(m) for m in burst))
        got = await feed.poll()
        assert sorted(m.sid for m in got) == sorted(m.sid for m in burst)
        assert len(got) == len({m.sid for m in got})
        assert await feed.poll() == []

    _run(store_home, body)
