#!/usr/bin/env python3
"""Durable create throughput (issue 2): POST Messages.json at 64 connections, against the ceiling.

Target: at least 3,000 durable creates per second at 64 concurrent connections with a p99 under
50 ms, reported as a ratio to the ceiling: ``GET /healthz`` of the same server, measured in
the same pass, so that a noisy machine moves both figures together.

What it does, in order:

1. starts ``smsgate serve`` on an empty data dir and a free loopback port (the installed
   console script, or ``--smsgate CMD``), waits for ``/healthz`` and reads the bootstrap
   account SID and auth token the server prints;
2. for each pass: a short warm-up then a measured wrk run of ``GET /healthz`` (the ceiling),
   then the same for ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with
   ``To=+1555xxxxxxx`` (random per request, drawn in wrk's Lua), ``From=+15005550006``, a
   25-character ``Body`` and Basic auth;
3. prints every pass and the median as a markdown table, with the create/ceiling ratio;
4. stops the server with SIGTERM (it must exit 0), then counts the rows in the SQLite file:
   every 2xx that wrk saw must be there. wrk abandons the requests still in flight when a run
   ends, and the server may commit those too, so up to ``connections`` extra rows per create
   run are expected and reported; fewer rows than 2xx responses is a lost acknowledged write.

Any non-2xx response, socket error, unclean exit or missing row makes it exit 1.

The server runs with ``--no-worker --sender-mps 0`` unless ``--serve-args`` says otherwise:
this measures the API's durable create. With the defaults the one test number is a long
code metered at 1 segment/s, whose queue is capped at 10 hours (36,000 messages), so a run
would turn into 21611 refusals; and the delivery worker would spend the same process on
delivering what was just accepted, which is another benchmark.

Run from the repository root (needs ``wrk``, the Debian package):

    .venv/bin/python bench/create_throughput.py                     # 3 passes of 15 s
    .venv/bin/python bench/create_throughput.py --duration 5 --passes 1
    .venv/bin/python bench/create_throughput.py --smsgate "env PYTHONPATH=src .venv/bin/smsgate"
    createdb -h 127.0.0.1 -U postgres -T template0 --lc-collate=C --lc-ctype=C bench \
      && .venv/bin/python bench/create_throughput.py \
           --database-url postgresql://postgres@127.0.0.1/bench --serve-args \
           "--no-worker --sender-mps 0 --workers 2"; dropdb -h 127.0.0.1 -U postgres bench
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

SENDER = "+15005550006"
BODY = "Hello from the benchmark!"  # 25 characters, one GSM-7 segment
DEFAULT_SERVE_ARGS = "--no-worker --sender-mps 0"
BANNER = re.compile(r"Account SID : (AC[0-9a-f]{32})\s+Auth token  : (\w+)")

# wrk's Lua: a new random recipient for every request, everything else fixed.
LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic {auth}"
local tail = "&From={sender}&Body={body}"

function init(args)
  math.randomseed(os.time() + os.clock() * 1000000)
end

function request()
  local to = string.format("%%2B1555%07d", math.random(0, 9999999))
  return wrk.format(nil, nil, nil, "To=" .. to .. tail)
end
"""


class BenchError(Exception):
    """The benchmark could not run or its results are not trustworthy (exit status 1)."""


# -- wrk ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        """Responses with a 2xx (or 3xx, which smsgate never sends) status."""
        return self.requests - self.non_2xx

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0 and not any(self.socket_errors.values())

    def problems(self) -> str:
        found = [f"{self.non_2xx} non-2xx"] if self.non_2xx else []
        found += [f"{n} socket {kind} errors" for kind, n in self.socket_errors.items() if n]
        return ", ".join(found)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_DURATION_S = {"us": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(text: str) -> WrkResult:
    """Read the summary of ``wrk --latency``; raise BenchError if a figure is missing."""

    def need(pattern: str) -> re.Match[str]:
        found = re.search(pattern, text, re.MULTILINE)
        if found is None:
            raise BenchError(f"wrk output has no match for {pattern!r}:\n{text}")
        return found

    total = need(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),")
    latency = {
        pct: _ms(m.group(1), m.group(2))
        for pct in ("50", "90", "99")
        if (m := need(rf"^\s*{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$"))
    }
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
        if errors
        else {}
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _DURATION_S[total.group(3)],
        rps=float(need(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=latency["50"],
        p90_ms=latency["90"],
        p99_ms=latency["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


@dataclass(frozen=True, slots=True)
class Wrk:
    binary: str
    threads: int
    connections: int
    timeout_s: int

    def run(self, url: str, seconds: float, script: Path | None = None) -> WrkResult:
        cmd = [
            self.binary,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={self.timeout_s}s",
            "--latency",
        ]
        if script is not None:
            cmd += ["-s", str(script)]
        done = subprocess.run([*cmd, url], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"{shlex.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
        return parse_wrk(done.stdout)


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_smsgate() -> str:
    beside = Path(sys.executable).parent / "smsgate"
    return str(beside) if beside.exists() else (shutil.which("smsgate") or "smsgate")


class Server:
    """``smsgate serve`` as a subprocess: its stdout is collected, its stderr goes to a log."""

    def __init__(self, command: Sequence[str], data_dir: Path, serve_args: Sequence[str]) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir.parent / "server.log"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.command = [
            *command,
            "serve",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *serve_args,
        ]
        self._stdout: list[str] = []
        self._log: IO[str] = self.log_path.open("w")
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._stdout.append(line)

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])

    def wait_ready(self, timeout_s: float = 60) -> tuple[str, str]:
        """Wait for /healthz and the bootstrap banner; return the account SID and auth token."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"smsgate exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            banner = BANNER.search("".join(self._stdout))
            if banner is not None and self._healthy():
                return banner.group(1), banner.group(2)
            time.sleep(0.1)
        raise BenchError(f"smsgate was not ready within {timeout_s} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM, then wait; a server that does not stop in time is killed (and fails)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise BenchError(f"smsgate ignored SIGTERM for {timeout_s} s") from None
        finally:
            self._reader.join(5)
            self._log.close()
        return code


def stored_messages(db: Path, account_sid: str, database_url: str | None = None) -> int:
    if database_url is not None:
        import psycopg

        with psycopg.connect(database_url) as pg:
            found = pg.execute(
                "SELECT count(*) FROM messages WHERE account_sid = %s", (account_sid,)
            ).fetchone()
        assert found is not None
        return int(found[0])
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM messages WHERE account_sid = ?", (account_sid,)
        ).fetchone()
    return int(row[0])


# -- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pass:
    ceiling: WrkResult
    create: WrkResult

    @property
    def ratio(self) -> float:
        return self.create.rps / self.ceiling.rps if self.ceiling.rps else 0.0


@dataclass
class Tally:
    """Every create response wrk saw, warm-ups included, to check against the stored rows."""

    acknowledged: int = 0
    runs: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, label: str, result: WrkResult) -> None:
        if not result.clean:
            self.problems.append(f"{label}: {result.problems()}")


def run_passes(
    args: argparse.Namespace, server: Server, sid: str, token: str, workdir: Path
) -> tuple[list[Pass], Tally]:
    wrk = Wrk(args.wrk, args.threads, args.connections, args.timeout)
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    body = BODY.replace(" ", "+").replace("!", "%21")
    script = workdir / "create.lua"
    script.write_text(LUA.format(auth=auth, sender=SENDER.replace("+", "%2B"), body=body))
    healthz = server.base_url + "/healthz"
    create = f"{server.base_url}/2010-04-01/Accounts/{sid}/Messages.json"
    passes: list[Pass] = []
    tally = Tally()
    for n in range(1, args.passes + 1):
        if args.warmup > 0:
            tally.add(f"pass {n} healthz warm-up", wrk.run(healthz, args.warmup))
        ceiling = wrk.run(healthz, args.duration)
        tally.add(f"pass {n} healthz", ceiling)
        if args.warmup > 0:
            warm = wrk.run(create, args.warmup, script)
            tally.add(f"pass {n} create warm-up", warm)
            tally.acknowledged += warm.ok
            tally.runs += 1
        measured = wrk.run(create, args.duration, script)
        tally.add(f"pass {n} create", measured)
        tally.acknowledged += measured.ok
        tally.runs += 1
        passes.append(Pass(ceiling, measured))
        print(
            f"pass {n}: ceiling {ceiling.rps:,.0f} req/s, create {measured.rps:,.0f} req/s "
            f"(p99 {measured.p99_ms:.1f} ms)",
            file=sys.stderr,
            flush=True,
        )
    return passes, tally


def _row(label: str, p: Pass) -> str:
    c = p.create
    return (
        f"| {label} | {p.ceiling.rps:,.0f} | {p.ceiling.p99_ms:.1f} | {c.rps:,.0f} | "
        f"{c.p50_ms:.1f} | {c.p90_ms:.1f} | {c.p99_ms:.1f} | {c.non_2xx} | {p.ratio:.2f} |"
    )


def _median_row(passes: Sequence[Pass]) -> str:
    def med(values: Sequence[float]) -> float:
        return float(statistics.median(values))

    creates = [p.create for p in passes]
    ceiling = med([p.ceiling.rps for p in passes])
    rps = med([c.rps for c in creates])
    return (
        f"| **median** | **{ceiling:,.0f}** | {med([p.ceiling.p99_ms for p in passes]):.1f} | "
        f"**{rps:,.0f}** | {med([c.p50_ms for c in creates]):.1f} | "
        f"{med([c.p90_ms for c in creates]):.1f} | **{med([c.p99_ms for c in creates]):.1f}** | "
        f"{sum(c.non_2xx for c in creates)} | **{med([p.ratio for p in passes]):.2f}** |"
    )


def report(args: argparse.Namespace, command: Sequence[str], passes: Sequence[Pass]) -> str:
    cpu = _cpu_model()
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average at the end "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- server: `{shlex.join(command)}`",
        f"- wrk: `-t{args.threads} -c{args.connections} -d{args.duration:g}s --latency`, "
        f"{args.warmup:g} s warm-up before each run, {args.passes} passes",
        "",
        "| pass | ceiling req/s | ceiling p99 ms | create req/s | p50 ms | p90 ms | p99 ms "
        "| non-2xx | create/ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(_row(str(i), p) for i, p in enumerate(passes, 1)),
        _median_row(passes),
    ]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def check_durability(stored: int, tally: Tally, connections: int) -> tuple[str, bool]:
    extra = stored - tally.acknowledged
    line = f"durability: {stored:,} messages stored, {tally.acknowledged:,} acknowledged (2xx)"
    if extra < 0:
        return f"{line}: {-extra:,} ACKNOWLEDGED MESSAGES MISSING", False
    if extra > connections * tally.runs:
        return f"{line}: {extra:,} more than acknowledged, beyond what was in flight", False
    if extra:
        return f"{line}; {extra:,} were in flight when wrk stopped and were committed", True
    return f"{line}; they match", True


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--smsgate", default=None, help="command that runs smsgate (split like sh)")
    p.add_argument(
        "--serve-args",
        default=DEFAULT_SERVE_ARGS,
        help=f"extra arguments for `smsgate serve` (default: {DEFAULT_SERVE_ARGS!r})",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="run on this empty PostgreSQL database (postgresql://…) instead of SQLite",
    )
    p.add_argument("--duration", type=float, default=15.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up before each run")
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--timeout", type=int, default=5, help="wrk request timeout, seconds")
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--keep", action="store_true", help="keep the data dir and the server log")
    args = p.parse_args(argv)
    if args.passes < 1 or args.duration < 1 or args.connections < 1:
        p.error("--passes, --duration and --connections must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which(args.wrk) is None:
        print(f"{args.wrk} not found: install wrk (Debian package `wrk`)", file=sys.stderr)
        return 2
    command = shlex.split(args.smsgate) if args.smsgate else [default_smsgate()]
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-create-bench-"))
    serve_args = shlex.split(args.serve_args)
    if args.database_url:
        serve_args += ["--database-url", args.database_url]
    server = Server(command, workdir / "data", serve_args)
    ok = False
    try:
        sid, token = server.wait_ready()
        passes, tally = run_passes(args, server, sid, token, workdir)
        code = server.stop()
        print(report(args, server.command, passes))
        print()
        durability, durable = check_durability(
            stored_messages(server.data_dir / "smsgate.db", sid, args.database_url),
            tally,
            args.connections,
        )
        print(durability)
        for problem in tally.problems:
            print(f"FAILED: {problem}")
        if code != 0:
            print(f"FAILED: smsgate exited with {code} on SIGTERM:\n{server.log_tail()}")
        ok = durable and not tally.problems and code == 0
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
