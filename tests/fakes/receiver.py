"""A webhook receiver on a free loopback port that records every request it gets.

Behaviours are chosen per path: ``/ok`` answers 200, ``/fail`` 500, ``/slow`` waits
``slow_seconds`` before answering, ``/redirect`` redirects to itself forever. A path given to
``answer()`` answers with that status, content type and body (TwiML, for inbound webhooks),
after ``delay`` seconds if given.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Hit:
    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    headers: dict[str, str]
    at: float

    @property
    def params(self) -> dict[str, str]:
        return dict(self.form or self.query)


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    hits: list[Hit] = field(default_factory=list)
    slow_seconds: float = 30.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: dict[str, tuple[int, str, bytes, float]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def for_message(self, sid: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.params.get("MessageSid") == sid]

    def statuses(self, sid: str) -> list[str]:
        return [h.params["MessageStatus"] for h in self.for_message(sid)]

    def answer(
        self,
        path: str,
        body: str | bytes,
        *,
        status: int = 200,
        content_type: str = "text/xml",
        delay: float = 0.0,
    ) -> str:
        """Make ``path`` answer with ``body`` (``delay`` seconds after the request came);
        returns the full URL of ``path``."""
        raw = body.encode() if isinstance(body, str) else body
        with self.lock:
            self.answers[path] = (status, content_type, raw, delay)
        return self.url(path)


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            parts = urlsplit(self.path)
            hit = Hit(
                self.command,
                parts.path,
                parse_qsl(parts.query, keep_blank_values=True),
                parse_qsl(body, keep_blank_values=True),
                {k: v for k, v in self.headers.items()},
                time.monotonic(),
            )
            with receiver.lock:
                receiver.hits.append(hit)
                canned = receiver.answers.get(parts.path)
            if canned is not None:
                if canned[3]:
                    time.sleep(canned[3])
                self._answer(canned[0], canned[2], canned[1])
            elif parts.path.startswith("/fail"):
                self._answer(500, b"nope")
            elif parts.path.startswith("/slow"):
                time.sleep(receiver.slow_seconds)
                self._answer(200, b"late")
            elif parts.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._answer(200, b"")

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller gave up waiting, as it should

        do_GET = do_POST = _record

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
