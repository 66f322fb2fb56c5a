"""A media host on a free loopback port: the far end of MediaUrl fetches.

Paths:
  /blob/<token>.<ext>       content ``b"media:" + token`` with the extension's type
                            (png, jpg, gif, pdf, html); the same token is the same content
  /big/<bytes>.<ext>        that many bytes, with a Content-Length
  /chunked/<bytes>.<ext>    that many bytes, chunked (no Content-Length)
  /redirect/<n>/<token>.png n redirects, then /blob/<token>.png
  /slow/<token>.png         waits until ``release()`` (``started`` is set when one arrives)
  /untyped                  200 without a Content-Type
  anything else             404
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
}


def content_of(token: str) -> bytes:
    return b"media:" + token.encode()


@dataclass
class MediaHost:
    server: ThreadingHTTPServer
    started: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)
    requests: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def release(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def start_media_host() -> MediaHost:
    host: MediaHost

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            host.requests.append(self.path)
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            name, _, ext = parts[-1].partition(".")
            kind = TYPES.get(ext, "application/octet-stream")
            if parts[0] == "blob" and len(parts) == 2:
                self._send(200, kind, content_of(name))
            elif parts[0] == "big" and len(parts) == 2:
                self._send(200, kind, b"x" * int(name))
            elif parts[0] == "chunked" and len(parts) == 2:
                self._chunked(kind, int(name))
            elif parts[0] == "redirect" and len(parts) == 3:
                left = int(parts[1])
                target = f"/redirect/{left - 1}/{parts[2]}" if left > 1 else f"/blob/{parts[2]}"
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif parts[0] == "slow" and len(parts) == 2:
                host.started.set()
                host.gate.wait(60)
                self._send(200, kind, content_of(name))
            elif parts[0] == "untyped":
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"hi")
            else:
                self._send(404, "text/plain", b"not here")

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def _chunked(self, kind: str, size: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                while size > 0:
                    piece = chunk[: min(size, len(chunk))]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    size -= len(piece)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host = MediaHost(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return host
