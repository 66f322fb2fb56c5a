"""Many processes on one PostgreSQL database: ``serve --workers N`` and extra ``worker``s."""

from __future__ import annotations

import re
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import SMSGATE, start_server, wait_until
from tests.fakes.receiver import Receiver


def test_several_api_processes_need_postgresql(tmp_path: Path) -> None:
    out = subprocess.run(
        [SMSGATE, "serve", "--data-dir", str(tmp_path), "--workers", "2", "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "--workers above 1 needs PostgreSQL" in out.stderr


@pytest.mark.timeout(300)
def test_two_api_processes_and_two_workers_share_one_database(
    tmp_path: Path, store_kind: str, receiver: Receiver
) -> None:
    if store_kind != "postgres":
        pytest.skip("several API processes run on PostgreSQL only")
    # Connection errors to a loaded test receiver are retried: it still gets every callback.
    patient = ["--webhook-retries", "5"]
    srv = start_server(
        tmp_path / "data",
        store_kind=store_kind,
        args=["--workers", "2", "--simulator-delay", "0.1", "--sender-mps", "0", *patient],
    )
    workers = [
        subprocess.Popen(
            [
                SMSGATE,
                "worker",
                *srv.store_flags,
                "--simulator-delay",
                "0.1",
                "--sender-mps",
                "0",
                *patient,
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"worker{i}.log").open("w"),
        )
        for i in range(2)
    ]
    try:
        for i in range(2):  # both workers take part from the first message
            wait_until(lambda i=i: "running" in (tmp_path / f"worker{i}.log").read_text())
        assert srv.account_sid, "the parent bootstraps the main account once"
        auth = (srv.account_sid, srv.auth_token)
        url = f"/2010-04-01/Accounts/{srv.account_sid}/Messages.json"

        def create(i: int) -> str:
            with httpx.Client(base_url=srv.base_url, auth=auth, timeout=20) as http:
                r = http.post(
                    url,
                    data={
                        "To": f"+1555867{i:04d}",
                        "From": srv.test_number,
                        "Body": f"message {i}",
                        "StatusCallback": receiver.url("/ok"),
                    },
                )
                assert r.status_code == 201, r.text
                return str(r.json()["sid"])

        with ThreadPoolExecutor(8) as pool:
            sids = list(pool.map(create, range(100)))
        # Each message goes out once, and each of its callbacks is made once, in order.
        for sid in sids:
            wait_until(
                lambda sid=sid: receiver.statuses(sid) == ["sending", "sent", "delivered"],
                timeout=60,
            )
        started = set(re.findall(r"Started server process \[(\d+)\]", srv.log.read_text()))
        assert len(started) == 2, srv.log.read_text()
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        codes = [w.wait(30) for w in workers]
        code = srv.stop(timeout=60)
        srv.drop_databases()
    assert code == 0, srv.log.read_text()
    assert codes == [0, 0], [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]


@pytest.mark.timeout(300)
def test_four_workers_one_killed_mid_load_lose_nothing(
    tmp_path: Path, store_kind: str, receiver: Receiver
) -> None:
    """SIGKILL one of four workers while they deliver: its leases run out and the others
    take its messages over. Every accepted message reaches a final state; the only repeats
    are the killed worker's in-flight attempts (a submit it made but never recorded is made
    again by another worker: at-least-once towards the carrier, as docs/architecture.md says).
    """
    if store_kind != "postgres":
        pytest.skip("several worker processes on one store: the PostgreSQL case")
    srv = start_server(
        tmp_path / "data",
        store_kind=store_kind,
        args=["--no-worker", "--sender-mps", "0"],
    )
    flags = [*srv.store_flags, "--simulator-delay", "0.2", "--sender-mps", "0"]
    worker_cmd = [SMSGATE, "worker", *flags]
    workers = [
        subprocess.Popen(
            # A webhook (1 s, retried) always ends well within its 5 s lease, so only the
            # killed worker's in-flight callbacks can be made twice.
            [
                *worker_cmd,
                "--lease-seconds",
                "5",
                "--webhook-timeout",
                "1",
                "--webhook-retries",
                "5",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"worker{i}.log").open("w"),
        )
        for i in range(4)
    ]
    try:
        auth = (srv.account_sid, srv.auth_token)
        url = f"/2010-04-01/Accounts/{srv.account_sid}/Messages.json"

        def create(i: int) -> str:
            data = {
                "To": f"+1555866{i:04d}",
                "From": srv.test_number,
                "Body": f"message {i}",
                "StatusCallback": receiver.url("/ok"),
            }
            with httpx.Client(base_url=srv.base_url, auth=auth, timeout=20) as http:
                # A 503 (the shared database busy or restarting) is retried, as clients do.
                r = wait_until(lambda: (r := http.post(url, data=data)).status_code != 503 and r)
                assert r.status_code == 201, r.text
                return str(r.json()["sid"])

        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(create, range(60)))
            wait_until(lambda: sum(bool(receiver.statuses(s)) for s in first) >= 20, timeout=60)
            workers[0].kill()  # mid-load: with claimed, submitted and unrecorded messages
            workers[0].wait(10)
            second = list(pool.map(create, range(60, 120)))
        with httpx.Client(base_url=srv.base_url, auth=auth, timeout=20) as http:

            def status(sid: str) -> str:
                path = f"/2010-04-01/Accounts/{srv.account_sid}/Messages/{sid}.json"
                return str(http.get(path).json()["status"])

            # A receipt the killed worker's simulator held dies with it: that message stays
            # `sent`, which is final; every other one is delivered.
            wait_until(
                lambda: all(status(s) in ("sent", "delivered") for s in first + second),
                timeout=90,
            )
        # Callbacks that arrived came in order per message, with repeats only for what the
        # killed worker was doing. (Whether each arrives at all depends on the test receiver
        # keeping up on a loaded machine; tests/e2e/test_delivery.py checks that.)
        repeats = 0
        for sid in first + second:
            seen = receiver.statuses(sid)
            assert seen == sorted(seen, key=["sending", "sent", "delivered"].index), seen
            repeats += len(seen) - len(set(seen))
        assert repeats <= 64, repeats
    finally:
        for w in workers[1:]:
            w.send_signal(signal.SIGTERM)
        codes = [w.wait(30) for w in workers[1:]]
        code = srv.stop(timeout=60)
        srv.drop_databases()
    assert code == 0, srv.log.read_text()
    assert codes == [0, 0, 0]
