"""What an idle server costs: CPU used by `smsgate serve` (and its child processes) while
nothing happens.

Starts `smsgate serve` on an empty data dir (SQLite, or an empty PostgreSQL database with
``--database-url``) in a session of its own, waits ``--settle`` seconds for start-up, then
reads the CPU time of every process of that session from /proc before and after
``--seconds`` idle seconds. The server's own loops (the worker's claims, the webhook
sender's claims, the sweeps) are all that run. Run from the repository root:

    flock /tmp/smsgate-bench.lock .venv/bin/python bench/idle_cpu.py
    flock /tmp/smsgate-bench.lock .venv/bin/python bench/idle_cpu.py \\
        --database-url postgresql://postgres@127.0.0.1/idle_bench

(PostgreSQL's own backends are not counted: they are not in the server's session.)
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from create_throughput import free_port

TICKS = os.sysconf("SC_CLK_TCK")


def session_cpu_seconds(sid: int) -> float:
    """utime + stime of every live process whose session is ``sid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state ppid pgrp session … utime(14th field) stime(15th)
        if int(fields[3]) == sid:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smsgate", default=str(Path(sys.executable).parent / "smsgate"))
    p.add_argument("--database-url", default=None)
    p.add_argument("--settle", type=float, default=8)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--serve-args", default="")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="smsgate-idle-") as tmp:
        cmd = [*shlex.split(args.smsgate), "serve", "--data-dir", str(Path(tmp) / "data")]
        cmd += ["--port", str(free_port()), *shlex.split(args.serve_args)]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            time.sleep(args.settle)
            if proc.poll() is not None:
                print(f"smsgate exited with {proc.returncode}", file=sys.stderr)
                return 1
            before = session_cpu_seconds(proc.pid)
            time.sleep(args.seconds)
            used = session_cpu_seconds(proc.pid) - before
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    store = "PostgreSQL" if args.database_url else "SQLite"
    print("| store | idle seconds | CPU seconds | share of a core |")
    print("|---|---:|---:|---:|")
    print(f"| {store} | {args.seconds:.0f} | {used:.2f} | {100 * used / args.seconds:.1f} % |")
    print(f"\ncommand: {shlex.join(cmd)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
