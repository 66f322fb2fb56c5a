"""Shared fixtures: the installed ``smsgate serve`` on a free loopback port, and SDK clients.

The server runs as a real subprocess on a real SQLite file, and again on a real PostgreSQL
database: every test that uses a server, or the ``store_kind`` fixture, runs once per store
selected with ``--stores`` (default: both when PostgreSQL answers at 127.0.0.1:5432, else
SQLite alone). Each test gets its own subaccount (and a fresh number) of the bootstrapped
main account, so tests stay independent while sharing one server per session and store.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from tests import pgdb

STORES = ("sqlite", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stores",
        default=None,
        help="comma-separated stores to run store-touching tests on: sqlite,postgres "
        "(default: both when PostgreSQL answers at 127.0.0.1:5432, else sqlite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    raw = config.getoption("--stores")
    if raw is None:
        kinds = list(STORES) if pgdb.reachable() else ["sqlite"]
    else:
        kinds = [k.strip() for k in raw.split(",") if k.strip()]
        unknown = set(kinds) - set(STORES)
        if unknown or not kinds:
            raise pytest.UsageError(f"--stores takes sqlite and/or postgres, not {raw!r}")
    config.stash[_KINDS] = kinds


_KINDS = pytest.StashKey[list[str]]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", metafunc.config.stash[_KINDS], scope="session")


@pytest.fixture
def store_home(tmp_path: Path, store_kind: str) -> Iterator[Any]:
    """An empty home for a store of ``store_kind`` (tests/stores.py)."""
    from tests.stores import StoreHome

    if store_kind == "sqlite":
        yield StoreHome("sqlite", tmp_path)
        return
    with pgdb.database() as url:
        yield StoreHome("postgres", tmp_path, url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped after it)."""
    with pgdb.database() as url:
        yield url


def store_args(store_kind: str, stack: list[str]) -> list[str]:
    """``smsgate`` options that put a server on ``store_kind``; a PostgreSQL database
    is created for it and its name pushed on ``stack`` (drop them with drop_databases)."""
    if store_kind == "sqlite":
        return []
    name = pgdb.create_database()
    stack.append(name)
    return ["--database-url", pgdb.url_of(name)]


# The console script installed next to this interpreter (the venv the tests run in).
_BESIDE = Path(sys.executable).parent / "smsgate"
SMSGATE = str(_BESIDE) if _BESIDE.exists() else (shutil.which("smsgate") or "smsgate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    log: Path
    account_sid: str = ""
    auth_token: str = ""
    test_number: str = ""
    database_url: str | None = None  # PostgreSQL; None: the SQLite file in the data dir
    databases: list[str] | None = None  # test databases to drop with the server

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[Any]:
        """Run one statement on the server's store (SQLite's dialect) and commit."""
        if self.database_url is not None:
            return pgdb.query(self.database_url, sql, params)
        with sqlite3.connect(self.db, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_flags(self) -> list[str]:
        """The ``smsgate`` options that reach this server's store (for other commands)."""
        url = ["--database-url", self.database_url] if self.database_url else []
        return ["--data-dir", str(self.data_dir), *url]

    @property
    def db(self) -> Path:
        return self.data_dir / "smsgate.db"

    def healthy(self) -> bool:
        try:
            return httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        return code

    def drop_databases(self) -> None:
        for name in self.databases or []:
            pgdb.drop_database(name)


def start_server(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    store_kind: str = "sqlite",
    database_url: str | None = None,
) -> Server:
    """Start ``smsgate serve`` and wait for /healthz; parse the bootstrap banner if printed.

    ``store_kind="postgres"`` runs it on a new database (``Server.drop_databases`` drops
    it), ``database_url`` on a given one."""
    databases: list[str] = []
    if database_url is None:
        extra = store_args(store_kind, databases)
        database_url = extra[1] if extra else None
    if database_url is not None:
        args = ["--database-url", database_url, *(args or [])]
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{data_dir.name}-server-{port}.log"
    out = log.with_suffix(".out")
    full_env = {**os.environ, **(env or {})}
    cmd = [SMSGATE, "serve", "--data-dir", str(data_dir), "--port", str(port), *(args or [])]
    with log.open("w") as err, out.open("w") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=err, env=full_env, text=True)
    server = Server(proc, port, data_dir, log, database_url=database_url, databases=databases)

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"smsgate exited with {proc.returncode}:\n{log.read_text()}")
        return server.healthy()

    wait_until(ready, timeout=30)
    banner = out.read_text()
    if m := re.search(
        r"Account SID : (AC\w+)\s+Auth token  : (\w+)\s+Test number : (\+\d+)", banner
    ):
        server.account_sid, server.auth_token, server.test_number = m.groups()
    return server


class Launcher:
    """Starts ``smsgate serve`` on the test's store kind (the ``launch`` fixture).

    A PostgreSQL database is created per data dir, so a restart on the same data dir finds
    the same store, as it would on SQLite. At the end of the test, servers still running
    are stopped and the databases dropped."""

    def __init__(self, store_kind: str) -> None:
        self.store_kind = store_kind
        self.servers: list[Server] = []
        self._databases: dict[Path, str] = {}

    def __call__(
        self, data_dir: Path, *, env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> Server:
        url = None
        if self.store_kind == "postgres":
            if data_dir not in self._databases:
                self._databases[data_dir] = pgdb.create_database()
            url = pgdb.url_of(self._databases[data_dir])
        server = start_server(data_dir, env=env, args=args, database_url=url)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            if server.process.poll() is None:
                try:
                    server.stop()
                except subprocess.TimeoutExpired:
                    server.stop(signal.SIGKILL)
        for name in self._databases.values():
            pgdb.drop_database(name)


@pytest.fixture
def launch(store_kind: str) -> Iterator[Launcher]:
    """``launch(data_dir, env=…, args=…)`` starts a server on this test's store kind."""
    launcher = Launcher(store_kind)
    try:
        yield launcher
    finally:
        launcher.close()


def start_worker(
    server: Server, log: Path, *, env: dict[str, str] | None = None, args: list[str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``smsgate worker`` on ``server``'s database (stderr to ``log``)."""
    database = ["--database-url", server.database_url] if server.database_url else []
    with log.open("w") as err:
        return subprocess.Popen(
            [SMSGATE, "worker", "--data-dir", str(server.data_dir), *database, *(args or [])],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("smsgate") / "data", store_kind=store_kind)
    assert srv.account_sid, "an empty data dir must print the bootstrap banner"
    yield srv
    code = srv.stop()
    srv.drop_databases()
    assert code == 0, srv.log.read_text()


def sdk(server: Server, username: str, password: str, account_sid: str | None = None) -> Client:
    client = Client(username, password, account_sid=account_sid)
    client.api.base_url = server.base_url
    return client


@pytest.fixture(scope="session")
def main_client(server: Server) -> Client:
    return sdk(server, server.account_sid, server.auth_token)


@dataclass
class Tenant:
    """A subaccount with one number of its own, for one test."""

    client: Client
    sid: str
    token: str
    number: str
    http: httpx.Client

    def url(self, path: str) -> str:
        return f"/2010-04-01/Accounts/{self.sid}{path}"


_DRAWN: set[str] = set()


def random_number() -> str:
    """A +1 501 number this test process has not drawn before. Each xdist worker has its own
    servers; a few hundred draws from 10 million collided in about one run in a hundred,
    and the server rightly refused the second number as not available (21422)."""
    while True:
        number = "+1501" + "".join(secrets.choice("0123456789") for _ in range(7))
        if number not in _DRAWN:
            _DRAWN.add(number)
            return number


def make_tenant(server: Server, main_client: Client) -> Iterator[Tenant]:
    sub = main_client.api.v2010.accounts.create(friendly_name="test tenant")
    client = sdk(server, sub.sid, sub.auth_token)
    number = client.incoming_phone_numbers.create(phone_number=random_number()).phone_number
    with httpx.Client(base_url=server.base_url, auth=(sub.sid, sub.auth_token)) as http:
        yield Tenant(client, sub.sid, sub.auth_token, number, http)


@pytest.fixture
def tenant(server: Server, main_client: Client) -> Iterator[Tenant]:
    """A subaccount on the full server: messages really move through the simulator."""
    yield from make_tenant(server, main_client)


@pytest.fixture(scope="session")
def idle_server(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Server]:
    """An API-only node (``--no-worker``): messages stay where the API put them."""
    srv = start_server(
        tmp_path_factory.mktemp("smsgate-idle") / "data",
        args=["--no-worker"],
        store_kind=store_kind,
    )
    yield srv
    code = srv.stop()
    srv.drop_databases()
    assert code == 0, srv.log.read_text()


@pytest.fixture
def idle_tenant(idle_server: Server) -> Iterator[Tenant]:
    """A subaccount whose messages stay queued until a test moves them."""
    yield from make_tenant(
        idle_server, sdk(idle_server, idle_server.account_sid, idle_server.auth_token)
    )


def set_status(server: Server, sid: str, status: str, date_sent_us: int | None = None) -> None:
    """Move a message to another status directly in the store.

    Tests put messages into final states the way the delivery worker does, by writing the row.
    """
    if date_sent_us is None:
        server.query("UPDATE messages SET status = ? WHERE sid = ?", (status, sid))
    else:
        server.query(
            "UPDATE messages SET status = ?, date_sent = ?, list_key = ? WHERE sid = ?",
            (status, date_sent_us, date_sent_us, sid),
        )


@pytest.fixture
def receiver() -> Iterator[Any]:
    from tests.fakes.receiver import start_receiver

    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def media_host() -> Iterator[Any]:
    from tests.fakes.media_host import start_media_host

    host = start_media_host()
    yield host
    host.close()


# SMSC peers for SMPP tests (``smsc`` runs a test against smsgate smsc-sim and the npm one).
from tests.smpp_peers import smsc, smsc_process  # noqa: E402, F401
