"""smpps://: the connector binds over TLS and verifies the SMSC's certificate.

The SMSC peers speak plain TCP, so a TLS terminator in this test (a certificate from a
throw-away CA made by trustme) forwards to the SMSC simulator, as stunnel would in front
of a real SMSC."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.conftest import Launcher, Server, wait_until
from tests.e2e.test_smpp import FAST, Gateway
from tests.smpp_peers import SmscPeer, start_peer


class TlsTerminator:
    def __init__(self, context: ssl.SSLContext, target: tuple[str, int]) -> None:
        self.context = context
        self.target = target
        self.port = 0
        self.handshakes = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0, ssl=self.context)
        )
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def __enter__(self) -> TlsTerminator:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SmscPeer]:
    peer = start_peer("sim", tmp_path / "smsc")
    yield peer
    peer.stop()


@pytest.fixture
def tls(sim: SmscPeer) -> Iterator[tuple[TlsTerminator, Path]]:
    """A TLS terminator in front of the sim, with a certificate from a throw-away CA, and
    that CA's certificate as a PEM file."""
    authority = trustme.CA()
    pem = Path(tempfile.mkdtemp()) / "ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with TlsTerminator(context, (sim.host, sim.port)) as terminator:
        yield terminator, pem


def _gateway(launch: Launcher, tmp_path: Path, sim: SmscPeer, port: int, **env: str) -> Server:
    url = f"smpps://{sim.system_id}:{sim.password}@127.0.0.1:{port}?window=5{FAST}"
    return launch(tmp_path / "data", env={"SMSGATE_CARRIER": url, "SMSGATE_SENDER_MPS": "0", **env})


def test_smpps_binds_over_verified_tls(
    launch: Launcher, tmp_path: Path, sim: SmscPeer, tls: tuple[TlsTerminator, Path]
) -> None:
    terminator, pem = tls
    server = _gateway(launch, tmp_path, sim, terminator.port, SSL_CERT_FILE=str(pem))
    try:
        gateway = Gateway(server, sim)
        gateway.wait_status(gateway.send("over TLS").sid, "delivered")
        assert [s["text"] for s in sim.submits()] == ["over TLS"]
        assert terminator.handshakes >= 1
    finally:
        assert server.stop() == 0


def test_an_untrusted_certificate_is_refused(
    launch: Launcher, tmp_path: Path, sim: SmscPeer, tls: tuple[TlsTerminator, Path]
) -> None:
    terminator, _ = tls  # the CA is not given to smsgate
    server = _gateway(launch, tmp_path, sim, terminator.port)
    try:
        wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in server.log.read_text())
        assert sim.sessions() == []
    finally:
        assert server.stop() == 0
