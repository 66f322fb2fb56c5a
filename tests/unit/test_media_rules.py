"""Twilio's media types and limits, and feedback outcomes (smsgate.domain.media)."""

from __future__ import annotations

import pytest

from smsgate.domain.media import (
    IMAGE_LIMIT,
    INVALID_CONTENT_TYPE,
    OTHER_LIMIT,
    MediaProblem,
    check_outcome,
    check_type,
    media_type,
    size_limit,
)
from smsgate.errors import BadRequest


@pytest.mark.parametrize(
    ("header", "limit"),
    [
        ("image/jpeg", 5 * 1024 * 1024),
        ("IMAGE/PNG; charset=binary", IMAGE_LIMIT),
        ("image/gif", IMAGE_LIMIT),
        ("image/jpg", IMAGE_LIMIT),
        ("application/pdf", 500 * 1024),
        ("video/mp4", OTHER_LIMIT),
        ("text/vcard", OTHER_LIMIT),
        ("text/html", None),
        ("", None),
        (None, None),
    ],
)
def test_types_and_limits(header: str | None, limit: int | None) -> None:
    assert size_limit(media_type(header)) == limit


def test_an_unaccepted_type_is_12300() -> None:
    with pytest.raises(MediaProblem) as problem:
        check_type("text/html")
    assert problem.value.code == INVALID_CONTENT_TYPE


def test_feedback_outcomes() -> None:
    assert check_outcome("confirmed") == "confirmed"
    assert check_outcome("unconfirmed") == "unconfirmed"
    for bad in ("Confirmed", "", None, "clicked"):
        with pytest.raises(BadRequest):
            check_outcome(bad)
