"""Several carriers from a TOML file (--config): routes by destination prefix, with
failover to the next carrier of a route while one has no bind."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SMSGATE, Launcher, Server, wait_until
from tests.e2e.test_smpp import FAST, Gateway
from tests.smpp_peers import SmscPeer, start_peer

US, UK = "+15558675310", "+447700900123"


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[tuple[SmscPeer, SmscPeer]]:
    first = start_peer("sim", tmp_path / "first")
    second = start_peer("node", tmp_path / "second")
    yield first, second
    first.stop()
    second.stop()


def _config(tmp_path: Path, first: SmscPeer, second: SmscPeer) -> Path:
    options = "?window=5" + FAST
    path = tmp_path / "carriers.toml"
    path.write_text(
        f"""
[carriers.first]
url = "{first.url}{options}"

[carriers.second]
url = "{second.url}{options}"

[[routes]]
prefix = "+44"
carriers = ["second", "first"]

[[routes]]
prefix = ""
carriers = ["first", "second"]
"""
    )
    return path


def _start(launch: Launcher, tmp_path: Path, config: Path) -> Server:
    return launch(
        tmp_path / "data",
        env={
            "SMSGATE_CONFIG": str(config),
            "SMSGATE_SENDER_MPS": "0",
            "SMSGATE_LEASE_SECONDS": "4",
        },
    )


def _texts(peer: SmscPeer) -> list[str]:
    return [s["text"] for s in peer.submits()]


def test_routes_by_prefix_and_fails_over(
    launch: Launcher, tmp_path: Path, peers: tuple[SmscPeer, SmscPeer]
) -> None:
    first, second = peers
    server = _start(launch, tmp_path, _config(tmp_path, first, second))
    try:
        gateway = Gateway(server, first)
        gateway.wait_status(gateway.send("to the US", to=US).sid, "delivered")
        gateway.wait_status(gateway.send("to the UK", to=UK).sid, "delivered")
        assert _texts(first) == ["to the US"]
        assert _texts(second) == ["to the UK"]

        # the UK route's first carrier goes away: its messages take the next one
        second.behaviour(bind_status=0x0D)
        second.drop()
        sent = gateway.send("UK while second is down", to=UK)
        gateway.wait_status(sent.sid, "delivered")
        assert "UK while second is down" in _texts(first)
        assert "UK while second is down" not in _texts(second)

        # and it comes back
        second.behaviour(bind_status=0)
        wait_until(lambda: server.log.read_text().count("SMPP second/trx bound") >= 2)
        gateway.wait_status(gateway.send("UK again", to=UK).sid, "delivered")
        assert "UK again" in _texts(second)
        # receipts from both carriers found their messages: every message is delivered
        assert {m.status for m in gateway.client.messages.list()} == {"delivered"}
    finally:
        assert server.stop() == 0


def test_a_bad_config_file_stops_start_up_with_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "carriers.toml"
    config.write_text('[carriers.one]\nurl = "smpp://u:p@127.0.0.1:1?windw=2"\n')
    done = subprocess.run(
        [SMSGATE, "serve", "--data-dir", str(tmp_path / "d"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "unknown SMPP option 'windw'" in done.stderr
