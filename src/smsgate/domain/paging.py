"""Keyset paging, as Twilio's list resources page.

A page token is ``PA`` + the SID of the last item of the current page (the next page starts
after it) or ``PB`` + the SID of the first item (the previous page ends before it). The store
seeks to that row through an index, so page 10,000 costs what page 1 costs, and a walk that
follows ``next_page_uri`` while rows are being added neither repeats nor skips rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from smsgate.errors import BadRequest
from smsgate.ids import is_sid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page starts: after (``PA``) or before (``PB``) the row with ``sid``."""

    direction: Literal["after", "before"]
    sid: str

    @property
    def token(self) -> str:
        return ("PA" if self.direction == "after" else "PB") + self.sid


@dataclass(frozen=True, slots=True)
class PageRequest:
    page_size: int = DEFAULT_PAGE_SIZE
    page: int = 0
    cursor: Cursor | None = None

    @property
    def offset(self) -> int:
        """Rows to skip when a client asks for ``Page=N`` without a token (legacy paging)."""
        return 0 if self.cursor is not None else self.page * self.page_size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool
    has_previous: bool


def parse_page_request(
    page_size: str | None, page: str | None, page_token: str | None, *sid_prefixes: str
) -> PageRequest:
    """Validate ``PageSize``, ``Page`` and ``PageToken`` into a PageRequest."""
    size = _int_param("PageSize", page_size, DEFAULT_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"PageSize must be between 1 and {MAX_PAGE_SIZE}", code=20001)
    number = _int_param("Page", page, 0)
    if number < 0:
        raise BadRequest("Page must be 0 or greater", code=20001)
    cursor = parse_token(page_token, *sid_prefixes) if page_token else None
    return PageRequest(size, number, cursor)


def parse_token(token: str, *sid_prefixes: str) -> Cursor:
    """Read a ``PA…``/``PB…`` token; anything else is a 400."""
    kind, sid = token[:2], token[2:]
    if kind not in ("PA", "PB") or not is_sid(sid, *sid_prefixes):
        raise BadRequest(f"Invalid PageToken: '{token}'", code=20001)
    return Cursor("after" if kind == "PA" else "before", sid)


def _int_param(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got '{raw}'", code=20001) from None
