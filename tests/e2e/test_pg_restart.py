"""A real PostgreSQL restart (``pg_ctlcluster … restart``) under load: every message the API
accepted is delivered, and the server carries on without being restarted.

This restarts the machine's PostgreSQL for everyone, so it runs only where the test may do
that: as root with pg_ctlcluster (as CI runs), or with SMSGATE_TEST_PG_RESTART=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import pgdb
from tests.conftest import Server, start_server, wait_until

# It restarts the PostgreSQL server every other test shares: run it alone (scripts/test).
pytestmark = pytest.mark.serial


def _cluster() -> tuple[str, str] | None:
    """(version, name) of the cluster serving port 5432, or None."""
    if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        return None
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == str(pgdb.PORT) and fields[3] == "online":
            return fields[0], fields[1]
    return None


@pytest.fixture
def pg_server(tmp_path: Path, store_kind: str) -> Iterator[tuple[Server, tuple[str, str]]]:
    if store_kind != "postgres":
        pytest.skip("a database restart is a PostgreSQL matter")
    cluster = _cluster()
    allowed = os.geteuid() == 0 or os.environ.get("SMSGATE_TEST_PG_RESTART") == "1"
    if cluster is None or not allowed:
        pytest.skip("needs root (or SMSGATE_TEST_PG_RESTART=1) and pg_ctlcluster for port 5432")
    srv = start_server(
        tmp_path / "data",
        store_kind="postgres",
        args=["--db-pool-timeout", "1", "--simulator-delay", "0.2", "--sender-mps", "0"],
    )
    try:
        yield srv, cluster
    finally:
        code = srv.stop()
        wait_until(pgdb.reachable, timeout=60)
        srv.drop_databases()
        assert code == 0, srv.log.read_text()


@pytest.mark.timeout(600)
def test_a_postgresql_restart_under_load_loses_no_accepted_message(
    pg_server: tuple[Server, tuple[str, str]],
) -> None:
    srv, (version, name) = pg_server
    auth = (srv.account_sid, srv.auth_token)
    url = f"/2010-04-01/Accounts/{srv.account_sid}/Messages.json"
    accepted: list[str] = []
    answers: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(base_url=srv.base_url, auth=auth, timeout=15) as http:
            i = 0
            while not stop.is_set():
                i += 1
                data = {"To": f"+1555{worker:03d}{i:04d}", "From": srv.test_number, "Body": "x"}
                try:
                    r = http.post(url, data=data)
                except httpx.HTTPError:
                    continue  # the API never closes on us; a timeout would show up here
                with lock:
                    answers.append(r.status_code)
                    if r.status_code == 201:
                        accepted.append(r.json()["sid"])

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(accepted) >= 100, timeout=60)
        subprocess.run(["pg_ctlcluster", version, name, "restart"], check=True, timeout=120)
        before = len(accepted)
        wait_until(lambda: len(accepted) >= before + 100, timeout=60)  # resumed unaided
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert srv.process.poll() is None  # the same server process throughout
    assert set(answers) <= {201, 503}, set(answers)

    with httpx.Client(base_url=srv.base_url, auth=auth, timeout=15) as http:

        def pending() -> dict[str, str]:
            """Accepted messages not delivered yet, with their status."""
            left: dict[str, str] = {}
            page: str | None = f"{url}?PageSize=1000"
            while page:
                body = http.get(page).json()
                for m in body["messages"]:
                    if m["status"] != "delivered":
                        left[m["sid"]] = m["status"]
                page = body["next_page_uri"]
            return {sid: left.get(sid, "missing") for sid in accepted if sid in left} | {
                sid: "missing" for sid in set(accepted) - stored(http)
            }

        def stored(http: httpx.Client) -> set[str]:
            found: set[str] = set()
            page: str | None = f"{url}?PageSize=1000"
            while page:
                body = http.get(page).json()
                found.update(m["sid"] for m in body["messages"])
                page = body["next_page_uri"]
            return found

        try:
            wait_until(lambda: not pending(), timeout=240, interval=2)
        except AssertionError:
            left = pending()
            raise AssertionError(f"{len(left)} of {len(accepted)} not delivered: {left}") from None
