"""Webhook requests over pyreqwest: bounded in time and size, failures sorted by kind.

The webhook sender makes thousands of requests a second to a few receivers. pyreqwest
(Rust's reqwest and hyper, with a Python API) keeps the connection pool, the HTTP/1.1
framing and the timers in Rust, on a runtime thread: about 110 µs of CPU a callback in
the webhook child against aiohttp's 175, and with it the callbacks keep up with the
deliveries (docs/benchmarks.md, session 18; docs/decisions.md).

Two clients: ``InProcessClient`` runs the requests on the caller's event loop; ``ChildClient``
(smsgate.webhooks.child) runs them in a child process, so that the requests' CPU is not
taken from the server's event loop and its one interpreter lock.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote_plus

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import (
    DetailedPyreqwestError,
    PyreqwestError,
    RedirectError,
    RequestTimeoutError,
)
from pyreqwest.response import Response

from smsgate.domain.inbound import WebhookResponse

FORM = "application/x-www-form-urlencoded"
MAX_REDIRECTS = 5
# In reqwest's chain of causes, what says the connection was never made (see _connecting).
CONNECT_CAUSE = "client error (Connect)"


class Failure(Exception):
    """The request got no answer. ``kind`` is what Twilio's ``#rp=`` retry policy names it:
    ``ct`` (could not connect), ``rt`` (timed out reading) or ``all`` (anything else)."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text


class HttpClient(Protocol):
    """Sends webhooks: ``request`` below, with a total time limit."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

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
        """The answer, or Failure (a total time over ``total_s`` is an ``rt`` failure)."""
        ...


class InProcessClient:
    """pyreqwest on the running event loop (its I/O on pyreqwest's runtime thread)."""

    def __init__(self, concurrency: int, user_agent: str) -> None:
        self._concurrency = concurrency
        self._user_agent = user_agent
        self._http: Session | None = None

    async def start(self) -> None:
        self._http = session(self._concurrency, self._user_agent)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

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
        assert self._http is not None, "start() first"
        return await bounded(
            self._http,
            method,
            url,
            params,
            headers,
            connect_s=connect_s,
            read_s=read_s,
            total_s=total_s,
            limit=limit,
        )


async def bounded(
    http: Session,
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
    """``request`` within ``total_s`` seconds in all."""
    return await request(
        http,
        method,
        url,
        params,
        headers,
        connect_s=connect_s,
        read_s=read_s,
        limit=limit,
        total_s=total_s,
    )


class Session:
    """The webhook clients of one process: at most ``concurrency`` requests in flight per
    client, cookies never kept, no proxy from the environment, no ``Referer`` on redirects.

    reqwest sets connect and read timeouts on a client, not on a request, and webhooks ask
    for a few settings (Twilio's ``#ct=``/``#rt=`` fragment): one client, and its pool, per
    pair in use."""

    def __init__(self, concurrency: int, user_agent: str) -> None:
        self._concurrency = concurrency
        self._user_agent = user_agent
        self._clients: dict[tuple[float, float], Client] = {}

    def client(self, connect_s: float, read_s: float) -> Client:
        key = (connect_s, read_s)
        found = self._clients.get(key)
        if found is None:
            found = (
                ClientBuilder()
                .max_connections(self._concurrency)
                .user_agent(self._user_agent)
                .connect_timeout(timedelta(seconds=connect_s))
                .read_timeout(timedelta(seconds=read_s))
                .follow_redirects(True)
                .max_redirects(MAX_REDIRECTS)
                .referer(False)
                .default_cookie_store(False)
                .no_proxy()
                .http1_only()
                .build()
            )
            self._clients[key] = found
        return found

    async def close(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        for c in clients:
            await c.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def session(concurrency: int, user_agent: str) -> Session:
    """The clients for webhooks (see Session)."""
    return Session(concurrency, user_agent)


def form_url(url: str, params: tuple[tuple[str, str], ...]) -> str:
    """``url`` with ``params`` appended as its query string (a GET webhook)."""
    return f"{url}{'&' if '?' in url else '?'}{form_encode(params)}" if params else url


# What quote_plus leaves as it is (urllib.parse's always-safe characters), and "+", which
# it writes as %2B (every phone number starts with one).
_PLAIN = re.compile(r"[A-Za-z0-9_.~+-]*")


def form_encode(params: tuple[tuple[str, str], ...]) -> str:
    """``urlencode(params)``, byte for byte, at a fraction of its cost: most names and
    values of a callback (SIDs, statuses, the API version) need no quoting, and urlencode
    quoted every one of them character by character (a sixth of the webhook process's CPU).
    """
    return "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in params)


def _quoted(text: str) -> str:
    if text.isalnum() and text.isascii():  # names, SIDs, statuses: two C calls, no regex
        return text
    if _PLAIN.fullmatch(text):
        return text.replace("+", "%2B") if "+" in text else text
    return quote_plus(text)


async def request(
    http: Session,
    method: str,
    url: str,
    params: tuple[tuple[str, str], ...],
    headers: dict[str, str],
    *,
    connect_s: float,
    read_s: float,
    limit: int,
    total_s: float | None = None,
) -> WebhookResponse:
    """Send one webhook: a form POST of ``params`` to ``url``, or a GET of ``url`` as it is
    (``form_url`` has put the parameters in it). Follows at most ``MAX_REDIRECTS``
    redirects, reads at most ``limit`` bytes of the answer; raises Failure when there is no
    answer. ``total_s`` bounds the whole request, body included (an ``rt`` failure)."""
    client = http.client(connect_s, read_s)
    if method.upper() == "GET":
        builder = client.get(url).headers(headers)
    else:
        body = form_encode(params).encode()
        builder = client.post(url).headers({**headers, "Content-Type": FORM}).body_bytes(body)
    if total_s is not None:
        builder = builder.timeout(_seconds(total_s))
    try:
        async with builder.build_streamed() as response:
            content, truncated = await _read_bounded(response, limit)
            return WebhookResponse(
                response.status, response.get_header("content-type"), content, truncated
            )
    except RedirectError as exc:
        raise Failure("all", f"redirects: {_causes(exc)}") from exc
    except DetailedPyreqwestError as exc:
        if _connecting(exc):
            raise Failure("ct", f"connect: {_causes(exc)}") from exc
        if isinstance(exc, RequestTimeoutError):
            raise Failure("rt", f"timeout: {_causes(exc)}") from exc
        raise Failure("all", f"{type(exc).__name__}: {_causes(exc)}") from exc
    except (PyreqwestError, ValueError) as exc:
        raise Failure("all", f"{type(exc).__name__}: {exc}") from exc


def _causes(exc: DetailedPyreqwestError) -> str:
    causes = (exc.details or {}).get("causes") or []
    return ": ".join(c["message"] for c in causes) or exc.message


def _connecting(exc: DetailedPyreqwestError) -> bool:
    """Whether the request failed before it had a connection (Twilio's ``ct``). pyreqwest
    calls every timeout before the answer's head a ConnectTimeoutError, a server that
    accepted and then kept silent included; reqwest's chain of causes says which it was:
    a failed or timed-out connect has hyper's ``client error (Connect)`` in it."""
    causes = (exc.details or {}).get("causes") or []
    return any(c["message"] == CONNECT_CAUSE for c in causes)


@lru_cache(maxsize=64)
def _seconds(value: float) -> timedelta:
    """A request's total time limit: a handful of values (the URLs' #tt=), made once each."""
    return timedelta(seconds=value)


async def _read_bounded(response: Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more."""
    body = bytearray()
    reader = response.body_reader
    while (chunk := await reader.read_chunk()) is not None:
        body += bytes(chunk)
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False
