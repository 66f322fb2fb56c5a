#!/usr/bin/env python3
"""The delivery worker's writes on SQLite, alone: CPU and WAL bytes per delivered message.

The end-to-end benchmark (bench/e2e_throughput.py) runs six processes on two cores, and its
figures move by 20 % or more from run to run on a shared machine: too much to see a change
of a few per cent in one of them. This one runs only what the worker's SQLite writer runs
for each message, in one thread with nothing beside it, so a change to those statements
shows up in its CPU time and in the bytes it appends to the WAL (what the commit writes and
the checkpoint copies back).

What it does, in order:

1. creates an empty SQLite store with smsgate's schema (``smsgate.store.schema.upgrade``),
   one account, and ``--messages`` queued messages from one sender to random ``To`` numbers,
   inserted as the API's writer does (``insert_outbound_many``, 50 a transaction);
2. turns the automatic checkpoint off and empties the WAL, so that its size at the end is
   what the measured part appended;
3. for each batch of ``--batch`` messages runs, as the worker's writer does, one transaction
   each for: ``sending`` and ``sent`` (as one batch, with carrier references, receipt
   deadlines, jobs done and callbacks inserted leased), ``delivered`` (with its callback),
   and the finish of every callback those inserted (outbox rows out, attempts logged);
4. prints the process CPU per message for each of the three kinds of transaction and the WAL
   bytes per message, and with ``--statements`` the CPU of each kind of statement.

It calls the store's transaction functions through the writer's batch runner
(``smsgate.store.sqlite._run_batch``), as the tests of grouped writes do: no event loop, no
writer thread, no lock. To compare two revisions, run it with each one's ``src`` first on
``PYTHONPATH``, alternately, because the machine's speed drifts:

    .venv/bin/python bench/status_writes.py
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/status_writes.py
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from smsgate.domain.delivery import (
    Callback,
    CallbackAttempt,
    CallbackLease,
    CallbackResult,
    JobAction,
    Transition,
)
from smsgate.domain.messages import Direction, Message, Status
from smsgate.ids import new_sid
from smsgate.store import sqlite as store
from smsgate.store.schema import upgrade
from smsgate.store.sqlite_delivery import (
    apply_transition_rows,
    finish_callbacks,
    insert_outbound_many,
)

ACCOUNT = "AC" + "0" * 32
SENDER = "+15005550006"
URL = "http://127.0.0.1:9/status"
SENDING = frozenset({Status.QUEUED, Status.SENDING})
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Timed:
    """The writer's connection, timing each statement by its text (``--statements``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.cpu: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        key = re.sub(r"\(\?[?, ]*\)(, \(\?[?, ]*\))*", "(…)", sql)[:96]
        start = time.process_time()
        cur = self._conn.execute(sql, params)
        self.cpu[key] += time.process_time() - start
        self.calls[key] += 1
        return cur

    def executemany(self, sql: str, seq: Any) -> sqlite3.Cursor:
        return self._conn.executemany(sql, seq)


def _messages(n: int, seed: int) -> list[Message]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        when = T0 + timedelta(milliseconds=i)
        out.append(
            Message(
                sid=new_sid("SM", now_ms=int(when.timestamp() * 1000)),
                account_sid=ACCOUNT,
                to=f"+1555{rnd.randrange(10**7):07d}",
                from_=SENDER,
                body="bench status writes " + str(i),
                status=Status.QUEUED,
                direction=Direction.OUTBOUND_API,
                num_segments=1,
                num_media=0,
                date_created=when,
                date_updated=when,
            )
        )
    return out


def _callback(sid: str, status: str) -> Callback:
    params = (
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("AccountSid", ACCOUNT),
        ("From", SENDER),
        ("To", "+15551234567"),
        ("ApiVersion", "2010-04-01"),
    )
    return Callback(ACCOUNT, sid, "status", URL, "POST", params)


def _submitted(batch: list[Message], now_us: int, lease: CallbackLease) -> list[Transition]:
    changes = []
    for i, m in enumerate(batch):
        at = now_us + 2 * i
        changes.append(
            Transition(
                m.sid,
                SENDING,
                Status.SENDING,
                at,
                callback=_callback(m.sid, "sending"),
                lease=lease,
            )
        )
        changes.append(
            Transition(
                m.sid,
                frozenset({Status.SENDING}),
                Status.SENT,
                at + 1,
                date_sent_us=at + 1,
                carrier_id=f"sim-{m.sid}",
                price="-0.00790",
                price_unit="USD",
                job=JobAction.DONE,
                callback=_callback(m.sid, "sent"),
                receipt_due_us=at + 10**8,
                lease=lease,
            )
        )
    return changes


def _delivered(batch: list[Message], now_us: int, lease: CallbackLease) -> list[Transition]:
    return [
        Transition(
            m.sid,
            frozenset({Status.SENT}),
            Status.DELIVERED,
            now_us + i,
            callback=_callback(m.sid, "delivered"),
            lease=lease,
        )
        for i, m in enumerate(batch)
    ]


def one_pass(n: int, batch: int, seed: int, statements: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="smsgate-status-writes-") as tmp:
        db = Path(tmp) / "smsgate.db"
        upgrade(f"sqlite:///{db}")
        conn = store._connect(db, writer=True)
        conn.execute(
            "INSERT INTO accounts VALUES (?, ?, 'bench', 'token', 'active', 0, 0)",
            (ACCOUNT, ACCOUNT),
        )
        messages = _messages(n, seed)
        for start in range(0, n, 50):
            chunk = messages[start : start + 50]
            store._run_batch(conn, [store._Grouped(insert_outbound_many, (m, 0.0)) for m in chunk])
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        timed = Timed(conn)
        c: Any = timed if statements else conn
        lease = CallbackLease("bench", 2**62)
        cpu = {"sending+sent": 0.0, "delivered": 0.0, "callbacks finished": 0.0}
        now = 10**15
        for start in range(0, n, batch):
            chunk = messages[start : start + batch]
            for kind, changes in (
                ("sending+sent", _submitted(chunk, now, lease)),
                ("delivered", _delivered(chunk, now + 10**6, lease)),
            ):
                t = time.process_time()
                results = store._run_batch(
                    c, [store._Grouped(apply_transition_rows, x) for x in changes]
                )
                cpu[kind] += time.process_time() - t
                # The callbacks inserted leased, and those that waited behind them.
                ids = [r[1] for r in results if r is not None and r[1] is not None]
                waiting = conn.execute("SELECT id FROM webhook_outbox WHERE lease_owner IS NULL")
                ids += [row[0] for row in waiting.fetchall()]
                done = [
                    CallbackResult(CallbackAttempt(i, 1, URL, now, 2, 204, None, ""), True)
                    for i in ids
                ]
                t = time.process_time()
                store._run_batch(c, [store._Grouped(finish_callbacks, r) for r in done])
                cpu["callbacks finished"] += time.process_time() - t
            now += 10**4
        left = conn.execute("SELECT count(*) FROM webhook_outbox").fetchone()[0]
        delivered = conn.execute(
            "SELECT count(*) FROM messages WHERE status = 'delivered'"
        ).fetchone()[0]
        wal = (db.parent / (db.name + "-wal")).stat().st_size
        conn.close()
    if left or delivered != n:
        sys.exit(f"check failed: {delivered} of {n} delivered, {left} callbacks left")
    return {
        "cpu": {k: v / n * 1e6 for k, v in cpu.items()},
        "wal": wal / n,
        "statements": {k: (v / n * 1e6, timed.calls[k]) for k, v in timed.cpu.most_common(16)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=40, help="messages per transaction")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--statements", action="store_true", help="CPU by statement")
    args = parser.parse_args()
    passes = [
        one_pass(args.messages, args.batch, seed, args.statements) for seed in range(args.passes)
    ]
    kinds = list(passes[0]["cpu"])
    print(
        f"{args.messages:,} messages, {args.batch} a transaction; SQLite "
        f"{sqlite3.sqlite_version}; {args.passes} passes (median, then each)\n"
    )
    print("| measure | median | passes |\n|---|---:|---|")
    for kind in kinds:
        values = [p["cpu"][kind] for p in passes]
        each = ", ".join(f"{v:.1f}" for v in values)
        print(f"| CPU µs per message: {kind} | {statistics.median(values):.1f} | {each} |")
    totals = [sum(p["cpu"].values()) for p in passes]
    each = ", ".join(f"{v:.1f}" for v in totals)
    print(f"| CPU µs per message: all | {statistics.median(totals):.1f} | {each} |")
    wal = [p["wal"] / 1024 for p in passes]
    each = ", ".join(f"{v:.1f}" for v in wal)
    print(f"| WAL KiB per message | {statistics.median(wal):.1f} | {each} |")
    if args.statements:
        print("\n| statement (first pass) | CPU µs per message | calls |\n|---|---:|---:|")
        for key, (us, calls) in passes[0]["statements"].items():
            print(f"| `{key}` | {us:.1f} | {calls} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
