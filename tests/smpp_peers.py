"""SMSC peers for SMPP tests: ``smsgate smsc-sim`` and the npm-smpp SMSC (tests/node/smsc.mjs).

Both speak SMPP 3.4 on loopback and serve the same control API (docs/smsc-sim.md), so a
test written against the ``smsc`` fixture runs against two independent implementations::

    def test_receipt(smsc: SmscPeer) -> None:      # runs as [sim] and [node]
        smsc.behaviour(receipt_delay=0.2, receipt_stat="UNDELIV", receipt_err=34)
        ...  # point the connector at smsc.url (smpp://smsgate:secret@127.0.0.1:PORT)
        [submit] = smsc.wait_for_submits(1)
        smsc.mo("+15558675310", "+15005550006", "hi", encoding="ucs2", split="udh16")

``smsc`` is function-scoped over one process per implementation (session-scoped): each
test starts with the start-up behaviours and no records, and its connections are dropped
when it ends. ``start_peer`` starts a private process with start-up flags of its own.
"""

from __future__ import annotations

import fcntl
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
# As in conftest (not imported from there: conftest imports this module for its fixtures).
_BESIDE = Path(sys.executable).parent / "smsgate"
SMSGATE = str(_BESIDE) if _BESIDE.exists() else (shutil.which("smsgate") or "smsgate")
PEERS = ("sim", "node")
SYSTEM_ID = "smsgate"
PASSWORD = "secret"


@dataclass
class SmscPeer:
    """A running SMSC and its control API."""

    kind: str  # "sim" | "node"
    host: str
    port: int
    control_url: str
    system_id: str
    password: str
    process: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client = field(repr=False)

    @property
    def url(self) -> str:
        """The peer as an SMPP carrier URL (add query options as needed)."""
        return f"smpp://{self.system_id}:{self.password}@{self.host}:{self.port}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code != 200:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def behaviour(self, **changes: Any) -> dict[str, Any]:
        """Change behaviours (POST /behaviour); with no arguments just read them."""
        if not changes:
            return dict(self._call("GET", "/behaviour"))
        return dict(self._call("POST", "/behaviour", changes))

    def mo(
        self,
        from_: str,
        to: str,
        body: str,
        *,
        encoding: str = "gsm",
        split: str = "udh8",
        max_part_len: int | None = None,
    ) -> dict[str, Any]:
        """Inject a mobile-originated message; returns {"parts": n, "deliveries": [ids]}."""
        request = {"from": from_, "to": to, "body": body, "encoding": encoding, "split": split}
        if max_part_len is not None:
            request["max_part_len"] = max_part_len
        return dict(self._call("POST", "/mo", request))

    def submits(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/submits"))

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/deliveries"))

    def sessions(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/sessions"))

    def drop(self) -> int:
        """Close every SMPP connection now, without unbind."""
        return int(self._call("POST", "/drop")["dropped"])

    def unbind(self) -> int:
        """Send unbind on every bound session."""
        return int(self._call("POST", "/unbind")["unbound"])

    def reset(self) -> None:
        self._call("POST", "/reset")

    def wait_for_submits(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The submits once at least ``n`` have arrived."""
        return _poll(self.submits, lambda s: len(s) >= n, timeout)

    def wait_for_deliveries(
        self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The deliveries once ``predicate(deliveries)`` holds, e.g. all acked."""
        return _poll(self.deliveries, predicate, timeout)

    def wait_for_sessions(
        self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The sessions once ``predicate(sessions)`` holds."""
        return _poll(self.sessions, predicate, timeout)

    def stop(self) -> int:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(10)


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)
    return result


def _poll(
    fetch: Callable[[], list[dict[str, Any]]],
    predicate: Callable[[list[dict[str, Any]]], Any],
    timeout: float,
) -> list[dict[str, Any]]:
    seen: list[list[dict[str, Any]]] = []

    def check() -> bool:
        seen[:] = [fetch()]
        return bool(predicate(seen[0]))

    wait_until(check, timeout)
    return seen[0]


def node_ready() -> str:
    """The node binary, with tests/node's packages installed (skips without node locally)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the Node SMSC: node and npm are required")
        pytest.skip("node/npm are not installed on this machine")
    # pytest-xdist workers may all get here first: one installs, the others wait for it.
    with (NODE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_DIR / "node_modules" / "smpp").exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300
            )
    return node


def start_peer(kind: str, workdir: Path, *flags: str) -> SmscPeer:
    """Start one SMSC on free loopback ports and wait for its control API."""
    common = ["--port", "0", "--control-port", "0", "--system-id", SYSTEM_ID]
    common += ["--password", PASSWORD, *flags]
    if kind == "sim":
        cmd = [SMSGATE, "smsc-sim", "--log-level", "warning", *common]
        cwd = None
    else:
        cmd = [node_ready(), "smsc.mjs", *common]
        cwd = NODE_DIR
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"smsc-{kind}-{time.monotonic_ns()}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=err)
    assert proc.stdout is not None
    announce = _first_line(proc, log)
    host = announce["host"]
    control_url = f"http://{host}:{announce['control_port']}"
    peer = SmscPeer(
        kind=kind,
        host=host,
        port=int(announce["smpp_port"]),
        control_url=control_url,
        system_id=SYSTEM_ID,
        password=PASSWORD,
        process=proc,
        log=log,
        http=httpx.Client(base_url=control_url, timeout=5),
    )

    def healthy() -> bool:
        try:
            return bool(peer.http.get("/healthz").json()["ok"])
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=20)
    return peer


def _first_line(proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> dict[str, Any]:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            raise AssertionError(f"SMSC did not start in {timeout}s:\n{log.read_text()}")
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        raise AssertionError(f"SMSC exited with {proc.returncode}:\n{log.read_text()}")
    return dict(orjson.loads(line))


@pytest.fixture(scope="session", params=PEERS)
def smsc_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SmscPeer]:
    peer = start_peer(str(request.param), tmp_path_factory.mktemp("smsc"))
    yield peer
    assert peer.stop() == 0, peer.log.read_text()


@pytest.fixture
def smsc(smsc_process: SmscPeer) -> Iterator[SmscPeer]:
    """An SMSC peer (parametrized: sim, node) with start-up behaviours and no records."""
    smsc_process.drop()
    smsc_process.reset()
    yield smsc_process
    smsc_process.drop()
