"""Webhook requests in a child process, so that their CPU is not the server's.

At thousands of callbacks a second the HTTP client (its parser, timers and socket
calls) cost the server's event loop about as much as everything else the pipeline does,
and one Python process runs Python on one core at a time. ``ChildClient`` hands each
request to a child process (``python -m smsgate.webhooks.child FD``) over a Unix socket and
awaits its answer; the child runs the requests with pyreqwest (smsgate.webhooks.http) on its
own event loop. Nothing durable lives in the child: the outbox row stays leased in the
store until the server records the attempt, so a child that dies costs one failed attempt
of each request it held (retried as the URL's policy says), and a new child is started
for the next request. The child exits when the server's end of the socket closes, which
includes the server being killed.

Frames on the socket: a 4-byte big-endian length and a pickled list of tuples, the requests
(or answers) of one event-loop turn, sent with one system call and pickled at once. Both
ends are this package, started by the server, so pickle is safe here; nothing else can
reach the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import pickle
import signal
import socket
import struct
import sys
from typing import Any

from smsgate.domain.inbound import WebhookResponse
from smsgate.process import settle_gc
from smsgate.webhooks import http as webhook_http

logger = logging.getLogger(__name__)
_LEN = struct.Struct(">I")
# Beyond the request's own limit, how long the server waits for a child that says nothing.
GRACE_S = 5.0


class _Framed:
    """Length-prefixed pickled frames over a stream: the items sent in one loop turn go as
    one frame (one pickle, one write)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._out: list[Any] = []

    def send(self, item: Any) -> None:
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(item)

    def _flush(self) -> None:
        if self._out and not self._writer.is_closing():
            data = pickle.dumps(self._out, protocol=pickle.HIGHEST_PROTOCOL)
            self._writer.write(_LEN.pack(len(data)) + data)
        self._out = []

    async def receive(self) -> list[Any] | None:
        """The items of the next frame; None at the end of the stream."""
        try:
            head = await self._reader.readexactly(_LEN.size)
            items: list[Any] = pickle.loads(  # noqa: S301
                await self._reader.readexactly(_LEN.unpack(head)[0])
            )
            return items
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def close(self) -> None:
        self._flush()
        self._writer.close()


class ChildClient:
    """Sends webhooks through a child process (see the module's docstring)."""

    def __init__(self, concurrency: int, user_agent: str) -> None:
        self._concurrency = concurrency
        self._user_agent = user_agent
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[Any, ...]]] = {}
        self._link: _Framed | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._deadlines: dict[int, float] = {}  # request id -> when to stop waiting
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._ensure()
        self._watchdog = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Fail requests the child has not answered by their deadline (checked each second,
        over the requests in flight, at most the sender's concurrency)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            now = loop.time()
            for rid in [r for r, deadline in self._deadlines.items() if deadline <= now]:
                waiter = self._waiting.get(rid)
                if waiter is not None and not waiter.done():
                    waiter.set_result(
                        (rid, None, None, b"", False, "all", "the webhook process did not answer")
                    )

    async def _ensure(self) -> _Framed:
        if self._link is not None:  # the usual case: no lock to take
            return self._link
        async with self._starting:
            if self._link is not None:
                return self._link
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self._process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "smsgate.webhooks.child",
                    str(theirs.fileno()),
                    str(self._concurrency),
                    self._user_agent,
                    pass_fds=(theirs.fileno(),),
                )
            finally:
                theirs.close()
            reader, writer = await asyncio.open_unix_connection(sock=mine)
            link = _Framed(reader, writer)
            self._link = link
            self._reading = asyncio.create_task(self._read(link, self._process))
            return link

    async def _read(self, link: _Framed, process: asyncio.subprocess.Process) -> None:
        while (answers := await link.receive()) is not None:
            for answer in answers:
                waiter = self._waiting.pop(answer[0], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(answer)
        # The child is gone: its requests fail, and the next request starts a new child.
        if self._link is link:
            self._link = None
        link.close()
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_result((0, None, None, b"", False, "all", "the webhook process exited"))
        self._waiting.clear()
        try:
            code = await asyncio.wait_for(process.wait(), GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            code = await process.wait()
        if code != 0:
            logger.warning("webhook process exited with %s", code)

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        link, self._link = self._link, None
        if link is not None:
            link.close()  # the child sees the end of the stream and exits
        if self._reading is not None:
            await self._reading
            self._reading = None

    async def request(
        self,
        method: str,
        url: str,
        params: tuple[tuple[str, str], ...],
        headers: dict[str, str],
        *,
        connect_s: float,
        read_s: float,
        total_s: float,
        limit: int,
    ) -> WebhookResponse:
        link = await self._ensure()
        rid = next(self._ids)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiting[rid] = waiter
        # The child answers within total_s; should it not, the watchdog answers for it
        # (one timer for all requests: a timer each cost the event loop more than the rest).
        self._deadlines[rid] = loop.time() + total_s + GRACE_S
        link.send((rid, method, url, params, headers, connect_s, read_s, total_s, limit))
        try:
            answer = await waiter
        finally:
            self._waiting.pop(rid, None)
            self._deadlines.pop(rid, None)
        _, status, content_type, body, truncated, kind, text = answer
        if kind is not None:
            raise webhook_http.Failure(kind, text)
        return WebhookResponse(status, content_type, body, truncated)


async def _serve(fd: int, concurrency: int, user_agent: str) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))
    link = _Framed(reader, writer)
    running: set[asyncio.Task[None]] = set()
    async with webhook_http.session(concurrency, user_agent) as http:
        settle_gc()

        async def one(rid: int, *args: Any) -> None:
            method, url, params, headers, connect_s, read_s, total_s, limit = args
            try:
                r = await webhook_http.bounded(
                    http,
                    method,
                    url,
                    params,
                    headers,
                    connect_s=connect_s,
                    read_s=read_s,
                    total_s=total_s,
                    limit=limit,
                )
                link.send((rid, r.status_code, r.content_type, r.body, r.truncated, None, None))
            except webhook_http.Failure as exc:
                link.send((rid, None, None, b"", False, exc.kind, exc.text))
            except Exception as exc:  # never leave the server waiting
                link.send((rid, None, None, b"", False, "all", f"{type(exc).__name__}: {exc}"))

        while (items := await link.receive()) is not None:
            for item in items:
                task = asyncio.create_task(one(*item))
                running.add(task)
                task.add_done_callback(running.discard)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    link.close()


def main(argv: list[str]) -> int:
    import uvloop

    fd, concurrency, user_agent = int(argv[0]), int(argv[1]), argv[2]
    # The server decides when this process ends (by closing the socket): Ctrl-C or a
    # SIGTERM sent to the server's whole process group must not cut requests short.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(fd, concurrency, user_agent))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
