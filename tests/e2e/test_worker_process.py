"""``smsgate serve --worker-process``: the worker and webhook sender in a child process.

The child is started by the server, started again when it dies, stopped with it, and never
outlives it; what it held when killed is taken up again once its leases run out.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from twilio.request_validator import RequestValidator

from tests.conftest import Launcher, Server, wait_until
from tests.fakes.receiver import Receiver

CHILD = ["--worker-process", "--sender-mps", "0"]
# A short lease, so that what a killed worker held is taken up again soon. Callbacks are
# then at least once: a callback whose attempt is not recorded within 2 s (the webhook
# child still starting on a busy machine) is claimed again.
FAST = [*CHILD, "--lease-seconds", "2"]


def _children(pid: int) -> list[int]:
    """Live worker children of ``pid`` (the webhook child of serve does not run with
    --worker-process; the worker's own webhook child is its grandchild)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(c) for c in text.split() if _alive(int(c))]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _create(http: httpx.Client, srv: Server, n: int, callback: str) -> list[str]:
    url = f"/2010-04-01/Accounts/{srv.account_sid}/Messages.json"
    sids = []
    for i in range(n):
        data = {"To": f"+1555301{i:04d}", "From": srv.test_number, "Body": "x"}
        r = http.post(url, data={**data, "StatusCallback": callback})
        assert r.status_code == 201, r.text
        sids.append(r.json()["sid"])
    return sids


def _status(http: httpx.Client, account_sid: str, sid: str) -> str:
    path = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json"
    return str(http.get(path).json()["status"])


def test_the_worker_child_delivers_and_calls_back_in_order(
    launch: Launcher, tmp_path: Path, receiver: Receiver
) -> None:
    srv = launch(tmp_path / "data", args=CHILD)
    try:
        (child,) = wait_until(lambda: _children(srv.process.pid))
        auth = (srv.account_sid, srv.auth_token)
        with httpx.Client(auth=auth, base_url=srv.base_url, timeout=10) as http:
            sids = _create(http, srv, 20, receiver.url("/ok"))
            wait_until(lambda: all(_status(http, srv.account_sid, s) == "delivered" for s in sids))
        validator = RequestValidator(srv.auth_token)
        for sid in sids:
            wait_until(lambda sid=sid: len(receiver.statuses(sid)) == 3)
            assert receiver.statuses(sid) == ["sending", "sent", "delivered"]
            for hit in receiver.for_message(sid):
                signature = hit.headers["X-Twilio-Signature"]
                assert validator.validate(receiver.url("/ok"), hit.params, signature)
        assert _children(srv.process.pid) == [child]
    finally:
        assert srv.stop() == 0
    assert not _alive(child)


def test_a_killed_worker_child_is_replaced_and_nothing_is_lost(
    launch: Launcher, tmp_path: Path, receiver: Receiver
) -> None:
    srv = launch(tmp_path / "data", args=FAST)
    try:
        (child,) = wait_until(lambda: _children(srv.process.pid))
        auth = (srv.account_sid, srv.auth_token)
        with httpx.Client(auth=auth, base_url=srv.base_url, timeout=10) as http:
            before = _create(http, srv, 60, receiver.url("/ok"))
            os.kill(child, signal.SIGKILL)  # with deliveries and callbacks in flight
            after = _create(http, srv, 20, receiver.url("/ok"))  # the API does not wait
            (second,) = wait_until(
                lambda: [c for c in _children(srv.process.pid) if c != child], timeout=30
            )
            # Receipts the killed simulator held in memory died with it: those messages stay
            # `sent`, which is final; the rest, and everything created after, is delivered.
            wait_until(
                lambda: all(
                    _status(http, srv.account_sid, s) in ("sent", "delivered") for s in before
                ),
                timeout=60,
            )
            wait_until(lambda: all(_status(http, srv.account_sid, s) == "delivered" for s in after))
        for sid in before + after:
            wait_until(lambda sid=sid: "sent" in receiver.statuses(sid), timeout=60)
        for sid in after:
            wait_until(lambda sid=sid: "delivered" in receiver.statuses(sid))
            assert list(dict.fromkeys(receiver.statuses(sid))) == ["sending", "sent", "delivered"]
        assert "exited with -9; starting another" in srv.log.read_text()
    finally:
        assert srv.stop() == 0
    assert not _alive(second)


def test_the_worker_child_never_outlives_a_killed_server(
    launch: Launcher, tmp_path: Path, receiver: Receiver
) -> None:
    srv = launch(tmp_path / "data", args=FAST)
    (child,) = wait_until(lambda: _children(srv.process.pid))
    auth = (srv.account_sid, srv.auth_token)
    with httpx.Client(auth=auth, base_url=srv.base_url, timeout=10) as http:
        sids = _create(http, srv, 60, receiver.url("/ok"))
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    # Its control pipe closed with the server: it stops on its own (not orphaned forever).
    wait_until(lambda: not _alive(child), timeout=30)

    again = launch(tmp_path / "data", args=FAST)
    try:
        with httpx.Client(auth=auth, base_url=again.base_url, timeout=10) as http:
            wait_until(
                lambda: all(
                    _status(http, srv.account_sid, s) in ("sent", "delivered") for s in sids
                ),
                timeout=60,
            )
        for sid in sids:
            wait_until(lambda sid=sid: "sent" in receiver.statuses(sid), timeout=60)
    finally:
        assert again.stop() == 0
