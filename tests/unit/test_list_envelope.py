"""The list envelope's URIs: Twilio's query string, encoded as urlencode encodes it."""

from __future__ import annotations

from urllib.parse import urlencode

from smsgate.api.serialize import list_json
from smsgate.domain.paging import Cursor, Page, PageRequest

SID_A = "SM" + "a" * 32
SID_B = "SM" + "b" * 32
PATH = "/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json"
FILTERS = [("To", "+1 415 555 0100"), ("DateSent>", "2026-11-01 10:00:00"), ("From", "é&=?")]


def _reference(page_no: int, size: int, token: str | None) -> str:
    params = [*FILTERS, ("PageSize", str(size)), ("Page", str(page_no))]
    if token is not None:
        params.append(("PageToken", token))
    return f"{PATH}?{urlencode(params)}"


def test_uris_are_urlencoded_like_twilio() -> None:
    request = PageRequest(2, 3, Cursor("after", SID_A))
    page = Page([SID_A, SID_B], has_next=True, has_previous=True)
    body = list_json("messages", page, request, PATH, FILTERS, lambda s: {"sid": s}, str)
    assert body["uri"] == _reference(3, 2, "PA" + SID_A)
    assert body["first_page_uri"] == _reference(0, 2, None)
    assert body["next_page_uri"] == _reference(4, 2, "PA" + SID_B)
    assert body["previous_page_uri"] == _reference(2, 2, "PB" + SID_A)
    assert (body["start"], body["end"], body["page"], body["page_size"]) == (6, 7, 3, 2)


def test_first_page_without_filters() -> None:
    page = Page([SID_A], has_next=False, has_previous=False)
    body = list_json("messages", page, PageRequest(50), PATH, [], lambda s: {"sid": s}, str)
    assert body["uri"] == f"{PATH}?PageSize=50&Page=0"
    assert body["next_page_uri"] is None
    assert body["previous_page_uri"] is None
