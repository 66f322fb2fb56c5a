"""The delivery pipeline's grouped writes: a batch of status changes or finished callbacks,
written with set-based statements, leaves exactly what the same writes one at a time leave.

Each test builds the same starting state in two databases, runs the same operations as one
writer batch in the first and one batch per operation in the second, and compares every
table. Also: a receipt that arrives before its ``sent`` is committed is not lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from smsgate.clock import SystemClock
from smsgate.connectors.base import (
    InboundHandler,
    OutboundSms,
    PartRecorder,
    Receipt,
    ReceiptHandler,
    SubmitResult,
)
from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.delivery import (
    Callback,
    CallbackAttempt,
    CallbackLease,
    CallbackResult,
    JobAction,
    ParkedReceipt,
    Transition,
)
from smsgate.domain.messages import Direction, Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.ids import new_sid
from smsgate.services.delivery import DeliveryService
from smsgate.store import postgres_delivery as pgdelivery
from smsgate.store import rows
from smsgate.store import sqlite as store
from smsgate.store.pg_sql import PgConn
from smsgate.store.postgres import _insert_outbound_many as pg_insert_outbound_many
from smsgate.store.postgres import sqlalchemy_url
from smsgate.store.schema import upgrade
from smsgate.store.sqlite_batch import in_chunks, rounds, value_chunks
from smsgate.store.sqlite_delivery import (
    add_callback,
    apply_transitions,
    find_carrier_ref,
    find_carrier_refs_many,
    finish_callbacks,
    insert_outbound_many,
    park_receipt,
    parked_receipts_many,
)
from smsgate.worker.dispatcher import Dispatcher
from tests import pgdb
from tests.integration.test_sqlite_writer import ACCOUNT, message
from tests.stores import StoreHome

TABLES = (
    "messages",
    "delivery_jobs",
    "sender_queues",
    "carrier_refs",
    "webhook_attempts",
    "receipt_waits",
    "parked_receipts",
)
SENDING = frozenset({Status.QUEUED, Status.SENDING})


def _open(path: Path, n: int) -> sqlite3.Connection:
    upgrade(f"sqlite:///{path}")
    c = store._connect(path, writer=True)
    c.execute(
        "INSERT INTO accounts VALUES (?, ?, 'test', 'token', 'active', 0, 0)", (ACCOUNT, ACCOUNT)
    )
    store._run_batch(c, [store._Grouped(insert_outbound_many, (m, 0.0)) for m in _messages(n)])
    return c


_CACHE: dict[int, list[Message]] = {}


def _messages(n: int) -> list[Message]:
    if n not in _CACHE:
        _CACHE[n] = [message(i) for i in range(n)]
    return _CACHE[n]


def _dump(c: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    found = {t: sorted(c.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    # Outbox ids keep each message's callbacks in order (a round inserts the ones that
    # wait before those handed over at once); compare each message's rows in id order.
    found["webhook_outbox"] = sorted(
        (r[1:] for r in c.execute("SELECT * FROM webhook_outbox ORDER BY id").fetchall()),
        key=lambda r: r[1],
    )
    # History ids follow the batch's rounds; compare each message's statuses in id order.
    found["message_statuses"] = sorted(
        (r[1:] for r in c.execute("SELECT * FROM message_statuses ORDER BY id").fetchall()),
        key=lambda r: r[0],
    )
    return found


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Callable[[int], tuple[sqlite3.Connection, ...]]]:
    opened: list[sqlite3.Connection] = []

    def make(n: int) -> tuple[sqlite3.Connection, ...]:
        for name in ("grouped.db", "apart.db"):
            opened.append(_open(tmp_path / name, n))
        return opened[-2], opened[-1]

    yield make
    for c in opened:
        c.close()


def _callback(sid: str, status: str) -> Callback:
    return Callback(ACCOUNT, sid, "status", "http://127.0.0.1:9/cb", "POST", (("S", status),))


def _lease(i: int) -> CallbackLease | None:
    """Every other message's callbacks ask to go to the sender at once: all of them may,
    since each waits only behind that sender's own (the sender sends them in order)."""
    return CallbackLease("sender", 10**12) if i % 2 == 0 else None


def _changes(sids: list[str]) -> list[Transition]:
    """Status changes of every kind for 45 messages, several for the same message."""
    changes: list[Transition] = []
    for i, sid in enumerate(sids):
        changes.append(
            Transition(
                sid,
                SENDING,
                Status.SENDING,
                1000 + i,
                callback=_callback(sid, "sending"),
                lease=_lease(i),
            )
        )
    for i, sid in enumerate(sids[:30]):  # the same messages again, in the same batch
        changes.append(
            Transition(
                sid,
                frozenset({Status.SENDING}),
                Status.SENT,
                2000 + i,
                date_sent_us=2000 + i,
                carrier_id=f"c-{i}",
                price="-0.00790",
                price_unit="USD",
                job=JobAction.DONE,
                callback=_callback(sid, "sent"),
                receipt_due_us=5000 + i if i % 2 else None,
                lease=_lease(i),
            )
        )
    for i, sid in enumerate(sids[:10]):  # settled: their receipt deadlines go
        changes.append(
            Transition(
                sid,
                frozenset({Status.SENT}),
                Status.DELIVERED if i % 3 else Status.UNDELIVERED,
                4000 + i,
                error_code=None if i % 3 else 30003,
                error_message=None if i % 3 else "Unreachable destination handset",
                callback=_callback(sid, "final"),
                lease=_lease(i),
            )
        )
    # Not allowed from `sending`: applies nowhere, writes nothing.
    changes.append(Transition(sids[40], frozenset({Status.QUEUED}), Status.FAILED, 3000))
    changes.append(
        Transition(
            sids[41],
            frozenset({Status.SENDING}),
            Status.FAILED,
            3001,
            error_code=30007,
            error_message="filtered",
            job=JobAction.DONE,
        )
    )
    changes.append(
        Transition(
            sids[42],
            frozenset({Status.SENDING}),
            Status.SENDING,
            3002,
            job=JobAction.RETRY,
            retry_at_us=9_000_000,
        )
    )
    return changes


def test_a_batch_of_status_changes_is_what_they_do_one_by_one(
    pair: Callable[[int], tuple[sqlite3.Connection, ...]],
) -> None:
    n = 45  # more rows than one multi-row statement takes
    grouped, apart = pair(n)
    sids = [m.sid for m in _messages(n)]
    changes = _changes(sids)
    together = store._run_batch(grouped, [store._Grouped(apply_transitions, t) for t in changes])
    one_by_one = [
        store._run_batch(apart, [store._Grouped(apply_transitions, t)])[0] for t in changes
    ]
    assert together == one_by_one
    assert together[-3] is None and together[-2] is not None
    assert sum(r is not None for r in together) == len(changes) - 1
    assert _dump(grouped) == _dump(apart)
    assert grouped.execute("SELECT queued_segments FROM sender_queues").fetchone() == (n - 31,)
    assert grouped.execute("SELECT count(*) FROM receipt_waits").fetchone() == (10,)
    # every callback of every other message: `sending` (23), `sent` (15 of the first 30)
    # and the final status (5 of the first 10), each behind the sender's own
    leased = "SELECT count(*) FROM webhook_outbox WHERE lease_owner IS NOT NULL"
    assert grouped.execute(leased).fetchone() == ((n + 1) // 2 + 15 + 5,)
    # Each result is the message as stored after its change (for the last change of each).
    last = {t.message_sid: r for t, r in zip(changes, together, strict=True) if r is not None}
    for sid, returned in last.items():
        row = grouped.execute(
            f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ?", (sid,)
        ).fetchone()
        assert returned == rows.message_from(row)


def _open_pg(url: str, n: int) -> psycopg.Connection[Any]:
    upgrade(sqlalchemy_url(url))
    conn = psycopg.connect(url)
    c = PgConn(conn)
    c.execute(
        "INSERT INTO accounts VALUES (?, ?, 'test', 'token', 'active', 0, 0)", (ACCOUNT, ACCOUNT)
    )
    pg_insert_outbound_many(c, [(m, 0.0) for m in _messages(n)])
    conn.commit()
    return conn


def test_a_postgres_batch_of_status_changes_is_what_they_do_one_by_one() -> None:
    """PostgreSQL's own apply_transitions (one UPDATE from arrays per round) against the
    same changes applied one transaction each."""
    if not pgdb.reachable():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    n = 45
    sids = [m.sid for m in _messages(n)]
    changes = _changes(sids)
    with pgdb.database() as url_grouped, pgdb.database() as url_apart:
        grouped, apart = _open_pg(url_grouped, n), _open_pg(url_apart, n)
        try:
            together = pgdelivery.apply_transitions(PgConn(grouped), changes)
            grouped.commit()
            one_by_one = []
            for t in changes:
                one_by_one.extend(pgdelivery.apply_transitions(PgConn(apart), [t]))
                apart.commit()

            # the same messages, and the same changes' callbacks handed over (outbox ids
            # are numbered in another order within a round)
            def leased(results: list[tuple[Message, int | None] | None]) -> list[object]:
                return [r if r is None else (r[0], r[1] is not None) for r in results]

            assert leased(together) == leased(one_by_one)
            assert sum(r is not None for r in together) == len(changes) - 1
            g, a = PgConn(grouped).as_sqlite(), PgConn(apart).as_sqlite()
            assert _dump(g) == _dump(a)
            assert g.execute("SELECT queued_segments FROM sender_queues").fetchone() == (n - 31,)
            assert g.execute("SELECT count(*) FROM receipt_waits").fetchone() == (10,)
            leased = "SELECT count(*) FROM webhook_outbox WHERE lease_owner IS NOT NULL"
            assert g.execute(leased).fetchone() == ((n + 1) // 2 + 15 + 5,)
        finally:
            grouped.close()
            apart.close()


def test_finding_carrier_refs_in_a_batch_is_what_it_does_one_by_one(
    pair: Callable[[int], tuple[sqlite3.Connection, ...]],
) -> None:
    c, _ = pair(3)
    sids = [m.sid for m in _messages(3)]
    c.executemany(
        "INSERT INTO carrier_refs (carrier_id, message_sid, created_at, part, parts, state) "
        "VALUES (?, ?, 0, ?, 2, 'sent')",
        [("sim-1", sids[0], 1), ("sim-2", sids[0], 2), ("sim-x3", sids[1], 1)],
    )
    items = [("sim-1",), ("nope", "sim-x3"), ("sim-3", "sim-x3"), ("nothing",), ("sim-2", "sim-1")]
    together = find_carrier_refs_many(c, items)
    assert together == [find_carrier_ref(c, ids) for ids in items]
    assert [r.carrier_id if r else None for r in together] == [
        "sim-1",
        "sim-x3",
        "sim-x3",
        None,
        "sim-2",
    ]


def test_reading_parked_receipts_in_a_batch_is_what_it_does_one_by_one(
    pair: Callable[[int], tuple[sqlite3.Connection, ...]],
) -> None:
    grouped, apart = pair(1)
    for c in (grouped, apart):
        for i in range(20):
            # every receipt under two forms of its id, as an SMSC's hex and decimal ids
            ids = (f"sim-{i}", f"sim-x{i}")
            park_receipt(c, ParkedReceipt(ids, "delivered", None, "2601011200", 100 + i))
        # parked again under the same id: one receipt, kept once
        park_receipt(c, ParkedReceipt(("sim-3",), "failed", 30003, None, 200))
    items = [
        ("sim-1",),
        ("sim-x2", "sim-2"),
        ("sim-3", "sim-x3"),
        ("sim-nothing",),
        ("sim-x1",),  # the first item's receipt again: reading takes nothing away
        tuple(f"sim-{i}" for i in range(10, 40)),
    ]
    together = store._run_batch(grouped, [store._Grouped(parked_receipts_many, i) for i in items])
    one_by_one = [
        store._run_batch(apart, [store._Grouped(parked_receipts_many, i)])[0] for i in items
    ]
    assert together == one_by_one
    assert [len(found) for found in together] == [1, 1, 1, 0, 1, 10]
    assert _dump(grouped) == _dump(apart)
    assert grouped.execute("SELECT count(*) FROM parked_receipts").fetchone() == (41,)
    nothing = store._run_batch(grouped, [store._Grouped(parked_receipts_many, ("x",))])
    assert nothing == [[]]


def test_a_batch_of_finished_callbacks_is_what_they_do_one_by_one(
    pair: Callable[[int], tuple[sqlite3.Connection, ...]],
) -> None:
    grouped, apart = pair(3)
    sids = [m.sid for m in _messages(3)]
    for c in (grouped, apart):
        for i in range(40):
            add_callback(c, _callback(sids[i % 3], str(i)), i)
    ids = [r[0] for r in grouped.execute("SELECT id FROM webhook_outbox ORDER BY id")]

    def attempt(cid: int, n: int) -> CallbackAttempt:
        return CallbackAttempt(cid, n, "http://127.0.0.1:9/cb", 5, 1, 500, None, "no")

    results = [
        CallbackResult(attempt(cid, 1), i % 4 != 0, retry_at_us=99 if i % 5 == 0 else None)
        for i, cid in enumerate(ids)
    ]
    results.append(CallbackResult(attempt(ids[0], 2), True))  # the same callback again
    results.append(
        CallbackResult(attempt(ids[1], 1), True, fallback=attempt(ids[1], 1))
    )  # with its fallback request
    together = store._run_batch(grouped, [store._Grouped(finish_callbacks, r) for r in results])
    for r in results:
        store._run_batch(apart, [store._Grouped(finish_callbacks, r)])
    assert together == [None] * len(results)
    assert _dump(grouped) == _dump(apart)
    assert grouped.execute("SELECT count(*) FROM webhook_outbox").fetchone() == (7,)


def test_key_chunks_rounds_and_row_chunks() -> None:
    assert [len(c) for c in in_chunks(list(range(300)))] == [128, 128, 64]
    assert list(in_chunks([1, 2, 3])) == [[1, 2, 3, 1]]
    assert [len(c) for c in value_chunks(list(range(45)), 8)] == [32, 8, 4, 1]
    assert [len(c) for c in value_chunks(list(range(40)), 100)] == [8, 8, 8, 8, 8]
    assert rounds(["a", "b", "a", "c", "a", "b"]) == [[0, 1, 3], [2, 5], [4]]


class _FastCarrier:
    """Reports delivery from inside submit: before the worker can record ``sent``."""

    name = "fast"

    def __init__(self) -> None:
        self._on_receipt: ReceiptHandler | None = None
        self.pending: set[asyncio.Task[None]] = set()

    def ready(self) -> bool:
        return True

    async def start(self, on_receipt: ReceiptHandler, on_inbound: InboundHandler) -> None:
        self._on_receipt = on_receipt

    async def submit(
        self, sms: OutboundSms, record_part: PartRecorder | None = None
    ) -> SubmitResult:
        assert self._on_receipt is not None
        carrier_id = f"fast-{sms.message_sid}"
        task = asyncio.create_task(self._on_receipt(Receipt(carrier_id, "delivered")))
        self.pending.add(task)
        await asyncio.sleep(0)  # the receipt is handled before submit returns
        return SubmitResult(carrier_id)

    async def close(self) -> None:
        await asyncio.gather(*self.pending)


def test_a_receipt_before_its_sent_is_recorded_is_not_lost(store_home: StoreHome) -> None:
    async def scenario() -> None:
        db = store_home.make()
        await db.open()
        clock = SystemClock()
        now = clock.now()
        sid = new_sid("AC")
        await db.create_account(Account(sid, sid, "t", "token", AccountStatus.ACTIVE, now, now))
        await db.create_number(PhoneNumber(new_sid("PN"), sid, "+15017122661", "n", now, now))
        m = Message(
            sid=new_sid("SM"),
            account_sid=sid,
            to="+15558675310",
            from_="+15017122661",
            body="hi",
            status=Status.QUEUED,
            direction=Direction.OUTBOUND_API,
            num_segments=1,
            num_media=0,
            date_created=now,
            date_updated=now,
        )
        assert await db.insert_outbound(m, 0.0)
        dispatcher = Dispatcher(DeliveryService(db, clock), _FastCarrier())
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            async with asyncio.timeout(10):
                while True:
                    got = await db.get_message_by_sid(m.sid)
                    if got is not None and got.status is Status.DELIVERED:
                        break
                    await asyncio.sleep(0.01)
        finally:
            stop.set()
            await task
            await db.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("first", ["submit", "park"])
def test_on_postgres_a_submit_and_a_receipt_parked_beside_it_cannot_both_miss_each_other(
    first: str,
) -> None:
    """The receipt is parked (it found no carrier reference) while the submit's ``sent``
    records that reference, in two transactions side by side. Whichever commits second
    fails (and runs again, then seeing the other): if both committed, the submit's look at
    the parked receipts could miss this one, which would then wait for the sweep."""
    if not pgdb.reachable():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    (sid,) = [m.sid for m in _messages(1)]
    with pgdb.database() as url:
        setup = _open_pg(url, 1)
        park_side, submit_side = psycopg.connect(url), psycopg.connect(url)
        try:
            pgdelivery.apply_transitions(
                PgConn(setup), [Transition(sid, SENDING, Status.SENDING, 1)]
            )
            setup.commit()
            for conn in (park_side, submit_side):
                conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
            receipt = ParkedReceipt(("c:1",), "delivered", None, None, 2)
            assert park_receipt(PgConn(park_side).as_sqlite(), receipt) is None
            sent = Transition(
                sid, frozenset({Status.SENDING}), Status.SENT, 3, date_sent_us=3, carrier_id="c:1"
            )
            assert pgdelivery.apply_transitions(PgConn(submit_side), [sent])[0] is not None
            winner, loser = (
                (submit_side, park_side) if first == "submit" else (park_side, submit_side)
            )
            winner.commit()
            with pytest.raises(psycopg.errors.SerializationFailure):
                loser.commit()
        finally:
            for conn in (setup, park_side, submit_side):
                conn.close()
