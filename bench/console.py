#!/usr/bin/env python3
"""The web console at scale (issue 8): the log's first page at 1,000,000 messages, and the
live feed under 200 status changes per second.

Targets: the first page of the log (``GET /console/{Account}/messages``, the whole HTML
page) answers in under 100 ms at 1,000,000 messages; the live feed keeps up with 200 status
changes/s (its lag, from a change's ``date_updated`` to the event reaching the client, stays
bounded and every message's final status is reported).

What it does, in order:

1. seeds a fresh data dir exactly as bench/list_latency.py does (``smsgate db upgrade``,
   then 1,000,000 messages for the measured account and 100,000 for another, straight into
   SQLite), or reuses one (``--reuse``);
2. starts ``smsgate serve --sender-mps 0`` on it (worker inside, simulator carrier) on a free
   loopback port and signs in to the console with the account's SID and token (the real
   sign-in form and its CSRF token) to get a session cookie;
3. measures with wrk, 1 connection, ``--duration`` seconds each, ``--repeat`` rounds: the
   ceiling ``GET /healthz``; the log's first page; the same page's live fragment (what the
   script re-reads on a change); the first page with a status filter, a number filter, and
   a body search; a deep page (``after=`` a SID 500,000 rows down);
4. opens the live feed (``GET /console/{Account}/events``) and creates messages through the
   API at ``--rate`` per second for ``--feed-seconds``; each then goes through three status
   changes (sending, sent, delivered), so the default 67/s is 200 status changes/s (plus the
   creations); waits until every one is reported ``delivered`` and reports the status
   changes/s, the events/s received, and the lag from each change's ``date_updated`` to its
   event reaching the client (the feed reports the latest version of a row it sees, so two
   changes within one poll are one event).

Run from the repository root (needs ``wrk``):

    .venv/bin/python bench/console.py --data-dir /tmp/console-bench --keep
    .venv/bin/python bench/console.py --data-dir /tmp/console-bench --reuse
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from list_latency import (
    STATE_FILE,
    Seeded,
    Server,
    WrkResult,
    _default_smsgate,
    _free_port,
    _machine,
    aggregate,
    run_wrk,
    seed,
    table,
)
from smsgate.store.sqlite import DB_FILE

LUA = """-- the console's session cookie on every request
wrk.method = "GET"
wrk.headers["Cookie"] = "{cookie}"
"""


def sign_in(base: str, sid: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=True)
    page = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post("/console/login", data={"csrf": csrf, "username": sid, "password": token})
    if r.status_code != 200 or "/messages" not in str(r.url):
        raise SystemExit(f"console sign-in failed: {r.status_code} {r.url}")
    return client


def check(client: httpx.Client, path: str, want_rows: int | None) -> None:
    r = client.get(path)
    if r.status_code != 200:
        raise SystemExit(f"{path}: HTTP {r.status_code}")
    rows = len(re.findall(r'<tr data-sid="', r.text))
    if want_rows is not None and rows != want_rows:
        raise SystemExit(f"{path}: {rows} rows, expected {want_rows}")


def sid_at(db: Path, account: str, offset: int) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT sid FROM messages WHERE account_sid = ? ORDER BY list_key DESC, sid DESC "
            "LIMIT 1 OFFSET ?",
            (account, offset),
        ).fetchone()
        return str(row[0])
    finally:
        conn.close()


def measure_pages(
    args: argparse.Namespace, server: Server, client: httpx.Client, seeded: Seeded, db: Path
) -> list[WrkResult]:
    base = f"/console/{seeded.account_sid}/messages"
    down = seeded.messages // 2
    deep = sid_at(db, seeded.account_sid, down)
    cases = {
        "GET /healthz (ceiling)": ("/healthz", None),
        "log, first page (HTML page)": (base, 50),
        "log, first page (live fragment)": (base + "?fragment=1", 50),
        "log, status=failed": (base + "?status=failed", None),
        f"log, number={seeded.warm_to}": (base + "?number=%2B" + seeded.warm_to[1:], 50),
        "log, body search 'code'": (base + "?q=code", None),
        f"log, {down:,} rows down (after=)": (base + f"?after={deep}", 50),
    }
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "cookie.lua"
        lua.write_text(LUA.format(cookie=cookie))
        for path, rows in cases.values():
            check(client, path, rows)
        runs = []
        for _ in range(args.repeat):
            for case, (path, _rows) in cases.items():
                runs.append(run_wrk(args.wrk, lua, server.base + path, case, 1, args.duration))
    return aggregate(runs)


def measure_feed(
    args: argparse.Namespace, server: Server, client: httpx.Client, seeded: Seeded, db: Path
) -> dict[str, Any]:
    """Creates at --rate/s for --feed-seconds while one client follows the feed."""
    events: list[tuple[float, dict[str, Any]]] = []
    opened = threading.Event()
    done = threading.Event()

    def follow() -> None:
        path = f"/console/{seeded.account_sid}/events"
        try:
            with client.stream("GET", path, timeout=None) as r:
                opened.set()
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        events.append((time.time(), orjson.loads(line[6:])))
                    if done.is_set():
                        return
        except httpx.HTTPError:
            if not done.is_set():
                raise

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    opened.wait(10)
    time.sleep(1)
    api = httpx.Client(
        base_url=server.base, auth=(seeded.account_sid, seeded.auth_token), timeout=30
    )
    url = f"/2010-04-01/Accounts/{seeded.account_sid}/Messages.json"
    created: list[str] = []
    started = time.time()
    interval = 1 / args.rate
    n = int(args.rate * args.feed_seconds)
    for i in range(n):
        due = started + i * interval
        if (pause := due - time.time()) > 0:
            time.sleep(pause)
        r = api.post(
            url, data={"To": f"+1415666{i % 10000:04d}", "From": seeded.senders[0], "Body": "feed"}
        )
        if r.status_code != 201:
            raise SystemExit(f"create failed: {r.status_code} {r.text}")
        created.append(r.json()["sid"])
    load_end = time.time()
    wanted = set(created)

    def finals() -> set[str]:
        return {e["sid"] for _, e in events if e["status"] == "delivered"} & wanted

    deadline = time.time() + 60
    while len(finals()) < len(wanted) and time.time() < deadline:
        time.sleep(0.1)
    done.set()
    api.close()
    mine = [(t, e) for t, e in events if e["sid"] in wanted]
    lags = sorted(t * 1000 - e["date_updated_us"] / 1000 for t, e in mine)
    first_create = min(e["date_updated_us"] for _, e in mine) / 1e6 if mine else started
    last_change = max(e["date_updated_us"] for _, e in mine) / 1e6 if mine else load_end
    # the status changes the rows went through: sending, sent, delivered
    changes = 3 * len(created)
    return {
        "created": len(created),
        "create_seconds": round(load_end - started, 1),
        "status_changes": changes,
        "status_changes_per_s": round(changes / max(last_change - first_create, 1e-9), 1),
        "events": len(mine),
        "events_per_s": round(len(mine) / max(last_change - first_create, 1e-9), 1),
        "delivered_reported": len(finals()),
        "lag_p50_ms": round(statistics.median(lags), 1) if lags else None,
        "lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1], 1) if lags else None,
        "lag_max_ms": round(lags[-1], 1) if lags else None,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, help="where to seed (default: a temp dir)")
    p.add_argument("--reuse", action="store_true", help="measure an already seeded data dir")
    p.add_argument("--keep", action="store_true", help="keep the data dir afterwards")
    p.add_argument("--seed-only", action="store_true", help="seed (and keep), measure nothing")
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--other", type=int, default=100_000)
    p.add_argument("--duration", type=int, default=5, help="seconds of each wrk run")
    p.add_argument("--repeat", type=int, default=3, help="rounds of every page case")
    p.add_argument("--rate", type=float, default=67.0, help="creates/s while following the feed")
    p.add_argument("--feed-seconds", type=float, default=20.0)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cmd = _default_smsgate()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="smsgate-console-bench-"))
    if args.reuse:
        seeded = Seeded(**json.loads((data_dir / STATE_FILE).read_text()))
    else:
        if data_dir.exists() and any(data_dir.iterdir()):
            raise SystemExit(f"{data_dir} is not empty; use --reuse or another --data-dir")
        print(f"seeding {args.messages:,} + {args.other:,} messages into {data_dir} …")
        seeded = seed(data_dir, cmd, args.messages, args.other)
        print(f"seeded in {seeded.seconds:.1f} s")
        if args.seed_only:
            return 0
    db = data_dir / DB_FILE
    port = _free_port()
    os.environ["SMSGATE_SENDER_MPS"] = "0"  # no sender rate: every create is sent at once
    log = data_dir.parent / f"{data_dir.name}-console-serve.log"
    server = Server([*cmd], data_dir, port, log)
    try:
        # Server() passes --no-bootstrap; the worker runs inside with the simulator.
        client = sign_in(server.base, seeded.account_sid, seeded.auth_token)
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        pages = measure_pages(args, server, client, seeded, db)
        feed = measure_feed(args, server, client, seeded, db)
        client.close()
    finally:
        server.stop()
        if not args.keep and not args.reuse:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"\n{when}, {_machine()}")
    print(f"{seeded.messages:,} messages in the measured account, {seeded.other_messages:,} more")
    print(f"wrk: 1 connection, {args.duration} s a run, {args.repeat} rounds (medians)\n")
    print(table(pages))
    print("\nlive feed:", json.dumps(feed, indent=1))
    failed = [r for r in pages if r.errors]
    return 1 if failed or feed["delivered_reported"] != feed["created"] else 0


if __name__ == "__main__":
    sys.exit(main())
