"""Page parameters and PA/PB page tokens."""

from __future__ import annotations

import pytest

from smsgate.domain.paging import Cursor, parse_page_request, parse_token
from smsgate.errors import BadRequest

SID = "SM" + "a" * 32


def test_defaults() -> None:
    req = parse_page_request(None, None, None, "SM")
    assert (req.page_size, req.page, req.cursor, req.offset) == (50, 0, None, 0)


def test_tokens_round_trip() -> None:
    assert parse_token("PA" + SID, "SM") == Cursor("after", SID)
    assert parse_token("PB" + SID, "SM") == Cursor("before", SID)
    assert Cursor("after", SID).token == "PA" + SID
    assert Cursor("before", SID).token == "PB" + SID


def test_page_without_token_is_an_offset_and_with_token_is_not() -> None:
    assert parse_page_request("10", "3", None, "SM").offset == 30
    assert parse_page_request("10", "3", "PA" + SID, "SM").offset == 0


@pytest.mark.parametrize(
    ("size", "page", "token"),
    [
        ("0", None, None),
        ("1001", None, None),
        ("x", None, None),
        (None, "-1", None),
        (None, "one", None),
        (None, None, "PX" + SID),
        (None, None, "PA" + "MM" + "z" * 32),
        (None, None, "PA" + "AC" + "a" * 32),
        (None, None, "PA"),
    ],
)
def test_invalid_parameters(size: str | None, page: str | None, token: str | None) -> None:
    with pytest.raises(BadRequest):
        parse_page_request(size, page, token, "SM", "MM")
