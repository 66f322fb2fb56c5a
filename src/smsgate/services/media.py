"""Use cases for MMS media and message feedback.

Fetching goes through a ``Fetcher`` (the HTTP one is smsgate.media_fetcher, chosen by the
CLI): each URL becomes a staged file, checked against Twilio's types and sizes
(smsgate.domain.media). The store takes staged files into its content area together with
their Media rows, in one transaction; the staged copies are removed afterwards.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from smsgate.clock import Clock
from smsgate.domain.accounts import Account
from smsgate.domain.dates import DateRange, to_us
from smsgate.domain.media import (
    RETRIEVAL_FAILURE,
    Feedback,
    Media,
    MediaProblem,
    StagedFile,
    check_outcome,
)
from smsgate.domain.paging import Page, PageRequest
from smsgate.errors import BadRequest, NotFound
from smsgate.ids import is_sid, new_sid
from smsgate.store.base import Store, UnknownCursor

logger = logging.getLogger(__name__)


class Fetcher(Protocol):
    async def fetch(self, url: str) -> StagedFile:
        """Download ``url`` into a staged file; raises MediaProblem with Twilio's code."""
        ...

    def discard(self, staged: Sequence[StagedFile]) -> None:
        """Remove staged files (taken by the store, or given up)."""
        ...


class MediaService:
    def __init__(self, store: Store, clock: Clock, fetcher: Fetcher, *, timeout: float) -> None:
        """``timeout``: seconds all of one message's media may take to fetch, together."""
        self._store = store
        self._clock = clock
        self._fetcher = fetcher
        self._timeout = timeout

    # -- fetching -------------------------------------------------------------------------

    async def fetch_all(self, urls: Sequence[str]) -> builtins.list[StagedFile]:
        """Fetch every URL at once within the timeout; in URL order. The first URL (in
        order) that failed decides the MediaProblem raised; nothing stays staged then."""
        tasks = [asyncio.ensure_future(self._fetcher.fetch(url)) for url in urls]
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.wait(tasks)
        except TimeoutError:
            pass
        except BaseException:  # cancelled (the worker stops): stop the downloads too
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._fetcher.discard([t.result() for t in tasks if _fetched(t)])
            raise
        staged: builtins.list[StagedFile] = []
        problem: MediaProblem | None = None
        for url, task in zip(urls, tasks, strict=True):
            if not task.done():
                task.cancel()
                problem = problem or MediaProblem(
                    RETRIEVAL_FAILURE, f"{url}: not fetched within {self._timeout:g} s"
                )
            elif (exc := task.exception()) is not None:
                if not isinstance(exc, MediaProblem):
                    exc = MediaProblem(RETRIEVAL_FAILURE, f"{url}: {exc}")
                problem = problem or exc
            else:
                staged.append(task.result())
        await asyncio.gather(*tasks, return_exceptions=True)  # let cancelled ones clean up
        if problem is not None:
            self._fetcher.discard(staged)
            raise problem
        return staged

    def discard(self, staged: Sequence[StagedFile]) -> None:
        self._fetcher.discard(staged)

    def records(
        self, account_sid: str, message_sid: str, staged: Sequence[StagedFile], now: datetime
    ) -> builtins.list[Media]:
        """Media rows for staged files. Their SIDs grow in URL order (a SID starts with its
        millisecond), so lists, which go by SID, keep the order the URLs were given in."""
        base_ms = to_us(now) // 1000
        return [
            Media(
                new_sid("ME", now_ms=base_ms + i),
                account_sid,
                message_sid,
                f.content_type,
                f.digest,
                f.size,
                now,
                now,
            )
            for i, f in enumerate(staged)
        ]

    # -- the Media resource ---------------------------------------------------------------

    async def list(
        self, account: Account, message_sid: str, created: DateRange, page: PageRequest
    ) -> Page[Media]:
        await self._message(account, message_sid)
        if created.empty:
            return Page([], False, page.cursor is not None or page.offset > 0)
        try:
            return await self._store.list_media(account.sid, message_sid, created, page)
        except UnknownCursor:
            raise BadRequest("The PageToken does not belong to this list.", code=20001) from None

    async def get(self, account: Account, message_sid: str, sid: str) -> Media:
        found = None
        if is_sid(sid, "ME") and is_sid(message_sid, "SM", "MM"):
            found = await self._store.get_media(account.sid, message_sid, sid)
        if found is None:
            raise NotFound()
        return found

    async def content(self, account: Account, message_sid: str, sid: str) -> tuple[Path, str]:
        """The file holding a Media's content, and its content type."""
        media = await self.get(account, message_sid, sid)
        path = self._store.media_content(media.digest)
        if path is None:
            raise NotFound()
        return path, media.content_type

    async def delete(self, account: Account, message_sid: str, sid: str) -> None:
        if not (is_sid(sid, "ME") and is_sid(message_sid, "SM", "MM")):
            raise NotFound()
        if not await self._store.delete_media(account.sid, message_sid, sid):
            raise NotFound()
        await self._store.collect_media()

    # -- MessageFeedback --------------------------------------------------------------------

    async def feedback(self, account: Account, message_sid: str, outcome: str | None) -> Feedback:
        """Record whether the recipient did what the message asked (confirmed/unconfirmed)."""
        await self._message(account, message_sid)
        now = self._clock.now()
        saved = await self._store.save_feedback(
            Feedback(account.sid, message_sid, check_outcome(outcome), now, now)
        )
        if saved is None:
            raise NotFound()
        return saved

    async def _message(self, account: Account, message_sid: str) -> None:
        if not is_sid(message_sid, "SM", "MM"):
            raise NotFound()
        if await self._store.get_message(account.sid, message_sid) is None:
            raise NotFound()


def timeout_within(lease_seconds: float, wanted: float) -> float:
    """A fetch must end well inside the job's lease, so no other worker takes the job over
    meanwhile (a submit gets the other half)."""
    return min(wanted, lease_seconds / 2)


def _fetched(task: asyncio.Future[StagedFile]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None
