"""A 201 means durable: SIGKILL the server under load, restart it, find every message."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx

from tests.conftest import start_server, wait_until
from tests.fakes.receiver import Receiver


def test_sigkill_under_load_loses_no_acknowledged_message(tmp_path: Path, store_kind: str) -> None:
    srv = start_server(tmp_path / "data", store_kind=store_kind)
    url = f"{srv.base_url}/2010-04-01/Accounts/{srv.account_sid}/Messages.json"
    auth = (srv.account_sid, srv.auth_token)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(auth=auth, timeout=5) as http:
            i = 0
            while not stop.is_set():
                i += 1
                data = {"To": f"+1555{worker:03d}{i:04d}", "From": srv.test_number, "Body": "x"}
                try:
                    r = http.post(url, data=data)
                except httpx.HTTPError:
                    return  # the server is gone; whatever was not acknowledged may be lost
                if r.status_code == 201:
                    with lock:
                        acknowledged.append(r.json()["sid"])

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acknowledged) >= 300, timeout=60)
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    stop.set()
    for t in threads:
        t.join(10)

    again = start_server(tmp_path / "data", database_url=srv.database_url)
    try:
        with httpx.Client(auth=auth, base_url=again.base_url, timeout=10) as http:
            missing = [
                sid
                for sid in acknowledged
                if http.get(
                    f"/2010-04-01/Accounts/{srv.account_sid}/Messages/{sid}.json"
                ).status_code
                != 200
            ]
        assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged messages lost"
    finally:
        assert again.stop() == 0
        srv.drop_databases()


def test_sigkill_mid_delivery_loses_no_message_and_no_pending_callback(
    tmp_path: Path, receiver: Receiver, store_kind: str
) -> None:
    fast = ["--sender-mps", "0", "--lease-seconds", "2"]
    srv = start_server(tmp_path / "data", args=fast, store_kind=store_kind)
    url = f"{srv.base_url}/2010-04-01/Accounts/{srv.account_sid}/Messages.json"
    auth = (srv.account_sid, srv.auth_token)
    callback = receiver.url("/ok")
    sids: list[str] = []
    with httpx.Client(auth=auth, timeout=10) as http:
        for i in range(150):
            r = http.post(
                url,
                data={
                    "To": f"+1555867{i:04d}",
                    "From": srv.test_number,
                    "Body": "x",
                    "StatusCallback": callback,
                },
            )
            assert r.status_code == 201
            sids.append(r.json()["sid"])
    srv.process.send_signal(signal.SIGKILL)  # with deliveries and callbacks in flight
    srv.process.wait(10)

    again = start_server(tmp_path / "data", args=fast, database_url=srv.database_url)
    try:
        with httpx.Client(auth=auth, base_url=again.base_url, timeout=10) as http:

            def status(sid: str) -> str:
                path = f"/2010-04-01/Accounts/{srv.account_sid}/Messages/{sid}.json"
                return str(http.get(path).json()["status"])

            # Receipts the simulator held in memory die with it: those messages stay `sent`,
            # which is final; everything else is delivered.
            wait_until(lambda: all(status(s) in ("sent", "delivered") for s in sids), timeout=60)
        # Every status a message reached was called back (at least once) after the restart.
        for sid in sids:
            wait_until(lambda sid=sid: "sent" in receiver.statuses(sid), timeout=60)
    finally:
        assert again.stop() == 0
        srv.drop_databases()
