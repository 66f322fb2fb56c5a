#!/usr/bin/env python3
"""End-to-end SMPP throughput (issue 4): create → ``delivered`` through a local SMSC.

Target: at least 1,000 messages/s sustained from create to ``delivered`` with delivery
receipts, limited by the configured window, not by the gateway's CPU.

What it does, in order:

1. starts ``smsgate smsc-sim`` (free ports; receipts at once, ``--submit-resp-delay`` per
   submit to stand for a carrier's round trip) and ``smsgate serve --sender-mps 0
   --carrier smpp://…?window=W`` on an empty data dir;
2. measures the ceiling: wrk ``GET /healthz`` on the idle server;
3. drives creates with wrk (``--connections``, ``--duration`` seconds; random ``To``, one
   GSM segment) while sampling, once a second, how many messages are ``delivered``
   (read-only SQLite connection) and the server's CPU time (``/proc/PID/stat``);
4. waits until every stored message is ``delivered``, then reports created/s, delivered/s
   over the steady window (``--settle`` s after the start to the end of the load), the
   whole run's rate (first create → last delivery), create→delivered latency percentiles,
   the server's CPU use (1.0 = one core busy) and the bound the window sets
   (window / round trip);
5. stops both with SIGTERM (the server must exit 0) and checks that every acknowledged
   create was stored and delivered, and that the SMSC saw each message exactly once.

Run from the repository root (needs ``wrk``):

    .venv/bin/python bench/smpp_throughput.py                          # window 10, 5 ms RTT
    .venv/bin/python bench/smpp_throughput.py --window 1 --duration 10  # window-bound
    .venv/bin/python bench/smpp_throughput.py --worker-process --window 10 --rate 1200  # paced
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from create_throughput import (
    BODY,
    LUA,
    SENDER,
    BenchError,
    Server,
    Wrk,
    WrkResult,
    default_smsgate,
)

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    t: float
    delivered: int
    cpu_s: float
    smsc_cpu_s: float
    busy_s: float  # the whole machine's busy CPU time, all processes
    wall: float  # time.time(), to match the server's log lines


class Smsc:
    """``smsgate smsc-sim`` on free ports."""

    def __init__(self, command: Sequence[str], resp_delay: float, log: Path) -> None:
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [
                *command,
                "smsc-sim",
                "--port",
                "0",
                "--control-port",
                "0",
                "--system-id",
                "bench",
                "--password",
                "bench",
                "--log-level",
                "warning",
                "--submit-resp-delay",
                str(resp_delay),
            ],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        announce = json.loads(self.process.stdout.readline())
        self.port = int(announce["smpp_port"])
        self.control = f"http://127.0.0.1:{announce['control_port']}"

    def submits(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(self.control + "/submits", timeout=30) as answer:  # noqa: S310
            found: list[dict[str, object]] = json.load(answer)
        return found

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self._log.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children (the webhook child, the worker child of
    ``serve --worker-process``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / TICKS
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        with contextlib.suppress(OSError):  # it just exited
            total += cpu_seconds(int(child))
    return total


def machine_busy_seconds() -> float:
    """CPU time the machine spent busy (every core, every process): /proc/stat's total
    less idle and iowait."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS


def delivered(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        row = conn.execute("SELECT count(*) FROM messages WHERE status = 'delivered'").fetchone()
    return int(row[0])


def latencies_ms(db: Path) -> list[float]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute(
            "SELECT date_updated - date_created FROM messages WHERE status = 'delivered'"
        ).fetchall()
    return sorted(r[0] / 1000 for r in rows)


def span_s(db: Path) -> tuple[int, float]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        n, first, last = conn.execute(
            "SELECT count(*), min(date_created), max(date_updated) FROM messages"
        ).fetchone()
    return int(n), (last - first) / 1e6


def sampler(db: Path, pids: list[int], smsc: int, stop: threading.Event, out: list[Sample]) -> None:
    start = time.monotonic()
    while not stop.wait(1.0):
        cpu = sum(cpu_seconds(pid) for pid in pids)
        out.append(
            Sample(
                time.monotonic() - start,
                delivered(db),
                cpu,
                cpu_seconds(smsc),
                machine_busy_seconds(),
                time.time(),
            )
        )


# The bind's "window use" line (docs/configuration.md, window_stats), once a second here.
WINDOW_USE = re.compile(
    r"^(\S+ \S+) INFO .* window use: (\d+) requests in ([\d.]+) s .*: ([\d.]+) in use on "
    r"average, full (\d+)% of the time"
)


def window_use(logs: Sequence[Path], start: float, end: float) -> tuple[float, float] | None:
    """Slots in use on average and the share of the time the window was full, over the log
    lines of (start, end] (wall clock), weighted by the seconds each line covers."""
    seconds = in_use = full = 0.0
    for log in logs:
        if not log.exists():
            continue
        for line in log.read_text().splitlines():
            m = WINDOW_USE.match(line)
            if m is None:
                continue
            at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if start < at <= end:
                span = float(m[3])
                seconds += span
                in_use += float(m[4]) * span
                full += float(m[5]) / 100 * span
    return (in_use / seconds, full / seconds) if seconds else None


def pct(values: Sequence[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0


def run(args: argparse.Namespace) -> str:
    command = shlex.split(args.smsgate)
    problems: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="smsgate-smpp-bench-"))
    smsc = Smsc(command, args.rtt, work / "smsc.log")
    carrier = f"smpp://bench:bench@127.0.0.1:{smsc.port}?window={args.window}&window_stats=1"
    # INFO, for the bind's once-a-second window use lines (nothing logs per message there)
    common = ["--sender-mps", "0", "--carrier", carrier, "--log-level", "info"]
    separate = args.split or args.backlog
    mode = ["--no-worker"] if separate else ["--worker-process"] if args.worker_process else []
    server = Server(command, work / "data", [*common, *mode])
    worker: subprocess.Popen[bytes] | None = None

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*command, "worker", "--data-dir", str(work / "data"), *common],
            stderr=(work / "worker.log").open("w"),
        )

    try:
        sid, token = server.wait_ready()
        if args.split:
            worker = start_worker()
        wrk = Wrk(args.wrk, 2, args.connections, 10)
        ceiling = wrk.run(server.base_url + "/healthz", 5)
        auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
        script = work / "create.lua"
        pause_ms = round(1000 * args.connections / args.rate) if args.rate > 0 else 0
        script.write_text(
            LUA.format(
                auth=auth,
                sender=SENDER.replace("+", "%2B"),
                body=BODY.replace(" ", "+").replace("!", "%21"),
            )
            # wrk waits this long before each request of a connection: paced creates
            + (f"\nfunction delay()\n  return {pause_ms}\nend\n" if pause_ms else "")
        )
        db = work / "data" / "smsgate.db"
        samples: list[Sample] = []
        stop = threading.Event()
        create_url = f"{server.base_url}/2010-04-01/Accounts/{sid}/Messages.json"
        if args.backlog:
            # queue first, then measure the worker alone draining the queue through SMPP
            create: WrkResult = wrk.run(create_url, args.duration, script)
            worker = start_worker()
            pids = [worker.pid]
        else:
            pids = [server.process.pid] + ([worker.pid] if worker else [])
        watcher = threading.Thread(target=sampler, args=(db, pids, smsc.process.pid, stop, samples))
        watcher.start()
        if not args.backlog:
            create = wrk.run(create_url, args.duration, script)
        deadline = time.monotonic() + 600
        while True:
            total, _ = span_s(db)
            if delivered(db) >= total or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        stop.set()
        watcher.join()
        total, whole = span_s(db)
        done = delivered(db)
        if args.backlog:
            steady = [s for s in samples if s.t >= args.settle and s.delivered <= 0.9 * total]
        else:
            steady = [s for s in samples if args.settle <= s.t <= args.duration]
        if len(steady) < 2:
            raise BenchError("the load was too short for a steady window")
        rate = (steady[-1].delivered - steady[0].delivered) / (steady[-1].t - steady[0].t)
        span = steady[-1].t - steady[0].t
        cpu = (steady[-1].cpu_s - steady[0].cpu_s) / span
        smsc_cpu = (steady[-1].smsc_cpu_s - steady[0].smsc_cpu_s) / span
        busy = (steady[-1].busy_s - steady[0].busy_s) / span
        steady_wall = (steady[0].wall, steady[-1].wall)
        lat = latencies_ms(db)
        submits = smsc.submits()
        if not create.clean:
            problems.append(create.problems())
        if done != total:
            problems.append(f"{total - done} of {total} messages not delivered")
        if total < create.ok:
            problems.append(f"{create.ok - total} acknowledged creates missing")
        if len(submits) != total:
            problems.append(f"the SMSC saw {len(submits)} submits for {total} messages")
    finally:
        if worker is not None:
            worker.terminate()
            if worker.wait(30) != 0:
                problems.append(f"smsgate worker exited {worker.returncode} on SIGTERM")
        code = server.stop()
        smsc.stop()
    use = window_use([work / "server.log", work / "worker.log"], *steady_wall)
    use_text = f"{use[0]:.1f} / {100 * use[1]:.0f}%" if use else "n/a"
    if code != 0:
        problems.append(f"smsgate exited {code} on SIGTERM")
    bound = args.window / args.rtt if args.rtt > 0 else float("inf")
    lines = [
        f"### Result: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"window {args.window}, SMSC round trip {args.rtt * 1000:.0f} ms "
        f"(bound {bound:,.0f}/s), {args.connections} connections"
        + (f" paced to ~{args.rate:g} creates/s" if args.rate > 0 else "")
        + f", {args.duration:.0f} s load, "
        + (
            "a queued backlog drained by `smsgate worker` alone (CPU: the worker)"
            if args.backlog
            else "`serve --no-worker` + `smsgate worker`"
            if args.split
            else "`serve --worker-process` (worker in a child process)"
            if args.worker_process
            else "one `serve` process"
        ),
        "",
        "| ceiling req/s | created/s | delivered/s (steady) | whole run msg/s | "
        "create→delivered p50 / p99 ms | window in use (mean / full) | smsgate CPU (cores) | "
        f"SMSC CPU | machine busy (of {os.cpu_count()}) | messages |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {ceiling.rps:,.0f} | {create.rps:,.0f} | {rate:,.0f} | {total / whole:,.0f} | "
        f"{pct(lat, 0.5):,.0f} / {pct(lat, 0.99):,.0f} | {use_text} | {cpu:.2f} | "
        f"{smsc_cpu:.2f} | {busy:.2f} | {total:,} |",
        "",
        "checks: "
        + (
            "; ".join(problems)
            if problems
            else "every acknowledged create stored, delivered, submitted once; exit 0 on SIGTERM"
        ),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smsgate", default=default_smsgate(), help="command that runs smsgate")
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="pace creates to about N/s (0: as fast as answered)"
    )
    parser.add_argument("--rtt", type=float, default=0.005, help="SMSC answer delay, seconds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument(
        "--split", action="store_true", help="API and worker in two processes (two cores)"
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="serve --worker-process: the worker in a child process of serve (two cores)",
    )
    parser.add_argument(
        "--backlog",
        action="store_true",
        help="create for --duration with no worker, then time `smsgate worker` draining it",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print(run(args))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
