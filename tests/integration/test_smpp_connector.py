"""The SMPP connector on its own against smsc-sim: pacing, and resuming a split submit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsgate.connectors.base import InboundSms, OutboundSms, Receipt, SubmitProgress
from smsgate.connectors.smpp.config import parse_url
from smsgate.connectors.smpp.connector import SmppConnector
from tests.smpp_peers import SmscPeer, start_peer


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SmscPeer]:
    peer = start_peer("sim", tmp_path / "smsc")
    yield peer
    peer.stop()


def _sms(body: str, n: int = 0, resume: SubmitProgress | None = None) -> OutboundSms:
    return OutboundSms(
        message_sid=f"SM{n:032x}",
        account_sid="AC" + "0" * 32,
        to="+15558675310",
        from_="+15017122661",
        body=body,
        media_urls=(),
        num_segments=1,
        attempt=1,
        resume=resume,
    )


async def _ignore_receipt(receipt: Receipt) -> None:
    return None


async def _ignore_inbound(sms: InboundSms) -> None:
    return None


async def _connected(url: str) -> SmppConnector:
    connector = SmppConnector(parse_url(url, name="t"))
    await connector.start(_ignore_receipt, _ignore_inbound)
    async with asyncio.timeout(10):
        while not connector.ready():  # noqa: ASYNC110 - ready() is the public face
            await asyncio.sleep(0.01)
    return connector


def test_the_throughput_option_paces_submits(sim: SmscPeer) -> None:
    async def main() -> float:
        connector = await _connected(sim.url + "?throughput=20&window=10")
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.gather(*(connector.submit(_sms(f"m{i}", i)) for i in range(11)))
            return loop.time() - started
        finally:
            await connector.close()

    elapsed = asyncio.run(main())
    # 11 submits at 20/s: the last may go no earlier than 10 intervals after the first
    assert elapsed >= 0.5
    assert len(sim.submits()) == 11


def test_a_resumed_split_submit_sends_only_the_missing_parts(sim: SmscPeer) -> None:
    body = "r" * 400  # three parts

    async def main() -> tuple[list[SubmitProgress], tuple[str, ...]]:
        connector = await _connected(sim.url)
        recorded: list[SubmitProgress] = []

        async def record(progress: SubmitProgress) -> None:
            recorded.append(progress)

        try:
            first = await connector.submit(_sms(body), record)
            resumed = await connector.submit(
                _sms(body, 1, SubmitProgress(recorded[0].ref, recorded[0].part_ids)), record
            )
            assert first.parts == resumed.parts == 3
            return recorded, resumed.part_ids
        finally:
            await connector.close()

    recorded, resumed_ids = asyncio.run(main())
    assert [len(p.part_ids) for p in recorded[:2]] == [1, 2]  # after parts 1 and 2, not 3
    submits = sim.submits()
    assert [s["udh"]["seq"] for s in submits] == [1, 2, 3, 2, 3]
    assert {s["udh"]["ref"] for s in submits} == {recorded[0].ref & 0xFF}
    assert resumed_ids[0] == recorded[0].part_ids[0]
