"""Four delivery workers on one database, one of them SIGKILLed mid-load: every accepted
message still reaches a final state, and the only messages the carrier sees twice are
attempts the killed worker had in flight (at most its SMPP window)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import sdk, start_server, start_worker, wait_until
from tests.e2e.test_smpp import FAST
from tests.smpp_peers import SmscPeer, start_peer

MESSAGES = 400
WINDOW = 10


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SmscPeer]:
    peer = start_peer("sim", tmp_path / "smsc", "--submit-resp-delay", "0.05")
    yield peer
    assert peer.stop() == 0, peer.log.read_text()


@pytest.mark.timeout(420)  # five processes and 400 messages on a loaded 2-core machine
def test_a_sigkilled_worker_among_four_loses_nothing(
    tmp_path: Path, sim: SmscPeer, store_kind: str
) -> None:
    env = {
        # receipt_timeout: a receipt the SMSC owed the killed worker's session and never got
        # to another one still ends its message (undelivered, 30008): a final state.
        "SMSGATE_CARRIER": sim.url + f"?window={WINDOW}&receipt_timeout=10" + FAST,
        "SMSGATE_SENDER_MPS": "0",
        "SMSGATE_LEASE_SECONDS": "3",
    }
    server = start_server(tmp_path / "data", args=["--no-worker"], env=env, store_kind=store_kind)
    workers = [start_worker(server, tmp_path / f"worker-{i}.log", env=env) for i in range(4)]
    try:
        sim.wait_for_sessions(lambda ss: sum(1 for s in ss if s["bound"]) == 4, timeout=60)
        client = sdk(server, server.account_sid, server.auth_token)
        sids: list[str] = []

        def create() -> None:
            for i in range(MESSAGES):
                sids.append(
                    client.messages.create(
                        to="+15558675310", from_=server.test_number, body=f"fleet {i}"
                    ).sid
                )

        creator = threading.Thread(target=create)
        creator.start()
        # Kill a worker once the load is well under way: one whose session has submitted
        # (with one create at a time, the worker that polls first takes most messages, and
        # a worker that polls later may not have had one yet).
        wait_until(lambda: len(sim.submits()) >= MESSAGES // 4, timeout=60)
        busiest = Counter(s["session"] for s in sim.submits()).most_common(1)[0][0]
        peer = next(s["peer"] for s in sim.sessions() if s["id"] == busiest)
        victim = owner_of(workers, int(peer.rsplit(":", 1)[1]))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        creator.join(120)
        assert len(sids) == MESSAGES

        final = {"delivered", "undelivered"}

        def settled() -> Counter[str]:
            statuses = Counter(m.status for m in client.messages.list(page_size=1000))
            done = sum(statuses.values()) == MESSAGES and set(statuses) <= final
            return statuses if done else Counter()

        statuses = wait_until(settled, timeout=240, interval=1)
        assert statuses["delivered"] >= MESSAGES * 0.95, statuses

        submits = sim.submits()
        killed = {s["id"] for s in sim.sessions() if not s["open"]}
        assert len(killed) == 1  # the victim's session; the three others are still bound
        assert any(s["session"] in killed for s in submits)  # it had taken part in the load
        counts = Counter(s["text"] for s in submits)
        assert set(counts) == {f"fleet {i}" for i in range(MESSAGES)}
        twice = {text for text, n in counts.items() if n > 1}
        assert all(n <= 2 for n in counts.values())
        assert len(twice) <= WINDOW
        for text in twice:  # each duplicate's first try was on the killed worker's session
            first = next(s for s in submits if s["text"] == text)
            assert first["session"] in killed
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(20) for worker in workers]
        assert server.stop() == 0
        server.drop_databases()
    assert [code for worker, code in zip(workers, codes, strict=True) if worker is not victim] == [
        0,
        0,
        0,
    ]


def owner_of(workers: list[subprocess.Popen[bytes]], local_port: int) -> subprocess.Popen[bytes]:
    """The worker whose TCP socket has ``local_port`` on this end (its SMPP session)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                inodes.add(fields[9])
    for worker in workers:
        fds = Path(f"/proc/{worker.pid}/fd")
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return worker
    raise AssertionError(f"no worker owns the SMPP session from port {local_port}")
