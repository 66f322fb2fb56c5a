#!/usr/bin/env python3
"""A deep queue (issue 3): 100,000 queued messages of one sender, the server's memory, and
how long a new sender's first message takes to be delivered meanwhile.

Target: with 100,000 messages queued the server's resident memory stays under 300 MB, and
the first message of a new sender is not held behind them.

What it does, in order:

1. starts ``smsgate serve`` on an empty data dir and a free port with the default sender
   classes (no ``--sender-mps``), the simulator carrier and its worker, as a user runs it;
2. registers a sender with room for the backlog: a long code's queue holds only 10 hours
   at 1 segment/s (36,000 messages, 21611 beyond), so the backlog is sent from a UK mobile
   number (``--backlog-from``), which Twilio meters at 10 segments/s: 100,000 messages are
   2.8 hours of its queue;
3. queues ``--messages`` messages from it with wrk (64 connections; the Lua script stops
   after that many ``201``s), and reads the server's ``VmRSS`` and ``VmHWM`` from
   /proc/<pid>/status;
4. then, ``--probes`` times, registers a new long code and sends one message from it, and
   measures the time from the create request to ``delivered`` (polling the message's JSON
   every 10 ms), while the backlog's sender keeps sending at its rate;
5. reads the memory again, checks that the backlog is still queued (it drains at 10/s),
   stops the server with SIGTERM (it must exit 0).

Run from the repository root (needs ``wrk``):

    .venv/bin/python bench/queued_backlog.py
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from create_throughput import BenchError, Server, WrkResult, default_smsgate, parse_wrk

LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic {auth}"
local tail = "&From={sender}&Body=queued+behind+the+others"
local wanted = {wanted}
local created = 0

function request()
  local to = string.format("%%2B1555%07d", math.random(0, 9999999))
  return wrk.format(nil, nil, nil, "To=" .. to .. tail)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  end
  if created >= wanted then
    wrk.thread:stop()
  end
end
"""


class Api:
    def __init__(self, base: str, sid: str, token: str) -> None:
        self.base = f"{base}/2010-04-01/Accounts/{sid}"
        self.auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()

    def call(self, path: str, form: dict[str, str] | None = None) -> dict[str, Any]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(  # noqa: S310
            self.base + path, data=data, headers={"Authorization": self.auth}
        )
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            return dict(json.loads(r.read()))


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def load(binary: str, url: str, script: Path, db: Path, wanted: int) -> WrkResult:
    """Run wrk until ``wanted`` messages are stored. (The script stops wrk's connections
    after that many 201s, but wrk itself runs for its whole duration unless interrupted.)"""
    cmd = [binary, "-t1", "-c64", "-d3600s", "--timeout=10s", "--latency", "-s", str(script)]
    wrk = subprocess.Popen([*cmd, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while wrk.poll() is None and stored(db) < wanted:
            time.sleep(0.2)
    finally:
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)
        out, err = wrk.communicate(timeout=60)
    if wrk.returncode != 0:
        raise BenchError(f"wrk failed ({wrk.returncode}): {err}")
    return parse_wrk(out)


def stored(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])


def queued(db: Path, sender: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM delivery_jobs WHERE sender = ?", (sender,)
            ).fetchone()[0]
        )


def probe(api: Api, number: str) -> float:
    """Register ``number``, send one message from it; seconds from create to delivered."""
    api.call("/IncomingPhoneNumbers.json", {"PhoneNumber": number})
    start = time.monotonic()
    sid = api.call(
        "/Messages.json", {"To": "+15558675310", "From": number, "Body": "first of a new sender"}
    )["sid"]
    while True:
        status = api.call(f"/Messages/{sid}.json")["status"]
        if status == "delivered":
            return time.monotonic() - start
        if status in ("failed", "undelivered") or time.monotonic() - start > 120:
            raise BenchError(f"probe {sid} from {number} ended {status}")
        time.sleep(0.01)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--smsgate", default=None, help="command that runs smsgate (split like sh)")
    p.add_argument("--serve-args", default="", help="more arguments for `smsgate serve`")
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--backlog-from", default="+447700900123")
    p.add_argument("--probes", type=int, default=5)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    # (wrk runs with one thread and 64 connections)
    p.add_argument("--keep", action="store_true", help="keep the data dir and the server log")
    return p.parse_args(argv)


def run(args: argparse.Namespace, server: Server, workdir: Path) -> tuple[str, bool]:
    sid, token = server.wait_ready()
    api = Api(server.base_url, sid, token)
    pid = server.process.pid
    idle = memory(pid)
    api.call("/IncomingPhoneNumbers.json", {"PhoneNumber": args.backlog_from})
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    script = workdir / "backlog.lua"
    script.write_text(
        LUA.format(auth=auth, sender=urllib.parse.quote(args.backlog_from), wanted=args.messages)
    )
    db = server.data_dir / "smsgate.db"
    started = time.monotonic()
    loaded = load(args.wrk, f"{api.base}/Messages.json", script, db, args.messages)
    took = time.monotonic() - started
    backlog = queued(db, args.backlog_from)
    full = memory(pid)
    waits = [probe(api, f"+1501712{2661 + i:04d}") for i in range(args.probes)]
    after = memory(pid)
    still = queued(db, args.backlog_from)
    mib = 1024
    ok = loaded.non_2xx == 0 and loaded.ok >= args.messages and still > 0
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- server: `{shlex.join(server.command)}`",
        f"- backlog: {loaded.ok:,} creates from {args.backlog_from} (10 segments/s) in "
        f"{took:.1f} s with wrk -c64 ({loaded.ok / took:,.0f}/s, {loaded.non_2xx} non-2xx); "
        f"{backlog:,} jobs queued for it afterwards, {still:,} at the end",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| RSS idle, before the backlog (MiB) | {idle['VmRSS'] / mib:.0f} |",
        f"| RSS with the backlog queued (MiB) | {full['VmRSS'] / mib:.0f} |",
        f"| RSS after the probes (MiB) | {after['VmRSS'] / mib:.0f} |",
        f"| peak RSS, VmHWM, whole run (MiB) | {after['VmHWM'] / mib:.0f} |",
        f"| new sender's first message, create → delivered (s), {len(waits)} probes | "
        f"median {statistics.median(waits):.2f}, max {max(waits):.2f} "
        f"({', '.join(f'{w:.2f}' for w in waits)}) |",
    ]
    return "\n".join(lines), ok


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.split(args.smsgate) if args.smsgate else [default_smsgate()]
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-backlog-bench-"))
    server = Server(command, workdir / "data", shlex.split(args.serve_args))
    ok = False
    try:
        text, ok = run(args, server, workdir)
        code = server.stop()
        print(text)
        if code != 0:
            print(f"FAILED: smsgate exited with {code}:\n{server.log_tail()}")
            ok = False
        if not ok:
            print("FAILED: see the figures above")
        return 0 if ok else 1
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        if args.keep or not ok:
            print(f"data dir and server log kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
