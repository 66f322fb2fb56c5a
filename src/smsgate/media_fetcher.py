"""Fetching MediaUrls over HTTP(S) with httpx, into the store's staging area.

Bounded in every direction: at most ``MAX_REDIRECTS`` redirects (11215 beyond), ``timeout``
seconds for connecting and for each read, and no more bytes than the content type allows
(30019): a ``Content-Length`` over the limit is refused before the body is read, and a body
that grows past it is cut off. The ``Content-Type`` header decides the type (12300 when it
is missing or not accepted), as Twilio documents. Anything else that goes wrong (connection
refused, a non-2xx answer, a timeout) is 11200. The staged file is fsynced before it is
handed over, so the store can link it into place durably.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import httpx

from smsgate.domain.media import (
    MAX_REDIRECTS,
    RETRIEVAL_FAILURE,
    TOO_MANY_REDIRECTS,
    MediaProblem,
    StagedFile,
    check_type,
    media_type,
    too_large,
)

CHUNK = 64 * 1024


class HttpMediaFetcher:
    def __init__(self, staging: Path, *, timeout: float = 10.0) -> None:
        self._staging = staging
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                headers={"User-Agent": "smsgate media fetcher"},
                trust_env=False,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str) -> StagedFile:
        try:
            async with self._http().stream("GET", url) as response:
                if not response.is_success:
                    raise MediaProblem(
                        RETRIEVAL_FAILURE, f"{url}: answered HTTP {response.status_code}"
                    )
                content_type = media_type(response.headers.get("content-type"))
                limit = check_type(content_type)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise too_large(int(declared), limit)
                return await self._stage(url, response, content_type, limit)
        except httpx.TooManyRedirects:
            raise MediaProblem(
                TOO_MANY_REDIRECTS, f"{url}: more than {MAX_REDIRECTS} redirects"
            ) from None
        except httpx.HTTPError as exc:
            raise MediaProblem(RETRIEVAL_FAILURE, f"{url}: {type(exc).__name__} {exc}") from exc

    async def _stage(
        self, url: str, response: httpx.Response, content_type: str, limit: int
    ) -> StagedFile:
        path = self._staging / secrets.token_hex(16)
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("wb") as out:
                async for chunk in response.aiter_bytes(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise too_large(size, limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise
        return StagedFile(url, path, digest.hexdigest(), size, content_type)

    def discard(self, staged: Sequence[StagedFile]) -> None:
        for file in staged:
            with contextlib.suppress(FileNotFoundError):
                file.path.unlink()
