#!/usr/bin/env python3
"""End-to-end delivery throughput (issue 3): create → ``delivered`` with status callbacks.

Target: at least 2,000 messages/s from create to ``delivered`` through the simulator with
unlimited sender rate (``--sender-mps 0``), with every status callback POSTed to a local
receiver, on this machine; reported beside the create-only figure
(bench/create_throughput.py) and the same run's ``GET /healthz`` ceiling.

What it does, in order:

1. starts the counting callback sink (bench/callback_sink.py) and
   ``smsgate serve --sender-mps 0 --simulator-delay D`` (worker and webhook sender inside,
   as by default) on an empty data dir, each on a free loopback port;
2. measures the ceiling: wrk ``GET /healthz`` on the idle server;
3. drives creates with wrk for ``--duration`` seconds: ``POST Messages.json`` with a random
   ``To``, ``From=+15005550006`` and ``StatusCallback`` pointing at the sink, at
   ``--connections`` connections, as fast as the server answers or paced to ``--rate``;
   meanwhile it samples, once a second, the sink's callback counts and the number of
   ``delivered`` messages in the database (a read-only connection);
4. waits until every stored message is ``delivered`` and the sink has its ``delivered``
   callback, then reports:
   * created/s (wrk's 2xx rate),
   * delivered/s and ``delivered`` callbacks/s over the steady window (from ``--settle``
     seconds after the start of the load to its end),
   * the whole run: messages / (first create → last ``delivered`` callback),
   * the CPU of smsgate's processes, of the sink and of wrk, and the share of the webhook
     processes (smsgate.webhooks.child, the callbacks' HTTP requests) in smsgate's,
   * create → ``delivered`` latency percentiles from the rows (``date_updated`` -
     ``date_created``);
5. stops both with SIGTERM; every acknowledged message must be stored, delivered, and have
   had its ``sending``, ``sent`` and ``delivered`` callbacks exactly once each.

Run from the repository root (needs ``wrk``):

    .venv/bin/python bench/e2e_throughput.py                       # 30 s of load, 1 pass
    .venv/bin/python bench/e2e_throughput.py --rate 2000          # paced creates
    createdb -h 127.0.0.1 -U postgres bench && .venv/bin/python bench/e2e_throughput.py \
        --database-url postgresql://postgres@127.0.0.1/bench --workers 4   # PostgreSQL, 4 workers
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from create_throughput import (
    BODY,
    SENDER,
    BenchError,
    Server,
    Wrk,
    WrkResult,
    default_smsgate,
    free_port,
)

# wrk's Lua: a random recipient per request; ``delay`` paces each connection when --rate.
LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic {auth}"
local tail = "&From={sender}&Body={body}&StatusCallback={callback}"
local pause = {pause_ms}

function init(args)
  math.randomseed(os.time() + os.clock() * 1000000)
end

function delay()
  return pause
end

function request()
  local to = string.format("%%2B1555%07d", math.random(0, 9999999))
  return wrk.format(nil, nil, nil, "To=" .. to .. tail)
end
"""

STATUSES = ("sending", "sent", "delivered")


class Sink:
    """bench/callback_sink.py on a free port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (workdir / "sink.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "callback_sink.py"),
                "--port",
                str(self.port),
            ],
            stdout=self._log,
            stderr=self._log,
        )

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(self.url + "/count", timeout=5) as r:  # noqa: S310
            return dict(json.loads(r.read()))

    def wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError("the callback sink exited")
            try:
                self.counts()
                return
            except OSError:
                time.sleep(0.1)
        raise BenchError("the callback sink did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Db:
    """Read-only queries on the server's store: the SQLite file, or a PostgreSQL database."""

    def __init__(self, sqlite_path: Path, database_url: str | None) -> None:
        self.sqlite_path = sqlite_path
        self.database_url = database_url

    def rows(self, sql: str) -> list[tuple[int, ...]]:
        if self.database_url is not None:
            import psycopg

            with psycopg.connect(self.database_url) as pg:
                return [tuple(r) for r in pg.execute(sql).fetchall()]
        uri = f"file:{self.sqlite_path}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=10) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    def count(self, sql: str) -> int:
        return int(self.rows(sql)[0][0])


def delivered_count(db: Db) -> int:
    return db.count("SELECT count(*) FROM messages WHERE status = 'delivered'")


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # seconds since the load started
    delivered: int  # rows with status delivered
    callbacks: dict[str, int]  # by MessageStatus, at the sink
    server_cpu: float  # seconds of CPU (user + system) the server process has used
    sink_cpu: float
    worker_cpu: float
    webhook_cpu: float  # of server_cpu + worker_cpu: the webhook processes' (HTTP requests)


@dataclass
class Sampler:
    db: Db
    sink: Sink
    server_pid: int
    worker_pids: list[int]
    every: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    start: float = 0.0

    def begin(self) -> None:
        self.start = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> Sample:
        t = time.monotonic() - self.start
        server = cpu_seconds(self.server_pid)
        if self.worker_pids:
            worker = sum(cpu_seconds(pid) for pid in self.worker_pids)
        else:  # serve --worker-process: its worker child (with the child's webhook child)
            worker = sum(cpu_seconds(pid) for pid in worker_children(self.server_pid))
            server -= worker
        roots = [self.server_pid, *self.worker_pids]
        s = Sample(
            t,
            delivered_count(self.db),
            self.sink.counts(),
            server,
            cpu_seconds(self.sink.process.pid),
            worker,
            sum(cpu_seconds(pid) for pid in webhook_processes(roots)),
        )
        self.samples.append(s)
        return s

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.sample()
            except Exception as exc:  # a sample may fail (sqlite3 or psycopg); try again
                print(f"sample failed: {exc}", file=sys.stderr)

    def end(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and of its children (the webhook process), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        with contextlib.suppress(OSError):  # it just exited
            total += cpu_seconds(int(child))
    return total


def worker_children(pid: int) -> list[int]:
    """The worker child of ``serve --worker-process`` (smsgate.cli.worker_process)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        with contextlib.suppress(OSError):
            if b"worker_process" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def webhook_processes(roots: list[int]) -> list[int]:
    """The webhook processes (smsgate.webhooks.child) below ``roots``, at any depth."""
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):  # it just exited
            children = [
                int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            ]
            for child in children:
                if b"smsgate.webhooks.child" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
                else:
                    todo.append(child)
    return found


def rate(samples: Sequence[Sample], t0: float, t1: float, key: str) -> float:
    """Rate of ``key`` (``delivered`` rows or a callback status) between the samples nearest
    to t0 and t1."""
    a = min(samples, key=lambda s: abs(s.t - t0))
    b = min(samples, key=lambda s: abs(s.t - t1))
    if b.t <= a.t:
        return 0.0

    def value(s: Sample) -> float:
        if key == "rows":
            return s.delivered
        if key in ("server_cpu", "sink_cpu", "worker_cpu", "webhook_cpu"):
            return float(getattr(s, key))
        return s.callbacks.get(key, 0)

    return (value(b) - value(a)) / (b.t - a.t)


def latencies(db: Db) -> tuple[int, dict[str, float]]:
    found = [
        (r[0] - r[1]) / 1000
        for r in db.rows(
            "SELECT date_updated, date_created FROM messages WHERE status = 'delivered'"
        )
    ]
    if not found:
        return 0, {}
    found.sort()
    pick = {
        p: found[min(len(found) - 1, int(len(found) * q))]
        for p, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
    }
    return len(found), pick


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--smsgate", default=None, help="command that runs smsgate (split like sh)")
    p.add_argument("--serve-args", default="", help="more arguments for `smsgate serve`")
    p.add_argument("--simulator-delay", type=float, default=0.5)
    p.add_argument("--duration", type=float, default=30.0, help="seconds of create load")
    p.add_argument("--settle", type=float, default=5.0, help="seconds before the window opens")
    p.add_argument("--ceiling", type=float, default=10.0, help="seconds of GET /healthz")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--rate", type=float, default=0.0, help="pace creates to about N/s (0: no)")
    p.add_argument(
        "--worker-process",
        action="store_true",
        help="serve with --no-worker and run `smsgate worker` beside it (two processes)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="serve with --no-worker and run this many `smsgate worker` processes beside it",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="run on this empty PostgreSQL database (postgresql://…) instead of SQLite",
    )
    p.add_argument("--drain-timeout", type=float, default=300.0)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--keep", action="store_true", help="keep the data dir and the logs")
    return p.parse_args(argv)


def run(
    args: argparse.Namespace,
    server: Server,
    sink: Sink,
    workdir: Path,
    workers: list[subprocess.Popen[bytes]],
    db: Db,
) -> tuple[str, bool]:
    sid, token = server.wait_ready()
    sink.wait_ready()
    wrk = Wrk(args.wrk, 1, args.connections, 10)
    ceiling = wrk.run(server.base_url + "/healthz", args.ceiling)
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    pause_ms = round(1000 * args.connections / args.rate) if args.rate > 0 else 0
    script = workdir / "create.lua"
    script.write_text(
        LUA.format(
            auth=auth,
            sender=SENDER.replace("+", "%2B"),
            body=BODY.replace(" ", "+").replace("!", "%21"),
            callback=urllib.request.quote(sink.url + "/status", safe=""),
            pause_ms=pause_ms,
        )
    )
    sampler = Sampler(db, sink, server.process.pid, [w.pid for w in workers])
    sampler.begin()
    create_url = f"{server.base_url}/2010-04-01/Accounts/{sid}/Messages.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    created: WrkResult = wrk.run(create_url, args.duration, script)
    load_end = time.monotonic() - sampler.start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk's, once it has been waited for
    wrk_cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / load_end
    # Requests wrk abandoned in flight may still commit: count the rows again until done.
    deadline = time.monotonic() + args.drain_timeout
    while True:
        time.sleep(0.5)
        stored = _stored(db)
        s = sampler.samples[-1] if sampler.samples else sampler.sample()
        if s.delivered >= stored and s.callbacks.get("delivered", 0) >= stored:
            break
        if time.monotonic() > deadline:
            sampler.end()
            raise BenchError(f"not drained after {args.drain_timeout} s: {s}")
    sampler.end()
    final = sampler.sample()
    samples = sampler.samples
    t0, t1 = args.settle, load_end
    done_at = next(s.t for s in samples if s.callbacks.get("delivered", 0) >= stored)
    n_lat, lat = latencies(db)
    server_cpu = rate(samples, t0, t1, "server_cpu") + rate(samples, t0, t1, "worker_cpu")
    webhook_cpu = rate(samples, t0, t1, "webhook_cpu")
    stored = _stored(db)
    ok = created.clean and final.delivered == stored and stored >= created.ok
    ok = ok and all(final.callbacks.get(k, 0) == stored for k in STATUSES)
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- server: `{shlex.join(server.command)}`"
        + (f" and {len(workers)} x `smsgate worker`" if workers else ""),
        f"- wrk: `-t1 -c{args.connections} -d{args.duration:g}s`"
        + (f", paced to ~{args.rate:g}/s (delay {pause_ms} ms)" if pause_ms else ""),
        "",
        "| measure | value |",
        "|---|---:|",
        f"| ceiling: GET /healthz req/s (p99 ms) | {ceiling.rps:,.0f} ({ceiling.p99_ms:.1f}) |",
        f"| creates/s during the load (p50 / p99 ms) | {created.rps:,.0f} "
        f"({created.p50_ms:.1f} / {created.p99_ms:.1f}) |",
        f"| delivered rows/s, window {t0:g}-{t1:.0f} s | {rate(samples, t0, t1, 'rows'):,.0f} |",
        f"| `delivered` callbacks/s at the sink, same window | "
        f"{rate(samples, t0, t1, 'delivered'):,.0f} |",
        f"| all callbacks/s at the sink, same window | "
        f"{sum(rate(samples, t0, t1, k) for k in STATUSES):,.0f} |",
        f"| whole run: {stored:,} messages, first create → last `delivered` callback | "
        f"{stored / done_at:,.0f}/s over {done_at:.1f} s (load {load_end:.1f} s) |",
        "| CPU in the window (with child processes): smsgate (serve / worker) / sink / wrk "
        "(whole load), cores; smsgate µs per "
        f"delivered message | {server_cpu:.2f} ({rate(samples, t0, t1, 'server_cpu'):.2f} / "
        f"{rate(samples, t0, t1, 'worker_cpu'):.2f}) / {rate(samples, t0, t1, 'sink_cpu'):.2f}"
        f" / {wrk_cpu:.2f}; "
        f"{1e6 * server_cpu / max(1.0, rate(samples, t0, t1, 'rows')):,.0f} |",
        "| of that, the webhook processes (the callbacks' HTTP requests), cores; µs per "
        f"delivered message | {webhook_cpu:.2f}; "
        f"{1e6 * webhook_cpu / max(1.0, rate(samples, t0, t1, 'rows')):,.0f} |",
        "| create → delivered latency p50 / p90 / p99 / max (s) | "
        + " / ".join(f"{lat.get(k, 0) / 1000:.2f}" for k in ("p50", "p90", "p99", "max"))
        + " |",
        "",
        f"check: {created.ok:,} acknowledged, {stored:,} stored, {final.delivered:,} delivered "
        f"({n_lat:,} with latency), callbacks at the sink {dict(final.callbacks)}"
        + ("" if ok else f" — FAILED {created.problems()}"),
    ]
    return "\n".join(lines), ok


def _stored(db: Db) -> int:
    return db.count("SELECT count(*) FROM messages")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.split(args.smsgate) if args.smsgate else [default_smsgate()]
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-e2e-bench-"))
    serve_args = [
        "--sender-mps",
        "0",
        "--simulator-delay",
        str(args.simulator_delay),
        *shlex.split(args.serve_args),
    ]
    store_args = ["--database-url", args.database_url] if args.database_url else []
    n_workers = args.workers or (1 if args.worker_process else 0)
    sink = Sink(workdir)
    sink.wait_ready()  # bound to its port before the server picks one (free_port races)
    server = Server(
        command,
        workdir / "data",
        [*serve_args, *store_args, *(["--no-worker"] if n_workers else [])],
    )
    db = Db(server.data_dir / "smsgate.db", args.database_url)
    workers: list[subprocess.Popen[bytes]] = []
    ok = False
    try:
        if n_workers:
            server.wait_ready()
            for i in range(n_workers):
                workers.append(
                    subprocess.Popen(
                        [
                            *command,
                            "worker",
                            "--data-dir",
                            str(server.data_dir),
                            *serve_args,
                            *store_args,
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=(workdir / f"worker-{i}.log").open("w"),
                    )
                )
        text, ok = run(args, server, sink, workdir, workers, db)
        code = server.stop()
        print(text)
        if code != 0:
            print(f"FAILED: smsgate exited with {code}:\n{server.log_tail()}")
            ok = False
        return 0 if ok else 1
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            if worker.wait(30) != 0:
                print(f"FAILED: smsgate worker exited with {worker.returncode}")
                ok = False
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        sink.stop()
        if args.keep or not ok:
            print(f"data dir and logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
