"""A minimal status-callback receiver for the delivery benchmark.

Answers every POST with 204 and counts callbacks by ``MessageStatus``; ``GET /count``
returns the counts as JSON. Run it as ``python bench/callback_sink.py --port N``.

It is a real HTTP/1.1 server (keep-alive, requests parsed by httptools, the parser uvicorn
uses) but without an ASGI framework: at thousands of callbacks a second on the same two
cores as the server under test, uvicorn's per-request task, scope and message dicts cost
the receiver ~3x the CPU of this loop (docs/benchmarks.md), CPU the server then lacks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter

import httptools

counts: Counter[str] = Counter()
STATUS_KEY = b"MessageStatus="
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


def status_of(body: bytes) -> str:
    """``MessageStatus`` of a form body (its values are plain words, never escaped)."""
    for pair in body.split(b"&"):
        if pair.startswith(STATUS_KEY):
            return pair[len(STATUS_KEY) :].decode()
    return "?"


class Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._body.clear()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        if self._parser.get_method() == b"GET":
            payload = json.dumps(counts).encode()
            self._transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
            )
        else:
            counts[status_of(b"".join(self._body))] += 1
            self._transport.write(NO_CONTENT)
        if not self._parser.should_keep_alive():
            self._transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.host, args.port))
    except ImportError:  # uvloop comes with uvicorn[standard]; plain asyncio works too
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
