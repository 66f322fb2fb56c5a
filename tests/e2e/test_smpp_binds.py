"""A carrier's bind limit holds across processes: ``max_binds`` is shared through the store,
so several workers never open more SMPP sessions than the carrier allows, and a worker that
dies hands its bind over once its slot's lease runs out. Runs against both SMSC peers."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.conftest import Server, start_server, start_worker, wait_until
from tests.e2e.test_smpp import FAST, Gateway
from tests.smpp_peers import SmscPeer


def _env(smsc: SmscPeer, lease: int) -> dict[str, str]:
    return {
        "SMSGATE_CARRIER": smsc.url + "?window=10&max_binds=1" + FAST,
        "SMSGATE_SENDER_MPS": "0",
        "SMSGATE_LEASE_SECONDS": str(lease),
    }


def _open_sessions(smsc: SmscPeer) -> int:
    return sum(1 for s in smsc.sessions() if s["open"])


def _one_worker_binds(
    tmp_path: Path, smsc: SmscPeer, store_kind: str, lease: int
) -> tuple[Server, subprocess.Popen[bytes], subprocess.Popen[bytes], Path]:
    """An API-only server, a first worker bound, and a second one waiting for the slot."""
    env = _env(smsc, lease)
    server = start_server(tmp_path / "data", args=["--no-worker"], env=env, store_kind=store_kind)
    first = start_worker(server, tmp_path / "first.log", env=env)
    smsc.wait_for_sessions(lambda ss: any(s["bound"] for s in ss), timeout=30)
    second_log = tmp_path / "second.log"
    second = start_worker(server, second_log, env=env)
    wait_until(lambda: "held by other processes" in second_log.read_text())
    return server, first, second, second_log


def test_a_second_worker_waits_for_the_bind_and_takes_it_over_after_a_sigkill(
    tmp_path: Path, smsc: SmscPeer, store_kind: str
) -> None:
    server, first, second, _ = _one_worker_binds(tmp_path, smsc, store_kind, lease=3)
    try:
        gateway = Gateway(server, smsc)
        gateway.wait_status(gateway.send("one bind").sid, "delivered")
        assert len(smsc.sessions()) == 1  # the second worker never even connected
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        sid = gateway.send("after the kill").sid  # waits in the queue meanwhile
        gateway.wait_status(sid, "delivered", timeout=30)
        sessions = smsc.sessions()
        assert len(sessions) == 2
        assert _open_sessions(smsc) == 1
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
        assert server.stop() == 0
        server.drop_databases()


def test_a_worker_that_stops_cleanly_gives_its_bind_back_at_once(
    tmp_path: Path, smsc: SmscPeer, store_kind: str
) -> None:
    # A lease far longer than the test: only the release can let the second worker bind.
    server, first, second, second_log = _one_worker_binds(tmp_path, smsc, store_kind, lease=120)
    try:
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
        wait_until(lambda: "SMPP smpp/trx bound" in second_log.read_text(), timeout=30)
        gateway = Gateway(server, smsc)
        gateway.wait_status(gateway.send("handed over").sid, "delivered")
        assert _open_sessions(smsc) == 1
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
        assert server.stop() == 0
        server.drop_databases()
