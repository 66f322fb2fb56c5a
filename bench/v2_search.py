#!/usr/bin/env python3
"""v2 search latency at scale (issue 5): GET /v2/Properties/{Sid}/Messages over 1,000,000 messages.

Target: a search with a one-day ``Date_From``/``Date_To`` window and a ``Status`` filter
answers in under 50 ms.

What it does, in order (the seeding is bench/list_latency.py's, reused):

1. a fresh data dir; ``smsgate db upgrade`` creates the schema (the real CLI);
2. a main account with sender numbers and a Messaging Service holding the busiest one
   (AccountService, NumberService, MessagingServices), and a second account;
3. bulk-seeds the messages straight into SQLite with list_latency's RowMaker (rows laid out as
   ``smsgate.store.rows.message_params``, checked on a sample), creation times spread over
   the past 30 days (~33,000 of the main account's a day), then turns 10% into inbound
   ``received`` messages and tags the busiest sender's outbound messages and the inbound
   ones to it with the service's SID: v2 statuses come out ~72% Delivered, ~7% Processing,
   ~6% Submitted, ~4.5% Failed, 10% Received;
4. starts ``smsgate serve`` on a free loopback port, checks every measured URL once against
   the same search done in Python over a plain SQL read (same SIDs, same order), then
   measures each with wrk at 1 connection (latency) and N connections (load), in rounds, with
   the same server's ``/healthz`` as the ceiling, and prints a markdown table of medians.
   Exits non-zero if any request failed.

Run from the repository root, inside the benchmark lock:

    flock /tmp/smsgate-bench.lock .venv/bin/python bench/v2_search.py
    ... bench/v2_search.py --data-dir /tmp/v2b --keep       # keep the seeded data dir
    ... bench/v2_search.py --data-dir /tmp/v2b --reuse      # measure it again, no seeding
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import heapq
import json
import random
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The seeding and wrk helpers of bench/list_latency.py, imported from beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import list_latency as ll
import smsgate
from smsgate.clock import SystemClock
from smsgate.domain.dates import to_us
from smsgate.domain.dialects import V2_DIRECTION, V2_STATUS
from smsgate.domain.messages import Direction, Status
from smsgate.services.accounts import AccountService
from smsgate.services.messaging_services import MessagingServices, ServiceChanges
from smsgate.services.numbers import NumberChanges, NumberService
from smsgate.store.sqlite import DB_FILE, SqliteStore

DAY = 86_400
STATE_FILE = "v2-bench-state.json"
COL = {name: i for i, name in enumerate(ll.COLS)}


@dataclass(frozen=True, slots=True)
class Seeded:
    account_sid: str
    auth_token: str
    service_sid: str
    messages: int
    other_messages: int
    day_from: int  # the measured one-day window, epoch seconds
    day_messages: int  # the main account's messages created in it
    seconds: float


async def _setup(path: Path) -> tuple[Any, Any, list[str], str]:
    store = SqliteStore(path)
    await store.open()
    clock = SystemClock()
    try:
        accounts, numbers = AccountService(store, clock), NumberService(store, clock)
        services = MessagingServices(store, clock)
        main = await accounts.create_main("v2 search bench")
        other = await accounts.create_main("v2 search bench, second account")
        senders = ["+15005550006", "+12025550123", "+13125550000"]
        sids = []
        for phone in senders:
            n = await numbers.create(main, phone, NumberChanges(friendly_name="bench sender"))
            sids.append(n.sid)
        await numbers.create(other, "+16175550199", NumberChanges(friendly_name="other"))
        service = await services.create(main, ServiceChanges(friendly_name="bench service"))
        await services.add_number(main, service.sid, sids[0])
        return main, other, senders, service.sid
    finally:
        await store.close()


def seed(data_dir: Path, smsgate_cmd: list[str], n_main: int, n_other: int) -> Seeded:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / DB_FILE
    ll.subprocess.run([*smsgate_cmd, "db", "upgrade", "--data-dir", str(data_dir)], check=True)
    main, other, senders, service = asyncio.run(_setup(db))
    rng = random.Random(20261125)
    maker = ll.RowMaker(rng)
    ll._check_row_layout(maker, main.sid)
    phones = [f"+1415555{i:04d}" for i in range(1000)]
    now_us = to_us(datetime.now(UTC))
    span = 30 * ll.DAY_US
    start = now_us - span

    def stream(n: int, tag: int) -> Any:
        return ((t, tag) for t in ll._times(rng, n, start, span))

    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1048576")
    n_total = n_main + n_other
    statuses = rng.choices(range(len(ll.STATUSES)), cum_weights=maker.status_cum, k=n_total)
    bodies = rng.choices(range(len(ll.BODIES)), weights=[5, 3, 1, 1], k=n_total)
    batch: list[tuple[Any, ...]] = []
    for k, (created, tag) in enumerate(heapq.merge(stream(n_main, 0), stream(n_other, 1))):
        if tag == 1:
            r = maker.row(
                other.sid, rng.choice(phones), "+16175550199", created, statuses[k], bodies[k]
            )
            batch.append(r)
        else:
            sender = rng.choices(senders, cum_weights=[0.80, 0.95, 1.0])[0]
            row = list(
                maker.row(main.sid, rng.choice(phones), sender, created, statuses[k], bodies[k])
            )
            if rng.random() < 0.10:  # an inbound message: from a phone to our number
                row[COL["to_number"]], row[COL["from_number"]] = sender, row[COL["to_number"]]
                row[COL["direction"]] = Direction.INBOUND.value
                row[COL["status"]] = Status.RECEIVED.value
                row[COL["date_sent"]] = row[COL["list_key"]] = created
                row[COL["date_updated"]] = created
                row[COL["price"]] = row[COL["error_code"]] = row[COL["send_at"]] = None
            if sender == senders[0]:  # the service's number: sent through it or received on it
                row[COL["messaging_service_sid"]] = service
            batch.append(tuple(row))
        if len(batch) >= ll.BATCH:
            ll._insert(conn, batch)
            batch = []
    if batch:
        ll._insert(conn, batch)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    seconds = time.perf_counter() - started
    mid = datetime.now(UTC) - timedelta(days=15)
    day_from = int(datetime(mid.year, mid.month, mid.day, tzinfo=UTC).timestamp())
    day_messages = conn.execute(
        "SELECT count(*) FROM messages WHERE account_sid = ? AND date_created >= ? "
        "AND date_created < ?",
        (main.sid, day_from * 1_000_000, (day_from + DAY) * 1_000_000),
    ).fetchone()[0]
    conn.close()
    seeded = Seeded(
        main.sid, main.auth_token, service, n_main, n_other, day_from, day_messages, seconds
    )
    (data_dir / STATE_FILE).write_text(
        json.dumps({k: getattr(seeded, k) for k in Seeded.__slots__})
    )
    return seeded


def expected_sids(db: Path, account: str, prop: str, params: dict[str, Any]) -> list[str]:
    """The search done the slow, obvious way: read the window, filter and sort in Python."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT sid, date_created, status, direction, messaging_service_sid FROM messages "
            "NOT INDEXED WHERE account_sid = ? AND date_created >= ? AND date_created < ?",
            (account, params["Date_From"] * 1_000_000, params["Date_To"] * 1_000_000),
        ).fetchall()
    finally:
        conn.close()
    keep = []
    for sid, created, status, direction, service in rows:
        if prop.startswith("MG") and service != prop:
            continue
        if "Status" in params and V2_STATUS[Status(status)].value != params["Status"]:
            continue
        if (
            "Direction" in params
            and V2_DIRECTION[Direction(direction)].value != params["Direction"]
        ):
            continue
        keep.append((created, sid))
    keep.sort()
    skip = int(params.get("Results_Skip", 0))
    count = min(int(params.get("Results_Count", 200)), 1000)
    return [sid for _, sid in keep[skip : skip + count]]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000, help="main account's messages")
    ap.add_argument("--other-messages", type=int, default=100_000, help="second account's")
    ap.add_argument("--data-dir", type=Path, help="default: a fresh temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the data dir afterwards")
    ap.add_argument("--reuse", action="store_true", help="measure an already seeded --data-dir")
    ap.add_argument("--smsgate", help="command that runs smsgate (default: the console script)")
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the table has medians")
    ap.add_argument("--connections", type=int, default=8, help="connections of the load runs")
    args = ap.parse_args(argv)

    smsgate_cmd = shlex.split(args.smsgate) if args.smsgate else ll._default_smsgate()
    wrk = shutil.which(args.wrk)
    if wrk is None:
        raise SystemExit(f"wrk not found ({args.wrk})")
    if args.reuse and args.data_dir is None:
        raise SystemExit("--reuse needs --data-dir")
    temp = args.data_dir is None
    data_dir: Path = args.data_dir or Path(tempfile.mkdtemp(prefix="smsgate-v2-bench-"))
    print(f"# v2 search bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {ll._machine()}")
    print(f"smsgate: {' '.join(smsgate_cmd)} (bench imports {Path(smsgate.__file__).parent})")
    print(f"data dir: {data_dir}")
    try:
        if args.reuse:
            seeded = Seeded(**json.loads((data_dir / STATE_FILE).read_text()))
            print(f"reusing seeded data ({seeded.seconds:.1f} s to seed)")
        else:
            if (data_dir / DB_FILE).exists():
                raise SystemExit(f"{data_dir} already has a database; use --reuse or another dir")
            seeded = seed(data_dir, smsgate_cmd, args.messages, args.other_messages)
            total = seeded.messages + seeded.other_messages
            print(f"seeded {total:,} messages in {seeded.seconds:.1f} s")
        size = (data_dir / DB_FILE).stat().st_size
        print(
            f"main account {seeded.messages:,} messages, second account "
            f"{seeded.other_messages:,}; database {size / 2**20:,.0f} MiB; the measured day "
            f"({datetime.fromtimestamp(seeded.day_from, UTC):%Y-%m-%d}) holds "
            f"{seeded.day_messages:,} of the main account's messages"
        )
        return measure(args, smsgate_cmd, wrk, data_dir, seeded)
    finally:
        if temp and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def measure(
    args: argparse.Namespace, smsgate_cmd: list[str], wrk: str, data_dir: Path, seeded: Seeded
) -> int:
    db = data_dir / DB_FILE
    acct, service = seeded.account_sid, seeded.service_sid
    auth = "Basic " + base64.b64encode(f"{acct}:{seeded.auth_token}".encode()).decode()
    lua = data_dir / "auth.lua"
    lua.write_text(ll.LUA.replace("{auth}", auth))
    day = {"Date_From": seeded.day_from, "Date_To": seeded.day_from + DAY}
    skip = seeded.day_messages // 2  # deep into the day's ~72% Delivered
    cases: list[tuple[str, str, str, dict[str, Any]]] = [
        ("b", "account, day, Status=Delivered", acct, {**day, "Status": "Delivered"}),
        ("c", "account, day, Status=Failed", acct, {**day, "Status": "Failed"}),
        ("d", "account, day, Status=Received, Direction=Receive", acct,
         {**day, "Status": "Received", "Direction": "Receive"}),
        ("e", "service, day, Status=Delivered", service, {**day, "Status": "Delivered"}),
        ("f", "account, day, no match (Received + Transmit): the whole day read", acct,
         {**day, "Status": "Received", "Direction": "Transmit"}),
        ("g", f"account, day, Status=Delivered, Results_Skip={skip}", acct,
         {**day, "Status": "Delivered", "Results_Skip": skip}),
        ("h", "account, day, Status=Delivered, Results_Count=1000", acct,
         {**day, "Status": "Delivered", "Results_Count": 1000}),
    ]  # fmt: skip
    server = ll.Server(smsgate_cmd, data_dir, ll._free_port(), data_dir / "serve.log")
    results: list[ll.WrkResult] = []
    try:
        base = server.base
        paths = [("a", "/healthz (ceiling)", "/healthz")]
        for letter, label, prop, params in cases:
            path = f"/v2/Properties/{prop}/Messages?{urllib.parse.urlencode(params)}"
            got = [m["MessageSid"] for m in ll.get_json(base, path, auth)["Messages"]]
            want = expected_sids(db, acct, prop, params)
            if got != want:
                raise SystemExit(f"{path}: {len(got)} messages, SQL says {len(want)} (or order)")
            if letter != "f" and not got:
                raise SystemExit(f"{path}: no messages; the case would measure nothing")
            paths.append((letter, f"{label} ({len(got)} returned)", path))
        for rnd in range(1, args.repeat + 1):
            for letter, label, path in paths:
                for conns in (1, args.connections):
                    r = ll.run_wrk(
                        wrk, lua, base + path, f"({letter}) {label}", conns, args.duration
                    )
                    results.append(r)
                    print(
                        f"  round {rnd} {r.case} c{conns}: {r.rps:,.0f} req/s "
                        f"p50 {r.p50_ms:.2f} p99 {r.p99_ms:.2f} ms errors {r.errors}",
                        flush=True,
                    )
    finally:
        server.stop()
    results = ll.aggregate(results)
    print()
    print(ll.table(results))
    failed = sum(r.errors for r in results)
    if failed:
        print(f"FAILED: {failed} requests did not succeed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
