"""Webhook requests through the child process (smsgate.webhooks.child) to a loopback
receiver: answers, failures by kind, and a child that dies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from smsgate.domain.inbound import WebhookResponse
from smsgate.webhooks import child
from smsgate.webhooks.child import ChildClient
from smsgate.webhooks.http import Failure, InProcessClient
from tests.fakes.receiver import Receiver, start_receiver


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _send(
    client: ChildClient, url: str, method: str = "POST", total_s: float = 5.0
) -> Coroutine[Any, Any, WebhookResponse]:
    return client.request(
        method,
        url,
        (("MessageSid", "SM1"), ("MessageStatus", "sent")),
        {"X-Twilio-Signature": "sig"},
        connect_s=5.0,
        read_s=total_s,
        total_s=total_s,
        limit=16,
    )


def test_requests_go_out_through_the_child_and_answers_come_back(hooks: Receiver) -> None:
    ok = hooks.answer("/twiml", "<Response>more than sixteen bytes</Response>")

    async def scenario() -> None:
        client = ChildClient(8, "test-agent")
        await client.start()
        try:
            answers = await asyncio.gather(*(_send(client, ok) for _ in range(20)))
            failed = await _send(client, hooks.url("/fail"), method="GET")
        finally:
            await client.close()
        assert {(a.status_code, a.body, a.truncated) for a in answers} == {
            (200, b"<Response>more t", True)
        }
        assert answers[0].content_type == "text/xml"
        assert failed.status_code == 500

    asyncio.run(scenario())
    posts = [h for h in hooks.hits if h.path == "/twiml"]
    assert len(posts) == 20
    assert posts[0].form == [("MessageSid", "SM1"), ("MessageStatus", "sent")]
    assert posts[0].headers["X-Twilio-Signature"] == "sig"
    assert posts[0].headers["User-Agent"] == "test-agent"
    gets = [h for h in hooks.hits if h.path == "/fail"]
    assert gets[0].method == "GET"


def test_failures_keep_their_kind(hooks: Receiver) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/x"
    hooks.slow_seconds = 5

    async def scenario() -> None:
        client = ChildClient(8, "test-agent")
        await client.start()
        try:
            with pytest.raises(Failure) as connect:
                await _send(client, refused)
            with pytest.raises(Failure) as slow:
                await _send(client, hooks.url("/slow"), total_s=0.3)
            with pytest.raises(Failure) as loop:
                await _send(client, hooks.url("/redirect"))
        finally:
            await client.close()
        assert connect.value.kind == "ct"
        assert slow.value.kind == "rt"
        assert loop.value.kind == "all" and loop.value.text.startswith("redirects")

    asyncio.run(scenario())
    assert len([h for h in hooks.hits if h.path == "/redirect"]) == 6


def test_a_child_that_dies_fails_its_requests_and_is_replaced(hooks: Receiver) -> None:
    hooks.slow_seconds = 5

    async def scenario() -> None:
        client = ChildClient(8, "test-agent")
        await client.start()
        try:
            held = asyncio.create_task(_send(client, hooks.url("/slow")))
            for _ in range(500):  # wait for the request to reach the receiver
                if hooks.hits:
                    break
                await asyncio.sleep(0.01)
            assert client._process is not None
            os.kill(client._process.pid, signal.SIGKILL)
            with pytest.raises(Failure) as lost:
                await held
            assert lost.value.text == "the webhook process exited"
            answer = await _send(client, hooks.url("/ok"))
            assert answer.status_code == 200
        finally:
            await client.close()

    asyncio.run(scenario())


def test_a_child_that_stops_answering_fails_its_requests_in_bounded_time(
    hooks: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(child, "GRACE_S", 0.2)

    async def scenario() -> None:
        client = ChildClient(8, "test-agent")
        await client.start()
        assert client._process is not None
        os.kill(client._process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(Failure) as lost:
                await _send(client, hooks.url("/ok"), total_s=0.3)
            assert lost.value.text == "the webhook process did not answer"
        finally:
            os.kill(client._process.pid, signal.SIGCONT)
            await client.close()

    asyncio.run(scenario())


def test_a_connect_that_times_out_is_ct_and_a_silent_answer_is_rt(hooks: Receiver) -> None:
    """Twilio's retry policy tells a connect failure (``ct``) from a server that accepted and
    said nothing in time (``rt``): a connect that times out is ``ct`` like a refused one."""
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)  # never accepts: once its backlog is full, a connect waits for nothing
    waiting = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(full.getsockname())
        waiting.append(c)
    hooks.slow_seconds = 5

    async def scenario() -> tuple[Failure, Failure]:
        client = InProcessClient(8, "test-agent")
        await client.start()
        try:
            with pytest.raises(Failure) as unconnected:
                await client.request(
                    "POST",
                    f"http://127.0.0.1:{full.getsockname()[1]}/x",
                    (("a", "b"),),
                    {},
                    connect_s=0.3,
                    read_s=15,
                    total_s=10,
                    limit=100,
                )
            with pytest.raises(Failure) as silent:
                await client.request(
                    "POST",
                    hooks.url("/slow"),
                    (("a", "b"),),
                    {},
                    connect_s=0.3,
                    read_s=0.3,
                    total_s=10,
                    limit=100,
                )
            return unconnected.value, silent.value
        finally:
            await client.close()

    try:
        unconnected, silent = asyncio.run(scenario())
    finally:
        for c in waiting:
            c.close()
        full.close()
    assert unconnected.kind == "ct", unconnected.text
    assert silent.kind == "rt", silent.text
