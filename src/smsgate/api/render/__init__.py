"""Representations of the 2010-04-01 API, chosen by the path's suffix as Twilio does.

No suffix or ``.xml`` → XML (Twilio's default), ``.json`` → JSON, ``.csv`` → CSV. Routes build
one neutral body (the JSON field names and values, from ``smsgate.api.serialize``) and hand
it here with the XML element names; each representation has one renderer module
(``json_body``, ``xml_body``, ``csv_body``). URIs inside a body keep the caller's
representation: ``.json`` in JSON, no suffix in XML, ``.csv`` in CSV (``Representation.suffix``).

A CSV list is the whole list, streamed in pages of ``CSV_CHUNK`` as it is read, unless the
request names a page (``PageSize``, ``Page`` or ``PageToken``): then it is that page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar
from urllib.parse import quote_plus, urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from smsgate.api.render import csv_body, json_body, xml_body
from smsgate.domain.paging import Cursor, Page, PageRequest

T = TypeVar("T")
CSV_CHUNK = 1000
_PAGING_PARAMS = ("PageSize", "Page", "PageToken")


class Representation(Enum):
    JSON = ".json"
    XML = ".xml"
    CSV = ".csv"

    @property
    def suffix(self) -> str:
        """The suffix of URIs inside a body: a client that follows them stays in this one."""
        return "" if self is Representation.XML else self.value


_BY_SUFFIX = {
    ".json": Representation.JSON,
    ".xml": Representation.XML,
    "": Representation.XML,
    ".csv": Representation.CSV,
}


def representation(request: Request) -> Representation:
    """The representation a 2010-04-01 route was asked for (its ``{fmt:fmt}`` suffix)."""
    return _BY_SUFFIX[request.path_params.get("fmt", "")]


@dataclass(frozen=True, slots=True)
class Kind(Generic[T]):
    """How one resource type is represented: its JSON list key, XML elements, CSV columns."""

    key: str  # the list's JSON key: "messages"
    list_element: str  # "Messages"
    element: str  # "Message"
    to_body: Callable[[T, str], dict[str, Any]]  # (item, URI suffix) -> fields
    sid_of: Callable[[T], str]
    columns: tuple[str, ...]  # the CSV columns, in order


def instance(rep: Representation, kind: Kind[T], item: T, status: int = 200) -> Response:
    """One resource in the requested representation (CSV: a header and one row)."""
    body = kind.to_body(item, rep.suffix)
    if rep is Representation.JSON:
        return json_body.response(body, status)
    if rep is Representation.XML:
        return Response(
            xml_body.instance(kind.element, body), status, media_type=xml_body.CONTENT_TYPE
        )
    data = csv_body.header(kind.columns) + csv_body.rows(kind.columns, [body])
    return Response(data, status, media_type=csv_body.CONTENT_TYPE)


def envelope(
    rep: Representation, kind: Kind[T], paging: Mapping[str, Any], items: Sequence[T]
) -> Response:
    """A list page: ``paging`` is the envelope's fields in order, without the items."""
    bodies = [kind.to_body(item, rep.suffix) for item in items]
    if rep is Representation.XML:
        return Response(
            xml_body.listing(kind.list_element, kind.element, bodies, paging),
            media_type=xml_body.CONTENT_TYPE,
        )
    return json_body.response({kind.key: bodies, **paging})


def paging_json(
    page: Page[T],
    request: PageRequest,
    path: str,
    filters: Sequence[tuple[str, str]],
    sid_of: Callable[[T], str],
) -> dict[str, Any]:
    """Twilio's list envelope without the items, with relative URIs that keep SDKs here.

    ``path`` is the request's own path, so the URIs keep the caller's representation.
    """
    items = page.items
    start = request.page * request.page_size
    size = request.page_size

    # Encoded once: every URI of the envelope shares the filters and the page size.
    head = f"{path}?{urlencode([*filters, ('PageSize', str(size))])}&Page="

    def uri(page_no: int, cursor: Cursor | None) -> str:
        if cursor is None:
            return f"{head}{page_no}"
        return f"{head}{page_no}&PageToken={quote_plus(cursor.token)}"

    next_uri = None
    if page.has_next and items:
        next_uri = uri(request.page + 1, Cursor("after", sid_of(items[-1])))
    previous_uri = None
    if page.has_previous and items and request.page > 0:
        previous_uri = uri(request.page - 1, Cursor("before", sid_of(items[0])))
    return {
        "end": start + max(len(items) - 1, 0),
        "first_page_uri": uri(0, None),
        "next_page_uri": next_uri,
        "page": request.page,
        "page_size": size,
        "previous_page_uri": previous_uri,
        "start": start,
        "uri": uri(request.page, request.cursor),
    }


async def page_of(
    request: Request,
    rep: Representation,
    kind: Kind[T],
    page_req: PageRequest,
    fetch: Callable[[PageRequest], Awaitable[Page[T]]],
    filters: Sequence[tuple[str, str]] = (),
) -> Response:
    """A 2010-04-01 list in the requested representation (see the module's docstring)."""
    if rep is Representation.CSV and not wants_one_page(request):
        return csv_list(kind, await fetch(PageRequest(CSV_CHUNK)), fetch)
    page = await fetch(page_req)
    if rep is Representation.CSV:
        return csv_list(kind, page, None)
    paging = paging_json(page, page_req, request.url.path, filters, kind.sid_of)
    return envelope(rep, kind, paging, page.items)


def wants_one_page(request: Request) -> bool:
    """Whether a CSV list names a page (else it is the whole list)."""
    params = request.query_params
    return any(params.get(name) for name in _PAGING_PARAMS)


def csv_list(
    kind: Kind[T],
    first: Page[T],
    more: Callable[[PageRequest], Awaitable[Page[T]]] | None,
) -> Response:
    """A CSV list: ``first`` page, then (``more`` given) every page after it, streamed.

    ``first`` is read before the response starts, so a bad request is still an error
    response; the rest is read page by page (keyset, ``CSV_CHUNK`` rows) as the client reads.
    """

    async def stream() -> AsyncIterator[bytes]:
        cols = kind.columns
        yield csv_body.header(cols)
        page = first
        while True:
            yield csv_body.rows(cols, (kind.to_body(item, ".csv") for item in page.items))
            if more is None or not page.has_next or not page.items:
                return
            after = Cursor("after", kind.sid_of(page.items[-1]))
            page = await more(PageRequest(CSV_CHUNK, 0, after))

    return StreamingResponse(stream(), media_type=csv_body.CONTENT_TYPE)
