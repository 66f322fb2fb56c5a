"""PostgreSQL going away: 503 with Retry-After while it is gone, everything resumes by itself.

The server reaches its database through a TCP proxy on loopback that the test cuts (every
connection closed, new ones refused) and restores, so the outage touches no one else's
database on the shared PostgreSQL server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import pgdb
from tests.conftest import Server, start_server, wait_until
from tests.fakes.receiver import Receiver
from tests.tcpproxy import TcpProxy


@pytest.fixture
def proxied(tmp_path: Path, store_kind: str) -> Iterator[tuple[Server, TcpProxy]]:
    if store_kind != "postgres":
        pytest.skip("a database outage is a PostgreSQL matter")
    proxy = TcpProxy((pgdb.HOST, pgdb.PORT))
    name = pgdb.create_database()
    try:
        srv = start_server(
            tmp_path / "data",
            database_url=pgdb.url_of(name, port=proxy.port),
            args=["--db-pool-timeout", "1", "--simulator-delay", "0.2", "--sender-mps", "0"],
        )
        try:
            yield srv, proxy
        finally:
            proxy.restore()
            code = srv.stop()
            assert code == 0, srv.log.read_text()
    finally:
        proxy.close()
        pgdb.drop_database(name)


def test_an_outage_answers_503_and_loses_nothing(
    proxied: tuple[Server, TcpProxy], receiver: Receiver
) -> None:
    srv, proxy = proxied
    auth = (srv.account_sid, srv.auth_token)
    url = f"/2010-04-01/Accounts/{srv.account_sid}/Messages.json"
    callback = receiver.url("/ok")
    accepted: list[str] = []
    refused: list[httpx.Response] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(base_url=srv.base_url, auth=auth, timeout=10) as http:
            i = 0
            while not stop.is_set():
                i += 1
                data = {
                    "To": f"+1555{worker:03d}{i:04d}",
                    "From": srv.test_number,
                    "Body": "through the outage",
                    "StatusCallback": callback,
                }
                r = http.post(url, data=data)
                with lock:
                    if r.status_code == 201:
                        accepted.append(r.json()["sid"])
                    else:
                        refused.append(r)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(accepted) >= 50, timeout=60)
        proxy.cut()
        wait_until(lambda: len(refused) >= 5, timeout=30)
        with httpx.Client(base_url=srv.base_url, auth=auth, timeout=10) as http:
            r = http.get(url)
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        body = r.json()
        assert body["code"] == 20503 and body["status"] == 503, body
        assert body["more_info"].endswith("/20503")
        proxy.restore()
        before = len(accepted)
        wait_until(lambda: len(accepted) >= before + 50, timeout=60)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    assert {r.status_code for r in refused} == {503}, {r.text for r in refused}
    assert all(r.json()["code"] == 20503 for r in refused)

    # Every accepted message is delivered and called back, without restarting anything.
    with httpx.Client(base_url=srv.base_url, auth=auth, timeout=10) as http:

        def status(sid: str) -> str:
            r = http.get(f"/2010-04-01/Accounts/{srv.account_sid}/Messages/{sid}.json")
            return str(r.json()["status"]) if r.status_code == 200 else f"HTTP {r.status_code}"

        # A receipt the simulator produced while the database was away is reported again
        # until it is recorded, as an SMSC repeats an unacknowledged deliver_sm.
        wait_until(lambda: all(status(s) == "delivered" for s in accepted), timeout=90)
    for sid in accepted:
        wait_until(lambda sid=sid: "sent" in receiver.statuses(sid), timeout=60)
