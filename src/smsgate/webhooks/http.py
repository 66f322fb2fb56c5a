"""Webhook requests over aiohttp: bounded in time and size, failures sorted by kind.

The webhook sender makes thousands of requests a second to a few receivers. aiohttp's
keep-alive pool and C parser cost about 0.1 ms of CPU a request here; httpx's pool checked
every pooled connection on every request and cost 2 ms (docs/decisions.md).

Two clients: ``InProcessClient`` runs aiohttp on the caller's event loop; ``ChildClient``
(smsgate.webhooks.child) runs it in a child process, so that the requests' CPU is not
taken from the server's event loop and its one interpreter lock.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote_plus

import aiohttp
from yarl import URL

from smsgate.domain.inbound import WebhookResponse

FORM = "application/x-www-form-urlencoded"
READ_CHUNK = 65536


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
    """aiohttp on the running event loop."""

    def __init__(self, concurrency: int, user_agent: str) -> None:
        self._concurrency = concurrency
        self._user_agent = user_agent
        self._http: aiohttp.ClientSession | None = None

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
    http: aiohttp.ClientSession,
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


def session(concurrency: int, user_agent: str) -> aiohttp.ClientSession:
    """A client for webhooks: at most ``concurrency`` connections, cookies never kept."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=0),
        headers={"User-Agent": user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=True,
    )


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
    if _PLAIN.fullmatch(text):
        return text.replace("+", "%2B") if "+" in text else text
    return quote_plus(text)


async def request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    params: tuple[tuple[str, str], ...],
    headers: dict[str, str],
    *,
    connect_s: float,
    read_s: float,
    limit: int,
    max_redirects: int = 5,
    total_s: float | None = None,
) -> WebhookResponse:
    """Send one webhook: a form POST of ``params`` to ``url``, or a GET of ``url`` as it is
    (``form_url`` has put the parameters in it). Follows at most ``max_redirects``
    redirects, reads at most ``limit`` bytes of the answer; raises Failure when there is no
    answer. ``total_s`` bounds the whole request, body included (an ``rt`` failure)."""
    body: bytes | None = None
    if method.upper() != "GET":
        body = form_encode(params).encode()
        headers = {**headers, "Content-Type": FORM}
    try:
        async with http.request(
            "GET" if body is None else "POST",
            _url(url),
            data=body,
            headers=headers,
            timeout=_timeout(connect_s, read_s, total_s),
            allow_redirects=True,
            # aiohttp gives up when it receives redirect number ``max_redirects``; httpx
            # and Twilio's own count follow that many first.
            max_redirects=max_redirects + 1,
        ) as response:
            content, truncated = await _read_bounded(response, limit)
            return WebhookResponse(
                response.status, response.headers.get("Content-Type"), content, truncated
            )
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        raise Failure("ct", f"connect: {exc!r}") from exc
    except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
        raise Failure("rt", f"timeout: {exc!r}") from exc
    except aiohttp.TooManyRedirects as exc:
        raise Failure("all", f"redirects: {exc}") from exc
    except (aiohttp.ClientError, ValueError) as exc:
        raise Failure("all", f"{type(exc).__name__}: {exc}") from exc


# Webhooks go to a few URLs with a few timeout settings: parse and build each once.
@lru_cache(maxsize=1024)
def _url(url: str) -> URL:
    return URL(url)


@lru_cache(maxsize=64)
def _timeout(connect_s: float, read_s: float, total_s: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=total_s, sock_connect=connect_s, sock_read=read_s)


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False
