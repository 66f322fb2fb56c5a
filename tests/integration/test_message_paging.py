"""Message pages through the real store equal a plain Python reference, for every filter.

page_query folds a date range and a PageToken boundary into one bound per side; these walks
check that the folding never loses or adds a row, with tokens inside, before, after and
outside the filtered range (a token may name any message of the account, and unsent ones).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from smsgate.domain.dates import to_us
from smsgate.domain.messages import Message
from smsgate.domain.paging import Cursor, PageRequest
from smsgate.store.base import MessageFilter, Store
from tests.integration.listdata import FILTERS, Seeded

SIZE = 7


def _expected(seeded: Seeded, flt: MessageFilter) -> list[Message]:
    """The list in list order, newest first, by the rules of the domain."""
    dates = flt.date_sent

    def keep(m: Message) -> bool:
        if flt.to is not None and m.to != flt.to:
            return False
        if flt.from_ is not None and m.from_ != flt.from_:
            return False
        if flt.status is not None and m.status.value != flt.status:
            return False
        if flt.direction is not None and m.direction.value != flt.direction:
            return False
        if flt.number is not None and flt.number not in (m.to, m.from_):
            return False
        if flt.body_contains is not None and flt.body_contains.lower() not in m.body.lower():
            return False
        if dates.after is None and dates.before is None:
            return True
        if m.date_sent is None:
            return False
        sent = to_us(m.date_sent)
        lo = to_us(dates.after) if dates.after is not None else None
        hi = to_us(dates.before) if dates.before is not None else None
        return (lo is None or sent >= lo) and (hi is None or sent < hi)

    return sorted(filter(keep, seeded.messages), key=lambda m: (m.list_key, m.sid), reverse=True)


def _run(seeded: Seeded, body: Callable[[Store], Awaitable[None]]) -> None:
    async def main() -> None:
        store = seeded.home.make()
        await store.open()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("shape", list(FILTERS))
def test_walking_next_pages_returns_the_whole_list_once(seeded_store: Seeded, shape: str) -> None:
    seeded = seeded_store
    flt = FILTERS[shape]
    expected = [m.sid for m in _expected(seeded, flt)]
    assert expected, "the fixture should give every filter some rows"
    got: list[str] = []

    async def walk(store: Store) -> None:
        req = PageRequest(SIZE)
        while True:
            page = await store.list_messages(seeded.account, flt, req)
            got.extend(m.sid for m in page.items)
            if not page.has_next:
                return
            req = PageRequest(SIZE, req.page + 1, Cursor("after", page.items[-1].sid))

    _run(seeded, walk)
    assert got == expected


@pytest.mark.parametrize("shape", list(FILTERS))
def test_pages_around_any_token(seeded_store: Seeded, shape: str) -> None:
    seeded = seeded_store
    """PA and PB pages from tokens anywhere in the account, in the range or not."""
    flt = FILTERS[shape]
    listed = _expected(seeded, flt)
    every = sorted(seeded.messages, key=lambda m: (m.list_key, m.sid), reverse=True)
    tokens = [*every[:: len(every) // 40], every[-1]]

    async def check(store: Store) -> None:
        for token in tokens:
            key = (token.list_key, token.sid)
            after = [m.sid for m in listed if (m.list_key, m.sid) < key]
            before = [m.sid for m in listed if (m.list_key, m.sid) > key]
            page = await store.list_messages(
                seeded.account, flt, PageRequest(SIZE, 1, Cursor("after", token.sid))
            )
            assert [m.sid for m in page.items] == after[:SIZE], token.sid
            assert page.has_next == (len(after) > SIZE)
            page = await store.list_messages(
                seeded.account, flt, PageRequest(SIZE, 1, Cursor("before", token.sid))
            )
            assert [m.sid for m in page.items] == before[-SIZE:], token.sid
            assert page.has_previous == (len(before) > SIZE)

    _run(seeded, check)


def test_changes_come_in_update_order_from_any_position(seeded_store: Seeded) -> None:
    """messages_updated_since: (date_updated, sid) after the position, ascending, limited."""
    seeded = seeded_store
    mine = sorted(seeded.messages, key=lambda m: (to_us(m.date_updated), m.sid))

    async def check(store: Store) -> None:
        for start in (0, 1, len(mine) // 2, len(mine) - 1):
            at = mine[start]
            got = await store.messages_updated_since(
                seeded.account, to_us(at.date_updated), at.sid, 25
            )
            assert [m.sid for m in got] == [m.sid for m in mine[start + 1 : start + 26]]
        everything = await store.messages_updated_since(seeded.account, 0, "", 10_000)
        assert [m.sid for m in everything] == [m.sid for m in mine]

    _run(seeded, check)
