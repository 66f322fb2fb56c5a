"""The `smsgate` command: settings from flags and SMSGATE_* variables, bootstrap, shutdown."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import orjson
from twilio.rest import Client

from tests import pgdb
from tests.conftest import SMSGATE, Launcher, Server, free_port, wait_until


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SMSGATE, *args], capture_output=True, text=True, env=env, check=False)


def test_environment_configures_serve_and_unknown_variables_only_warn(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "from-env"
    env = {
        "PATH": "/usr/bin:/bin",
        "SMSGATE_PORT": str(port),
        "SMSGATE_DATA_DIR": str(data),
        "SMSGATE_NO_SUCH_OPTION": "1",
    }
    proc = subprocess.Popen(
        [SMSGATE, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: _healthy(port) or proc.poll() is not None, timeout=30)
        assert proc.poll() is None
        assert (data / "smsgate.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "ignoring unknown environment variable SMSGATE_NO_SUCH_OPTION" in err
    assert "stopped cleanly" in err
    assert "Account SID : AC" in out  # the bootstrap banner on an empty data dir


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_flags_win_over_the_environment(tmp_path: Path, launch: Launcher) -> None:
    srv = launch(tmp_path / "d", env={"SMSGATE_PORT": "1"})  # launch passes --port
    try:
        assert srv.healthy()
    finally:
        assert srv.stop() == 0


def test_bad_settings_fail_fast_with_a_message(tmp_path: Path) -> None:
    result = run("serve", "--data-dir", str(tmp_path), "--port", "http")
    assert result.returncode == 2
    assert "--port must be an integer" in result.stderr
    result = run("serve", "--data-dir", str(tmp_path), "--database-url", "mysql://x")
    assert result.returncode == 2
    assert "unsupported database URL" in result.stderr


def test_the_banner_is_printed_once_and_the_snippet_works(tmp_path: Path, launch: Launcher) -> None:
    srv = launch(tmp_path / "data")
    try:
        client = Client(srv.account_sid, srv.auth_token)
        client.api.base_url = srv.base_url
        message = client.messages.create(to="+15558675310", from_=srv.test_number, body="hi")
        assert message.status == "queued"
    finally:
        assert srv.stop() == 0
    again = launch(tmp_path / "data")
    try:
        assert again.account_sid == ""  # not an empty store any more: no second account
    finally:
        assert again.stop() == 0


def test_accounts_create_and_list_while_the_server_runs(server: Server) -> None:
    created = run("accounts", "create", *server.store_flags, "--friendly-name", "cli")
    assert created.returncode == 0, created.stderr
    account = orjson.loads(created.stdout)
    assert account["sid"].startswith("AC")
    assert len(account["auth_token"]) == 32
    listed = run("accounts", "list", *server.store_flags)
    sids = [orjson.loads(line)["sid"] for line in listed.stdout.splitlines()]
    assert account["sid"] in sids
    assert server.account_sid in sids
    r = httpx.get(
        f"{server.base_url}/2010-04-01/Accounts/{account['sid']}.json",
        auth=(account["sid"], account["auth_token"]),
    )
    assert r.json()["friendly_name"] == "cli"


def test_db_check_and_upgrade(tmp_path: Path, store_kind: str) -> None:
    def check_and_upgrade(*store: str) -> None:
        assert run("db", "check", *store).returncode == 1
        upgraded = run("db", "upgrade", *store)
        assert upgraded.returncode == 0, upgraded.stderr
        checked = run("db", "check", *store)
        assert checked.returncode == 0
        assert "current" in checked.stdout

    fresh = ["--data-dir", str(tmp_path / "fresh")]
    if store_kind == "sqlite":
        check_and_upgrade(*fresh)
        return
    with pgdb.database() as url:
        check_and_upgrade(*fresh, "--database-url", url)


def test_sigterm_under_load_still_answers_every_accepted_request(
    tmp_path: Path, launch: Launcher
) -> None:
    srv = launch(tmp_path / "data")
    client = Client(srv.account_sid, srv.auth_token)
    client.api.base_url = srv.base_url
    sids = [
        client.messages.create(to="+15558675310", from_=srv.test_number, body=str(i)).sid
        for i in range(20)
    ]
    assert srv.stop(signal.SIGTERM) == 0
    srv2 = launch(tmp_path / "data")
    try:
        client.api.base_url = srv2.base_url
        assert {m.sid for m in client.messages.list()} == set(sids)
    finally:
        assert srv2.stop() == 0
