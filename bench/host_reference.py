"""How fast is this host, against the machine docs/performance-notes figures came from?

The performance guide's peer figures were measured on "a machine of the same kind" with
`wrk -t1 -c64 -d10s`, median of 3 passes; one of them is a bare ASGI app answering a
trivial GET under uvicorn: 23,500 req/s. Hosts of "the same kind" have differed by more
than 2x per core between sessions (docs/benchmarks.md), so an absolute target written
against that machine means something else on a slower one. This script repeats that exact
measurement here, so a figure of ours can be put beside the guide's on equal terms:

1. a bare ASGI app (no framework, no middleware: the guide's "Trivial GET … bare ASGI")
   under uvicorn with the project's own uvloop and httptools, on a free loopback port;
2. `wrk -t1 -c64 -d10s` three times; the median, and the ratio to 23,500;
3. a pure-interpreter figure, ``sum(range(10000))`` under timeit (the best of 5 repeats).

Run from the repository root, inside the bench lock:

    flock /tmp/smsgate-bench.lock .venv/bin/python bench/host_reference.py
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from create_throughput import BenchError, Wrk, _cpu_model, free_port

GUIDE_UVICORN_RPS = 23_500  # docs/performance-notes.md: trivial GET, bare ASGI, uvicorn

APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    args = p.parse_args()

    loops = timeit.repeat("sum(range(10000))", number=2000, repeat=5)
    interp_us = min(loops) / 2000 * 1e6

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"smsgate-hostref-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "bare_asgi.py").write_text(APP)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=work,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(port, server, 30)
        wrk = Wrk(args.wrk, 1, 64, 10)
        runs = [wrk.run(url, args.seconds) for _ in range(args.passes)]
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    for r in runs:
        if not r.clean:
            raise BenchError(f"the reference app answered badly: {r.problems()}")
    rps = statistics.median(r.rps for r in runs)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(
        "| host | bare-ASGI uvicorn req/s (median of passes) | of the guide's 23,500 |"
        " `sum(range(10000))` µs | load average |"
    )
    print("|---|---:|---:|---:|---|")
    cpu = _cpu_model()
    print(
        f"| {cpu} | {rps:,.0f} ({', '.join(f'{r.rps:,.0f}' for r in runs)}) "
        f"| {rps / GUIDE_UVICORN_RPS:.2f} | {interp_us:.0f} | {' '.join(load)} |"
    )
    return 0


def _wait_for(port: int, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"uvicorn exited with {server.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    raise BenchError(f"the reference app did not answer within {timeout_s} s")


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as exc:
        print(f"host_reference: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
