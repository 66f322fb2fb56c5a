"""Every message list shape is one index seek: no table scan, no sort, no row-by-row filter.

The store's own SQL is captured (trace callback on every connection it opens) while it serves
each list shape on a real SQLite file, then EXPLAIN QUERY PLAN must show a SEARCH on the index
made for that filter whose constraint holds every WHERE term. Dropping or reordering a list
index, or writing a bound the planner cannot seek on (a deep page then reads every row above
it), fails here long before it shows at 1,000,000 rows.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsgate.domain.paging import Cursor, PageRequest
from smsgate.store import sqlite as sqlite_store
from smsgate.store.base import MessageFilter
from smsgate.store.sqlite import SqliteStore
from tests.integration.listdata import FILTERS, Seeded

# filter name -> the index that must serve it
INDEXES = {
    "none": "messages_account_list",
    "to": "messages_account_to",
    "from": "messages_account_from",
    "to+from": "messages_account_to_from",
    "date>=": "messages_account_list",
    "date<": "messages_account_list",
    "date range": "messages_account_list",
    "to+date": "messages_account_to",
    "from+date": "messages_account_from",
    "to+from+date": "messages_account_to_from",
}


def _pages(seeded: Seeded) -> dict[str, PageRequest]:
    """First pages, PA/PB pages from inside, before and after the date range, legacy Page=2."""
    by_time = seeded.messages
    inside, early, late = by_time[300], by_time[20], by_time[580]
    unsent = next(m for m in by_time if m.date_sent is None)
    pages = {"first": PageRequest(10), "Page=2": PageRequest(10, 2)}
    for label, m in (("mid", inside), ("early", early), ("late", late), ("unsent", unsent)):
        pages[f"PA {label}"] = PageRequest(10, 1, Cursor("after", m.sid))
        pages[f"PB {label}"] = PageRequest(10, 1, Cursor("before", m.sid))
    return pages


def _capture(seeded: Seeded, flt: MessageFilter, page: PageRequest) -> list[str]:
    """The SQL statements (parameters inlined) the store runs to serve one list page."""
    statements: list[str] = []
    real_connect = sqlite_store._connect

    def traced(path: Path, *, writer: bool) -> sqlite3.Connection:
        conn = real_connect(path, writer=writer)
        conn.set_trace_callback(statements.append)
        return conn

    async def run() -> None:
        store = SqliteStore(seeded.path)
        await store.open()
        try:
            statements.clear()  # only what the list itself runs
            await store.list_messages(seeded.account, flt, page)
        finally:
            await store.close()

    sqlite_store._connect = traced
    try:
        asyncio.run(run())
    finally:
        sqlite_store._connect = real_connect
    return [s for s in statements if "FROM messages" in s]


_SEARCH = re.compile(r"SEARCH messages USING (?:COVERING )?INDEX (\w+) \((.*)\)$")


def _plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    return [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]


def _where_terms(sql: str) -> list[str]:
    where = sql.split(" WHERE ", 1)[1].split(" ORDER BY ", 1)[0]
    return where.split(" AND ")


def _check_list_plan(conn: sqlite3.Connection, sql: str, index: str) -> None:
    plan = _plan(conn, sql)
    context = f"\n{sql}\n" + "\n".join(plan)
    assert not [p for p in plan if p.startswith("SCAN")], "table or index scan" + context
    assert not [p for p in plan if "TEMP B-TREE" in p], "sorts instead of an ordered read" + context
    searches = [m for p in plan if (m := _SEARCH.match(p))]
    assert len(searches) == 1, "expected one index search" + context
    used, constraint = searches[0].groups()
    assert used == index, f"uses {used}, not {index}" + context
    # Every WHERE term is part of the seek: nothing is left to filter row by row.
    assert len(constraint.split(" AND ")) == len(_where_terms(sql)), "filters rows" + context


@pytest.fixture(params=[False, True], ids=["no-stats", "analyzed"])
def explain(request: pytest.FixtureRequest, seeded: Seeded) -> Iterator[sqlite3.Connection]:
    """A connection to explain on; "analyzed" runs ANALYZE first (PRAGMA optimize would)."""
    conn = sqlite3.connect(seeded.path)
    if request.param:
        conn.execute("ANALYZE")
    try:
        yield conn
    finally:
        if request.param:
            conn.execute("DROP TABLE sqlite_stat1")
        conn.close()


@pytest.mark.parametrize("shape", [name for name, flt in FILTERS.items() if flt.seeks])
def test_every_list_page_is_an_index_seek(
    seeded: Seeded, explain: sqlite3.Connection, shape: str
) -> None:
    flt, index = FILTERS[shape], INDEXES[shape]
    for label, page in _pages(seeded).items():
        statements = _capture(seeded, flt, page)
        lists = [s for s in statements if " ORDER BY " in s]
        assert len(lists) == 1, f"{label}: expected one list query, got {statements}"
        _check_list_plan(explain, lists[0], index)
        lookups = [s for s in statements if " ORDER BY " not in s]
        assert len(lookups) == (0 if page.cursor is None else 1), label
        for lookup in lookups:  # the PageToken's position: primary key lookups only
            plan = _plan(explain, lookup)
            assert all(p.startswith(("SEARCH", "COMPOUND", "LEFT-MOST", "UNION")) for p in plan)
            assert not [p for p in plan if "TEMP B-TREE" in p or p.startswith("SCAN")], plan


def test_every_list_index_exists(seeded: Seeded) -> None:
    """The plans above name these; keep the list and the schema in step."""
    conn = sqlite3.connect(seeded.path)
    try:
        found = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
            )
        }
    finally:
        conn.close()
    for index in INDEXES.values():
        assert index in found
        assert found[index].rstrip(")").endswith("list_key, sid"), found[index]


@pytest.mark.parametrize("shape", [name for name, flt in FILTERS.items() if not flt.seeks])
def test_console_filters_read_in_list_order(
    seeded: Seeded, explain: sqlite3.Connection, shape: str
) -> None:
    """The console's filters (status, direction, either number, body) test rows one by one,
    but along a list index in list order: no sort, so a page stops at its last match."""
    for label, page in _pages(seeded).items():
        statements = _capture(seeded, FILTERS[shape], page)
        lists = [s for s in statements if " ORDER BY " in s]
        assert len(lists) == 1, f"{label}: expected one list query, got {statements}"
        plan = _plan(explain, lists[0])
        context = f"\n{lists[0]}\n" + "\n".join(plan)
        assert not [p for p in plan if p.startswith("SCAN messages") and "INDEX" not in p], (
            "reads the table unordered" + context
        )
        if FILTERS[shape].number is None or page.offset:  # (legacy offsets: one scan)
            assert not [p for p in plan if "TEMP B-TREE" in p], "sorts" + context
            continue
        # Either number: one seek per side, each in list order inside its own LIMIT; only
        # the merge of the two pages (at most 2 x (size + 1) rows) may be sorted.
        rows = {r[0]: r for r in explain.execute("EXPLAIN QUERY PLAN " + lists[0])}
        for r in rows.values():
            if "TEMP B-TREE" in r[3]:
                assert not rows[r[1]][3].startswith("CO-ROUTINE"), "an arm sorts" + context
        searches = [m.group(1) for p in plan if (m := _SEARCH.match(p))]
        assert searches == ["messages_account_to", "messages_account_from"], context


def test_the_console_feed_is_an_index_seek(seeded: Seeded, explain: sqlite3.Connection) -> None:
    from smsgate.store import rows

    sql = rows.UPDATED_SINCE
    for name, value in {
        ":a": f"'{seeded.account}'",
        ":t": "0",
        ":s": "''",
        ":limit": "500",
    }.items():
        sql = sql.replace(name, value)
    plan = _plan(explain, sql)
    context = f"\n{sql}\n" + "\n".join(plan)
    assert not [p for p in plan if "TEMP B-TREE" in p], "sorts" + context
    assert any("INDEX messages_account_updated" in p for p in plan), context
    assert not [p for p in plan if p.startswith("SCAN")], context


def test_a_messages_status_history_is_an_index_seek(
    seeded: Seeded, explain: sqlite3.Connection
) -> None:
    """The console's timeline reads a message's statuses (store.history.SELECT) by one seek
    on message_statuses_message, in its order: no scan, no sort."""
    from smsgate.store import history

    (sid,) = explain.execute("SELECT message_sid FROM message_statuses LIMIT 1").fetchone()
    sql = history.SELECT.replace("?", f"'{sid}'")
    plan = _plan(explain, sql)
    context = f"\n{sql}\n" + "\n".join(plan)
    assert any("INDEX message_statuses_message (message_sid=?)" in p for p in plan), context
    assert not [p for p in plan if "TEMP B-TREE" in p or p.startswith("SCAN")], context
    assert len(explain.execute(sql).fetchall()) == 1  # seeded messages are created once
