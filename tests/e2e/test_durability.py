"""A 201 means durable: SIGKILL the server under load, restart it, find every message."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx

from tests.conftest import start_server, wait_until


def test_sigkill_under_load_loses_no_acknowledged_message(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
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

    again = start_server(tmp_path / "data")
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
