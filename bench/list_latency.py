#!/usr/bin/env python3
"""List latency at scale (issue 2): Messages list pages on an account with 1,000,000 messages.

Target: a page of 50 with a ``To`` filter has p99 under 20 ms, and a deep ``PageToken`` page
costs no more than twice the first page.

What it does, in order:

1. a fresh data dir; ``smsgate db upgrade`` creates the schema (the real CLI);
2. a main account and its sender numbers through the project's services
   (AccountService.create_main, NumberService.create), plus a second account so that every
   list has to use the account filter;
3. bulk-seeds the messages straight into SQLite in large transactions, rows laid out exactly
   as ``smsgate.store.rows.message_params`` lays them out (checked on a sample): ~1,000
   distinct ``To`` numbers with a Zipf-skewed distribution, 90% sent over the past 30 days,
   the rest unsent, time-ordered SIDs minted with ``smsgate.ids.new_sid``;
4. starts ``smsgate serve`` on that data dir on a free loopback port, checks every measured
   URL once with urllib (status, page size, and that deep pages start where SQL says), then
   measures each with wrk at 1 connection (latency) and N connections (load), in rounds
   (--repeat, each case once per round), and prints a markdown table of the medians with
   the spread of p99 over the rounds. Exits non-zero if any request failed.

Run from the repository root:

    python bench/list_latency.py                  # 1,000,000 + 100,000 messages, 3 x 5 s runs
    python bench/list_latency.py --data-dir /tmp/lb --keep      # keep the seeded data dir
    python bench/list_latency.py --data-dir /tmp/lb --reuse     # measure it again, no seeding
    createdb -h 127.0.0.1 -U postgres listbench && python bench/list_latency.py \
        --database-url postgresql://postgres@127.0.0.1/listbench  # the same on PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import heapq
import json
import os
import platform
import random
import re
import shlex
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

import smsgate
from smsgate.clock import SystemClock
from smsgate.domain import segments
from smsgate.domain.dates import from_us, to_us
from smsgate.domain.messages import Direction, Message, Status
from smsgate.ids import new_sid
from smsgate.services.accounts import AccountService
from smsgate.services.numbers import NumberChanges, NumberService
from smsgate.store import rows
from smsgate.store.sqlite import DB_FILE, SqliteStore

DAY_US = 86_400_000_000
UNSENT_SHIFT = 1 << 62  # smsgate.domain.messages.list_key; checked by _check_row_layout
COLS = [c.strip() for c in rows.MESSAGE_COLS.split(",")]
INSERT = f"INSERT INTO messages ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})"
BATCH = 50_000
PAGE_SIZE = 50
MEDIA_URL = "https://example.com/cat.jpg"
STATE_FILE = "bench-state.json"

# (status, sent?, error code, share): 90% have a date_sent, 10% are still unsent.
STATUSES: list[tuple[Status, bool, int | None, float]] = [
    (Status.DELIVERED, True, None, 0.80),
    (Status.SENT, True, None, 0.07),
    (Status.UNDELIVERED, True, 30003, 0.03),
    (Status.FAILED, False, 30008, 0.02),
    (Status.QUEUED, False, None, 0.05),
    (Status.ACCEPTED, False, None, 0.01),
    (Status.SCHEDULED, False, None, 0.02),
]
BODIES = [
    "Your verification code is {code}. It expires in 10 minutes.",
    "Hi! Your order #{code} has shipped and will arrive tomorrow between 9am and 1pm. "
    "Reply STOP to opt out. Track it at https://example.com/t/{code} - thanks for shopping "
    "with us, we hope to see you again soon. Questions? Just reply to this message.",
    "Rappel : rendez-vous demain à 10h30, réf. {code}. Répondez OUI pour confirmer 👍",
    "ok {code}",
]


# -- seeding ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the measuring half needs to know about a seeded data dir."""

    account_sid: str
    auth_token: str
    other_account_sid: str
    senders: list[str]
    hot_to: str
    hot_to_count: int
    warm_to: str
    warm_to_count: int
    messages: int
    other_messages: int
    seconds: float


def _store(path: Path, database_url: str | None) -> Any:
    if database_url is not None:
        from smsgate.store.postgres import PostgresStore

        return PostgresStore(database_url, media_dir=path.parent / "media")
    return SqliteStore(path)


async def _create_accounts(path: Path, database_url: str | None) -> tuple[Any, Any, list[str]]:
    store = _store(path, database_url)
    await store.open()
    clock = SystemClock()
    try:
        accounts, numbers = AccountService(store, clock), NumberService(store, clock)
        main = await accounts.create_main("list latency bench")
        other = await accounts.create_main("list latency bench, second account")
        senders = ["+15005550006", "+12025550123", "+13125550000"]
        for phone in senders:
            await numbers.create(main, phone, NumberChanges(friendly_name="bench sender"))
        await numbers.create(other, "+16175550199", NumberChanges(friendly_name="other"))
        return main, other, senders
    finally:
        await store.close()


def _times(rng: random.Random, n: int, start_us: int, span_us: int) -> Iterator[int]:
    """``n`` increasing creation instants spread evenly over ``span_us`` with jitter."""
    step = span_us / n
    for i in range(n):
        yield start_us + int((i + rng.random()) * step)


def _zipf_cum_weights(n: int, s: float) -> list[float]:
    total, out = 0.0, []
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        out.append(total)
    return out


class RowMaker:
    """Builds message rows (tuples in MESSAGE_COLS order) without building Message objects."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.bodies = []
        for template in BODIES:
            info = segments.analyze(template.format(code="123456"))
            self.bodies.append((template, info.encoding.value, info.num_segments))
        self.status_cum: list[float] = []
        acc = 0.0
        for *_, share in STATUSES:
            acc += share
            self.status_cum.append(acc)

    def row(
        self, account_sid: str, to: str, from_: str, created_us: int, status_i: int, body_i: int
    ) -> tuple[Any, ...]:
        rng = self.rng
        status, sent, error, _ = STATUSES[status_i]
        template, encoding, num_segments = self.bodies[body_i]
        media = rng.random() < 0.02
        sid = new_sid("MM" if media else "SM", now_ms=created_us // 1000)
        date_sent = created_us + rng.randrange(500_000, 5_000_000) if sent else None
        list_key = date_sent if date_sent is not None else created_us - UNSENT_SHIFT
        final = status in (Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.SENT)
        return (
            sid,
            account_sid,
            to,
            from_,
            template.format(code=rng.randrange(100_000, 1_000_000)),
            status.value,
            Direction.OUTBOUND_API.value,
            num_segments,
            1 if media else 0,
            created_us,
            date_sent if date_sent is not None else created_us,
            date_sent,
            list_key,
            None,
            f"-{0.0079 * num_segments:.5f}" if final else None,
            "USD",
            error,
            None,
            None,
            None,
            created_us + DAY_US if status is Status.SCHEDULED else None,
            encoding,
            f'["{MEDIA_URL}"]' if media else "[]",
            "{}",
        )


def _check_row_layout(maker: RowMaker, account_sid: str) -> None:
    """The fast rows must be exactly what the store itself would write for the same Message."""
    now_us = to_us(datetime.now(UTC))
    for status_i in range(len(STATUSES)):
        for body_i in range(len(BODIES)):
            r = maker.row(account_sid, "+14155550000", "+15005550006", now_us, status_i, body_i)
            d = dict(zip(COLS, r, strict=True))
            m = Message(
                sid=d["sid"],
                account_sid=account_sid,
                to=d["to_number"],
                from_=d["from_number"],
                body=d["body"],
                status=Status(d["status"]),
                direction=Direction(d["direction"]),
                num_segments=d["num_segments"],
                num_media=d["num_media"],
                date_created=from_us(d["date_created"]),
                date_updated=from_us(d["date_updated"]),
                date_sent=None if d["date_sent"] is None else from_us(d["date_sent"]),
                price=d["price"],
                price_unit=d["price_unit"],
                error_code=d["error_code"],
                send_at=None if d["send_at"] is None else from_us(d["send_at"]),
                encoding=d["encoding"],
                media_urls=orjson.loads(d["media_urls"]),
            )
            expected = rows.message_params(m)
            if d != expected:
                diff = {k: (d[k], expected[k]) for k in COLS if d[k] != expected[k]}
                raise SystemExit(f"seed rows drifted from rows.message_params: {diff}")


def seed(
    data_dir: Path,
    smsgate_cmd: list[str],
    n_main: int,
    n_other: int,
    database_url: str | None = None,
) -> Seeded:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / DB_FILE
    store_args = ["--database-url", database_url] if database_url else []
    subprocess.run(
        [*smsgate_cmd, "db", "upgrade", "--data-dir", str(data_dir), *store_args], check=True
    )
    main, other, senders = asyncio.run(_create_accounts(db, database_url))
    rng = random.Random(20261125)
    maker = RowMaker(rng)
    _check_row_layout(maker, main.sid)

    to_numbers = [f"+1415555{i:04d}" for i in range(1000)]
    to_cum = _zipf_cum_weights(len(to_numbers), 1.0)
    sender_cum = [0.80, 0.95, 1.0]
    now_us = to_us(datetime.now(UTC))
    span = 30 * DAY_US
    start = now_us - span

    def stream(n: int, tag: int) -> Iterator[tuple[int, int]]:
        return ((t, tag) for t in _times(rng, n, start, span))

    started = time.perf_counter()
    sink = _PgSink(database_url) if database_url else _SqliteSink(db)
    n_total = n_main + n_other
    tos = rng.choices(to_numbers, cum_weights=to_cum, k=n_main)
    froms = rng.choices(senders, cum_weights=sender_cum, k=n_main)
    other_tos = rng.choices(to_numbers, k=n_other)
    statuses = rng.choices(range(len(STATUSES)), cum_weights=maker.status_cum, k=n_total)
    bodies = rng.choices(range(len(BODIES)), weights=[5, 3, 1, 1], k=n_total)
    batch: list[tuple[Any, ...]] = []
    i_main = i_other = 0
    for k, (created, tag) in enumerate(heapq.merge(stream(n_main, 0), stream(n_other, 1))):
        if tag == 0:
            r = maker.row(main.sid, tos[i_main], froms[i_main], created, statuses[k], bodies[k])
            i_main += 1
        else:
            r = maker.row(
                other.sid, other_tos[i_other], "+16175550199", created, statuses[k], bodies[k]
            )
            i_other += 1
        batch.append(r)
        if len(batch) >= BATCH:
            sink.insert(batch)
            batch = []
    if batch:
        sink.insert(batch)
    counts = sink.finish(main.sid)
    seconds = time.perf_counter() - started
    by_count = sorted(counts, key=lambda c: -c[1])
    hot_to, hot_n = by_count[0]
    warm_to, warm_n = min(by_count, key=lambda c: abs(c[1] - 1000))
    seeded = Seeded(
        main.sid, main.auth_token, other.sid, senders,
        hot_to, hot_n, warm_to, warm_n, n_main, n_other, seconds,
    )  # fmt: skip
    (data_dir / STATE_FILE).write_text(json.dumps(_as_dict(seeded)))
    return seeded


def _as_dict(s: Seeded) -> dict[str, Any]:
    return {name: getattr(s, name) for name in Seeded.__slots__}


COUNT_TO = "SELECT to_number, count(*) FROM messages WHERE account_sid = ? GROUP BY to_number"


class _SqliteSink:
    """Bulk rows into the SQLite file, in large transactions."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -1048576")
        self.conn.execute("PRAGMA temp_store = MEMORY")

    def insert(self, batch: list[tuple[Any, ...]]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(INSERT, batch)
        self.conn.execute("COMMIT")

    def finish(self, account_sid: str) -> list[Any]:
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = self.conn.execute(COUNT_TO, (account_sid,)).fetchall()
        self.conn.close()
        return counts


class _PgSink:
    """Bulk rows into PostgreSQL with COPY, then ANALYZE (as autovacuum would, later)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)

    def insert(self, batch: list[tuple[Any, ...]]) -> None:
        with self.conn.cursor().copy(f"COPY messages ({', '.join(COLS)}) FROM STDIN") as copy:
            for r in batch:
                copy.write_row(r)
        self.conn.commit()

    def finish(self, account_sid: str) -> list[Any]:
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE messages")
        counts = self.conn.execute(COUNT_TO.replace("?", "%s"), (account_sid,)).fetchall()
        self.conn.close()
        return counts


# -- serving and measuring --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(
        self, cmd: list[str], data_dir: Path, port: int, log: Path, extra: Sequence[str] = ()
    ) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        args = ["serve", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
        args += list(extra)
        self.proc = subprocess.Popen(
            [*cmd, *args, "--no-bootstrap", "--log-level", "warning"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"smsgate serve exited with {self.proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("smsgate serve did not answer /healthz within 30 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def get_json(base: str, path: str, auth: str) -> dict[str, Any]:
    if not base.startswith("http://127.0.0.1:"):
        raise ValueError(f"the bench only talks to loopback, not {base}")
    req = urllib.request.Request(base + path, headers={"Authorization": auth})  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        if resp.status != 200:
            raise SystemExit(f"GET {path}: HTTP {resp.status}")
        body: dict[str, Any] = orjson.loads(resp.read())
        return body


def _page_sids(body: dict[str, Any]) -> list[str]:
    return [m["sid"] for m in body["messages"]]


def _expect_page(body: dict[str, Any], path: str, first_sid: str | None = None) -> None:
    sids = _page_sids(body)
    if len(sids) != PAGE_SIZE:
        raise SystemExit(f"GET {path}: {len(sids)} messages, expected {PAGE_SIZE}")
    if first_sid is not None and sids[0] != first_sid:
        raise SystemExit(f"GET {path}: page starts at {sids[0]}, SQL says {first_sid}")


def _sql_sid_at(
    db: Path,
    account: str,
    where: str,
    params: Sequence[Any],
    offset: int,
    database_url: str | None = None,
) -> str:
    """The SID at ``offset`` in a list, as the list orders (list_key DESC, sid DESC)."""
    sql = (
        f"SELECT sid FROM messages WHERE account_sid = ? {where} "
        "ORDER BY list_key DESC, sid DESC LIMIT 1 OFFSET ?"
    )
    if database_url is not None:
        import psycopg

        with psycopg.connect(database_url) as pg:
            row = pg.execute(sql.replace("?", "%s"), (account, *params, offset)).fetchone()
    else:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = conn.execute(sql, (account, *params, offset)).fetchone()
        finally:
            conn.close()
    if row is None:
        raise SystemExit(f"no row at offset {offset}")
    sid: str = row[0]
    return sid


def walk(base: str, first: str, auth: str, pages: int) -> tuple[str, int]:
    """Follow next_page_uri ``pages`` times; return the URI reached and the rows walked.

    Along the way: no SID may repeat and every page but the last must be full.
    """
    seen: set[str] = set()
    path = first
    for _ in range(pages):
        body = get_json(base, path, auth)
        sids = _page_sids(body)
        if len(sids) != PAGE_SIZE or seen.intersection(sids):
            raise SystemExit(f"walk broke at {path}: {len(sids)} rows or repeats")
        seen.update(sids)
        nxt = body["next_page_uri"]
        if nxt is None:
            raise SystemExit(f"walk ended early at {path}")
        path = nxt
    return path, len(seen)


@dataclass(frozen=True, slots=True)
class WrkResult:
    case: str
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    p99_range: tuple[float, float] = (0.0, 0.0)  # over repeated runs (see aggregate)


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"cannot read wrk duration {text!r}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_wrk(case: str, connections: int, out: str) -> WrkResult:
    pct = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return WrkResult(
        case, connections, requests, rps,
        _ms(pct["50"]), _ms(pct["90"]), _ms(pct["99"]), errors,
    )  # fmt: skip


LUA = """-- Basic auth for every request; wrk's own counters report non-2xx responses.
wrk.method = "GET"
wrk.headers["Authorization"] = "{auth}"
"""


def run_wrk(wrk: str, lua: Path, url: str, case: str, connections: int, seconds: int) -> WrkResult:
    cmd = [
        wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
        "-s", str(lua), url,
    ]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return parse_wrk(case, connections, out)


def aggregate(runs: list[WrkResult]) -> list[WrkResult]:
    """One row per (case, connections): the median of each figure over the repeated runs,
    the p99 spread, and the total requests and errors."""
    groups: dict[tuple[str, int], list[WrkResult]] = {}
    for r in runs:
        groups.setdefault((r.case, r.connections), []).append(r)
    out = []
    for (case, conns), rs in groups.items():
        p99s = [r.p99_ms for r in rs]
        out.append(
            WrkResult(
                case,
                conns,
                sum(r.requests for r in rs),
                statistics.median(r.rps for r in rs),
                statistics.median(r.p50_ms for r in rs),
                statistics.median(r.p90_ms for r in rs),
                statistics.median(p99s),
                sum(r.errors for r in rs),
                (min(p99s), max(p99s)),
            )
        )
    return out


def table(results: list[WrkResult]) -> str:
    lines = [
        "| case | conns | req/s | p50 ms | p90 ms | p99 ms | p99 range | requests | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lo, hi = r.p99_range
        lines.append(
            f"| {r.case} | {r.connections} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} "
            f"| {r.p99_ms:.2f} | {lo:.1f}-{hi:.1f} | {r.requests:,} | {r.errors} |"
        )
    return "\n".join(lines)


def _default_smsgate() -> list[str]:
    beside = Path(sys.executable).parent / "smsgate"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("smsgate")
    if found is None:
        raise SystemExit("no smsgate console script found; pass --smsgate CMD")
    return [found]


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, " + (
        f"SQLite {sqlite3.sqlite_version}"
    )


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
    ap.add_argument("--walk", type=int, default=100, help="pages to walk for the deep To page")
    ap.add_argument("--deep-page", type=int, default=10_000, help="unfiltered deep page number")
    ap.add_argument("--only", help="comma-separated case letters to measure (default: all)")
    ap.add_argument(
        "--database-url",
        help="seed and serve an empty PostgreSQL database (postgresql://…) instead of SQLite",
    )
    args = ap.parse_args(argv)

    smsgate_cmd = shlex.split(args.smsgate) if args.smsgate else _default_smsgate()
    wrk = shutil.which(args.wrk)
    if wrk is None:
        raise SystemExit(f"wrk not found ({args.wrk})")
    if args.reuse and args.data_dir is None:
        raise SystemExit("--reuse needs --data-dir")
    temp = args.data_dir is None
    data_dir: Path = args.data_dir or Path(tempfile.mkdtemp(prefix="smsgate-list-bench-"))
    print(f"# List latency bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {_machine()}")
    print(f"smsgate: {' '.join(smsgate_cmd)} (bench imports {Path(smsgate.__file__).parent})")
    print(f"data dir: {data_dir}")
    try:
        if args.reuse:
            state = json.loads((data_dir / STATE_FILE).read_text())
            seeded = Seeded(**state)
            print(f"reusing seeded data ({seeded.seconds:.1f} s to seed)")
        else:
            if (data_dir / DB_FILE).exists():
                raise SystemExit(f"{data_dir} already has a database; use --reuse or another dir")
            seeded = seed(
                data_dir, smsgate_cmd, args.messages, args.other_messages, args.database_url
            )
            total = seeded.messages + seeded.other_messages
            print(
                f"seeded {total:,} messages in {seeded.seconds:.1f} s "
                f"({total / seeded.seconds:,.0f} rows/s)"
            )
        size = _db_size(data_dir, args.database_url)
        print(
            f"main account {seeded.messages:,} messages, second account "
            f"{seeded.other_messages:,}; database {size / 2**20:,.0f} MiB\n"
            f"hot To {seeded.hot_to}: {seeded.hot_to_count:,} messages; "
            f"warm To {seeded.warm_to}: {seeded.warm_to_count:,}"
        )
        return measure(args, smsgate_cmd, wrk, data_dir, seeded)
    finally:
        if temp and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def _db_size(data_dir: Path, database_url: str | None) -> int:
    if database_url is None:
        return (data_dir / DB_FILE).stat().st_size
    import psycopg

    with psycopg.connect(database_url) as pg:
        row = pg.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def measure(
    args: argparse.Namespace, smsgate_cmd: list[str], wrk: str, data_dir: Path, seeded: Seeded
) -> int:
    db = data_dir / DB_FILE
    acct = seeded.account_sid
    auth = "Basic " + base64.b64encode(f"{acct}:{seeded.auth_token}".encode()).decode()
    lua = data_dir / "auth.lua"
    lua.write_text(LUA.replace("{auth}", auth))
    msgs = f"/2010-04-01/Accounts/{acct}/Messages.json"

    def q(**params: str) -> str:
        """A list URI; ``DateSent_gte`` stands for ``DateSent>`` (``DateSent>=day`` on the wire)."""
        pairs = [(k.replace("_gte", ">").replace("_lte", "<"), v) for k, v in params.items()]
        return msgs + "?" + urllib.parse.urlencode(pairs)

    hot = seeded.hot_to
    mid_day = (datetime.now(UTC) - timedelta(days=15)).strftime("%Y-%m-%d")
    url = args.database_url
    extra = ["--database-url", url, "--no-worker"] if url else []
    server = Server(smsgate_cmd, data_dir, _free_port(), data_dir / "serve.log", extra)
    results: list[WrkResult] = []
    try:
        base = server.base
        first_to = q(To=hot, PageSize=str(PAGE_SIZE))
        t0 = time.perf_counter()
        deep_to, walked = walk(base, first_to, auth, args.walk)
        walk_s = time.perf_counter() - t0
        print(f"walked {args.walk} pages of To={hot} ({walked:,} rows) in {walk_s:.2f} s")
        _expect_page(
            get_json(base, deep_to, auth),
            deep_to,
            _sql_sid_at(db, acct, "AND to_number = ?", (hot,), walked, url),
        )
        deep_n = args.deep_page
        boundary = _sql_sid_at(db, acct, "", (), deep_n * PAGE_SIZE - 1, url)
        deep_all = q(PageSize=str(PAGE_SIZE), Page=str(deep_n), PageToken="PA" + boundary)
        deep_first = _sql_sid_at(db, acct, "", (), deep_n * 50, url)
        _expect_page(get_json(base, deep_all, auth), deep_all, deep_first)
        date_sent = q(DateSent_gte=mid_day, PageSize=str(PAGE_SIZE))
        # A rare To inside a DateSent range, a few pages deep: the shape whose plan left the
        # To index when the range and the page boundary were two separate bounds.
        warm = seeded.warm_to
        to_range = q(To=warm, DateSent_lte=mid_day, PageSize=str(PAGE_SIZE))
        deep_to_range, _ = walk(base, to_range, auth, 5)
        # A conversation: To and From together, a rare To from the busiest sender.
        to_from = q(To=warm, From=seeded.senders[0], PageSize=str(PAGE_SIZE))
        cases = [
            ("a", "/healthz (ceiling)", "/healthz"),
            ("b", f"first page, To (hot, {seeded.hot_to_count:,} msgs)", first_to),
            ("c", f"deep page, To, page {args.walk} via PageToken", deep_to),
            ("d", "first page, no filter", q(PageSize=str(PAGE_SIZE))),
            ("e", f"deep page, no filter, page {deep_n:,} via PageToken", deep_all),
            ("f", f"first page, DateSent>={mid_day}", date_sent),
            ("g", f"page 5, To (rare) + DateSent<={mid_day}, via PageToken", deep_to_range),
            ("h", "first page, To (rare) + From", to_from),
        ]
        only = set(args.only.split(",")) if args.only else None
        for _, _, path in cases:
            if path != "/healthz":
                _expect_page(get_json(base, path, auth), path)
        # Rounds go over every case in turn, so a burst of noise from elsewhere on the
        # machine lands in one run of several cases, not in every run of one case.
        for rnd in range(1, args.repeat + 1):
            for letter, label, path in cases:
                if only is not None and letter not in only:
                    continue
                for conns in (1, args.connections):
                    url = base + path
                    r = run_wrk(wrk, lua, url, f"({letter}) {label}", conns, args.duration)
                    results.append(r)
                    print(
                        f"  round {rnd} {r.case} c{conns}: {r.rps:,.0f} req/s "
                        f"p50 {r.p50_ms:.2f} p99 {r.p99_ms:.2f} ms errors {r.errors}",
                        flush=True,
                    )
    finally:
        server.stop()
    results = aggregate(results)
    print()
    print(table(results))
    print()
    by = {(r.case[:3], r.connections): r for r in results}
    for conns in (1, args.connections):
        first, deep = by.get(("(b)", conns)), by.get(("(c)", conns))
        if first and deep:
            print(
                f"deep/first (To) at c{conns}: p50 {deep.p50_ms / first.p50_ms:.2f}x, "
                f"p99 {deep.p99_ms / first.p99_ms:.2f}x"
            )
        first, deep = by.get(("(d)", conns)), by.get(("(e)", conns))
        if first and deep:
            print(
                f"deep/first (no filter) at c{conns}: p50 {deep.p50_ms / first.p50_ms:.2f}x, "
                f"p99 {deep.p99_ms / first.p99_ms:.2f}x"
            )
    failed = sum(r.errors for r in results)
    if failed:
        print(f"FAILED: {failed} requests did not succeed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
