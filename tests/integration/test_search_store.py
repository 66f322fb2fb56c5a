"""The store side of the v2 search and the legacy total: right rows, one ordered index seek."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from smsgate.domain.dates import DateRange, to_us
from smsgate.domain.dialects import MessageSearch
from smsgate.domain.messages import Direction, Message, Status
from smsgate.store import sqlite as sqlite_store
from smsgate.store.base import MessageFilter, Store
from smsgate.store.sqlite import SqliteStore
from tests.integration.listdata import T0, Seeded

T = TypeVar("T")


def _run(seeded: Seeded, call: Callable[[SqliteStore], Any]) -> tuple[Any, list[str]]:
    """Run one store call on the seeded file; its result and the SQL it ran on messages."""
    statements: list[str] = []
    real_connect = sqlite_store._connect

    def traced(path: Path, *, writer: bool) -> sqlite3.Connection:
        conn = real_connect(path, writer=writer)
        conn.set_trace_callback(statements.append)
        return conn

    async def run() -> Any:
        store = SqliteStore(seeded.path)
        await store.open()
        try:
            statements.clear()
            return await call(store)
        finally:
            await store.close()

    sqlite_store._connect = traced
    try:
        result = asyncio.run(run())
    finally:
        sqlite_store._connect = real_connect
    return result, [s for s in statements if "FROM messages" in s]


SEARCHES = {
    "window": MessageSearch(to_us(T0 + timedelta(days=1)), to_us(T0 + timedelta(days=2))),
    "status": MessageSearch(
        to_us(T0 + timedelta(days=1)),
        to_us(T0 + timedelta(days=3)),
        statuses=frozenset({Status.QUEUED, Status.SENDING}),
        limit=7,
        skip=3,
    ),
    "direction+service": MessageSearch(
        to_us(T0),
        to_us(T0 + timedelta(days=30)),
        service_sid="MG" + "0" * 32,
        directions=frozenset({Direction.INBOUND}),
    ),
    "everything": MessageSearch(0, to_us(T0 + timedelta(days=365)), limit=1000),
}


def _expected(messages: list[Message], s: MessageSearch) -> list[str]:
    rows = [
        m
        for m in messages
        if s.created_from_us <= to_us(m.date_created) < s.created_to_us
        and (s.statuses is None or m.status in s.statuses)
        and (s.directions is None or m.direction in s.directions)
        and (s.service_sid is None or m.messaging_service_sid == s.service_sid)
    ]
    rows.sort(key=lambda m: (to_us(m.date_created), m.sid))
    return [m.sid for m in rows[s.skip : s.skip + s.limit]]


def _call(seeded: Seeded, call: Callable[[Store], Awaitable[T]]) -> T:
    """Run one store call on a store of any kind."""

    async def run() -> T:
        store = seeded.home.make()
        await store.open()
        try:
            return await call(store)
        finally:
            await store.close()

    return asyncio.run(run())


@pytest.mark.parametrize("name", list(SEARCHES))
def test_search_finds_what_a_filter_over_every_message_finds(
    seeded_store: Seeded, name: str
) -> None:
    seeded, search = seeded_store, SEARCHES[name]
    found = _call(seeded, lambda store: store.search_messages(seeded.account, search))
    assert [m.sid for m in found] == _expected(seeded.messages, search)
    if name != "direction+service":
        assert found, "the case must select something to mean anything"


@pytest.mark.parametrize("analyze", [False, True], ids=["no-stats", "analyzed"])
@pytest.mark.parametrize("name", list(SEARCHES))
def test_search_is_one_ordered_seek_of_the_creation_index(
    seeded: Seeded, name: str, analyze: bool
) -> None:
    _, statements = _run(
        seeded, lambda store: store.search_messages(seeded.account, SEARCHES[name])
    )
    (sql,) = statements
    conn = sqlite3.connect(seeded.path)
    try:
        if analyze:
            conn.execute("ANALYZE")
        plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        if analyze:
            conn.execute("DROP TABLE sqlite_stat1")
    finally:
        conn.close()
    context = f"\n{sql}\n" + "\n".join(plan)
    assert len(plan) == 1, context
    assert plan[0].startswith("SEARCH messages USING INDEX messages_account_created "), context
    assert "account_sid=? AND date_created>? AND date_created<?" in plan[0], context
    assert "TEMP B-TREE" not in context


def test_count_matches_the_list_filter(seeded_store: Seeded) -> None:
    seeded = seeded_store
    day = T0 + timedelta(days=2)
    cases = [
        MessageFilter(),
        MessageFilter(to=seeded.messages[0].to),
        MessageFilter(date_sent=DateRange(after=day)),
        MessageFilter(from_=seeded.messages[0].from_, date_sent=DateRange(before=day)),
    ]
    for flt in cases:
        count = _call(seeded, lambda store, flt=flt: store.count_messages(seeded.account, flt))
        expected = [
            m
            for m in seeded.messages
            if (flt.to is None or m.to == flt.to)
            and (flt.from_ is None or m.from_ == flt.from_)
            and (
                (flt.date_sent.after is None and flt.date_sent.before is None)
                or (
                    m.date_sent is not None
                    and (flt.date_sent.after is None or m.date_sent >= flt.date_sent.after)
                    and (flt.date_sent.before is None or m.date_sent < flt.date_sent.before)
                )
            )
        ]
        assert count == len(expected) > 0, flt
