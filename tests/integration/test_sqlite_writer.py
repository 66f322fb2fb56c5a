"""The SQLite writer's batches: grouped writes, and what a failing write leaves behind.

These drive ``smsgate.store.sqlite._run_batch`` on a real schema, so the batch's make-up is
exactly what each test says.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smsgate.domain.messages import Direction, Message, Status
from smsgate.ids import new_sid
from smsgate.store import sqlite as store
from smsgate.store.base import DuplicateKey
from smsgate.store.schema import upgrade
from smsgate.store.sqlite_batch import ROWS_PER_STATEMENT, insert_messages
from smsgate.store.sqlite_delivery import insert_outbound, insert_outbound_many

ACCOUNT = "AC" + "0" * 32
SENDER = "+15005550006"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = tmp_path / "smsgate.db"
    upgrade(f"sqlite:///{db}")
    c = store._connect(db, writer=True)
    c.execute(
        "INSERT INTO accounts VALUES (?, ?, 'test', 'token', 'active', 0, 0)", (ACCOUNT, ACCOUNT)
    )
    yield c
    c.close()


def message(i: int = 0, sender: str = SENDER) -> Message:
    when = T0 + timedelta(milliseconds=i)
    return Message(
        sid=new_sid("SM", now_ms=int(when.timestamp() * 1000)),
        account_sid=ACCOUNT,
        to=f"+1555{i:07d}",
        from_=sender,
        body=f"message {i}",
        status=Status.QUEUED,
        direction=Direction.OUTBOUND_API,
        num_segments=1,
        num_media=0,
        date_created=when,
        date_updated=when,
    )


def count(c: sqlite3.Connection, table: str) -> int:
    return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def grouped(item: tuple[Message, float]) -> store._Grouped:
    return store._Grouped(insert_outbound_many, item)


def test_a_batch_of_creates_is_one_grouped_write(conn: sqlite3.Connection) -> None:
    n = ROWS_PER_STATEMENT * 2 + 3  # more than one statement's worth of rows
    results = store._run_batch(conn, [grouped((message(i), 0.0)) for i in range(n)])
    assert results == [True] * n
    assert count(conn, "messages") == n
    assert count(conn, "delivery_jobs") == n
    assert conn.execute("SELECT queued_segments FROM sender_queues").fetchone() == (n,)


def test_grouped_slots_are_the_slots_taken_one_at_a_time(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    items = [(message(i), 1.0) for i in range(5)] + [(message(9, "+15005550099"), 3.0)]
    store._run_batch(conn, [grouped(item) for item in items])
    together = conn.execute(
        "SELECT sender, ready_at, expires_at FROM delivery_jobs ORDER BY message_sid"
    ).fetchall()
    senders = conn.execute("SELECT * FROM sender_queues ORDER BY sender").fetchall()

    upgrade(f"sqlite:///{tmp_path / 'one-by-one.db'}")
    other = store._connect(tmp_path / "one-by-one.db", writer=True)
    other.execute(
        "INSERT INTO accounts VALUES (?, ?, 'test', 'token', 'active', 0, 0)", (ACCOUNT, ACCOUNT)
    )
    for m, mps in items:
        assert insert_outbound(other, m, mps)
    assert (
        other.execute(
            "SELECT sender, ready_at, expires_at FROM delivery_jobs ORDER BY message_sid"
        ).fetchall()
        == together
    )
    assert other.execute("SELECT * FROM sender_queues ORDER BY sender").fetchall() == senders
    other.close()


def test_a_full_sender_queue_refuses_only_the_items_past_it(conn: sqlite3.Connection) -> None:
    # Room for two more messages at 1 segment/s (10 hours = 36,000 segments).
    conn.execute("INSERT INTO sender_queues VALUES (?, ?, 0)", (SENDER, 36_000 - 2))
    results = store._run_batch(conn, [grouped((message(i), 1.0)) for i in range(4)])
    assert results == [True, True, False, False]
    assert count(conn, "messages") == 2
    assert conn.execute("SELECT queued_segments FROM sender_queues").fetchone() == (36_000,)


def test_a_failing_write_fails_alone(conn: sqlite3.Connection) -> None:
    taken = message(1)
    assert store._run_batch(conn, [grouped((taken, 0.0))]) == [True]
    duplicate = grouped((taken, 0.0))  # the same SID again
    ops: list[Any] = [grouped((message(2), 0.0)), duplicate, grouped((message(3), 0.0))]
    ops.append(lambda c: c.execute("UPDATE accounts SET friendly_name = 'renamed'").rowcount)
    results = store._run_batch(conn, ops)
    assert results[0] is True
    assert isinstance(results[1], DuplicateKey)
    assert results[2] is True
    assert results[3] == 1
    assert count(conn, "messages") == 3
    assert count(conn, "delivery_jobs") == 3


def test_a_failing_write_alone_in_its_batch_leaves_nothing_behind(
    conn: sqlite3.Connection,
) -> None:
    def half_then_fail(c: sqlite3.Connection) -> None:
        insert_messages(c, [message(1)])
        raise RuntimeError("second statement failed")

    [result] = store._run_batch(conn, [half_then_fail])
    assert isinstance(result, RuntimeError)
    assert count(conn, "messages") == 0


def test_insert_messages_is_grouped_too(conn: sqlite3.Connection) -> None:
    ops: list[Any] = [store._Grouped(insert_messages, message(i)) for i in range(40)]
    assert store._run_batch(conn, ops) == [None] * 40
    assert count(conn, "messages") == 40


def _lock_is_free(path: Path) -> bool:
    """Whether another open file description could take the write lock right now."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases it if it was taken
    return True


def test_every_write_transaction_holds_the_cross_process_write_lock(tmp_path: Path) -> None:
    """Processes writing one file queue on ``flock`` instead of SQLite's sleeping busy
    handler: the lock is held while a transaction runs, and free between them."""
    db = tmp_path / "smsgate.db"
    lock = store.write_lock_path(db)

    async def run() -> tuple[bool, bool]:
        s = store.SqliteStore(db)
        await s.open()
        try:
            inside: bool = await s._write(lambda c: _lock_is_free(lock))
            return inside, _lock_is_free(lock)
        finally:
            await s.close()

    inside, between = asyncio.run(run())
    assert inside is False
    assert between is True


def test_writes_queued_while_another_process_holds_the_lock_join_one_transaction(
    tmp_path: Path,
) -> None:
    """The writer takes its batch once the cross-process lock is its own: what came while
    another process held the lock goes into the same transaction (one commit), rather than
    waiting for the lock and a commit of its own."""
    db = tmp_path / "smsgate.db"
    lock = store.write_lock_path(db)

    async def run() -> tuple[int, list[int]]:
        s = store.SqliteStore(db)
        await s.open()
        writer = s._writer
        assert writer is not None
        other = os.open(lock, os.O_RDWR)
        try:
            before = writer.batches
            fcntl.flock(other, fcntl.LOCK_EX)  # another process writing
            first = asyncio.ensure_future(s._write(lambda c: 1))
            await asyncio.sleep(0)  # queued
            # the writer has taken the first write and waits for the lock
            await asyncio.to_thread(_wait_until, lambda: writer._queue.qsize() == 0)
            rest = [asyncio.ensure_future(s._write(lambda c, i=i: i)) for i in range(2, 6)]
            await asyncio.sleep(0)
            fcntl.flock(other, fcntl.LOCK_UN)
            results = await asyncio.gather(first, *rest)
            return writer.batches - before, results
        finally:
            os.close(other)
            await s.close()

    batches, results = asyncio.run(run())
    assert results == [1, 2, 3, 4, 5]
    assert batches == 1


def _wait_until(done: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.001)
