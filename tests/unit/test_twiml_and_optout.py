"""TwiML replies and opt-out keywords."""

from __future__ import annotations

import pytest

from smsgate.domain.optout import Keyword, classify
from smsgate.domain.twiml import Reply, TwiMLError, document_problem, is_twiml, parse_replies


@pytest.mark.parametrize(
    ("xml", "replies"),
    [
        (b"<Response/>", []),
        (b"<?xml version='1.0'?><Response></Response>", []),
        (b"<Response><Message>Thanks!</Message></Response>", [Reply("Thanks!")]),
        (
            b'<Response><Message to="+15551230000" from="+15017122661">Hi</Message>'
            b"<Message><Body>Two</Body><Media>https://e.com/a.png</Media></Message></Response>",
            [
                Reply("Hi", to="+15551230000", from_="+15017122661"),
                Reply("Two", media_urls=("https://e.com/a.png",)),
            ],
        ),
        (
            b"<Response><Message><Media>https://e.com/a.png</Media></Message></Response>",
            [Reply("", media_urls=("https://e.com/a.png",))],
        ),
        (
            b'<Response><Message action="https://e.com/cb" method="GET">x</Message></Response>',
            [Reply("x", action="https://e.com/cb", method="GET")],
        ),
        (b"<Response><Say>ignored voice verb</Say></Response>", []),
        # An empty <Message> is kept, to be refused as a create without a body (21602).
        (b"<Response><Message></Message></Response>", [Reply("")]),
    ],
)
def test_replies(xml: bytes, replies: list[Reply]) -> None:
    assert parse_replies(xml) == replies


@pytest.mark.parametrize(
    "xml",
    [
        b"<Response><Message>unclosed</Response>",
        b"<NotResponse/>",
        b'<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Response>&b;</Response>',
        b"plain text",
    ],
)
def test_malformed_twiml_raises(xml: bytes) -> None:
    with pytest.raises(TwiMLError):
        parse_replies(xml)


@pytest.mark.parametrize(
    ("content_type", "body", "truncated", "problem"),
    [
        ("text/xml", b"<Response><Message>hi</Message></Response>", False, None),
        ("text/xml", b"<Response/>", False, None),
        ("text/xml", b"", False, None),  # empty: no reply, not a failure
        ("text/plain", b"OK, thanks", False, None),  # not XML: no reply, not a failure
        (None, b"", False, None),
        ("text/xml", b"<Response><Message>unclosed</Response>", False, "malformed TwiML"),
        ("text/html", b"<html><body>hi</body></html>", False, "<Response> root"),
        ("text/xml", b"OK", False, "malformed TwiML"),  # says XML, is not
        ("text/xml", b"<Response><Message>cut", True, "too large"),
    ],
)
def test_document_problem(
    content_type: str | None, body: bytes, truncated: bool, problem: str | None
) -> None:
    found = document_problem(content_type, body, truncated)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_is_twiml() -> None:
    assert is_twiml("text/xml; charset=utf-8", b"")
    assert is_twiml("text/plain", b"  <Response/>")
    assert not is_twiml("text/plain", b"OK")
    assert not is_twiml(None, b"")


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", Keyword.OPT_OUT),
        ("  stop \n", Keyword.OPT_OUT),
        ("StopAll", Keyword.OPT_OUT),
        ("unsubscribe", Keyword.OPT_OUT),
        ("cancel", Keyword.OPT_OUT),
        ("END", Keyword.OPT_OUT),
        ("quit", Keyword.OPT_OUT),
        ("START", Keyword.OPT_IN),
        ("yes", Keyword.OPT_IN),
        ("Unstop", Keyword.OPT_IN),
        ("help", Keyword.HELP),
        ("INFO", Keyword.HELP),
        ("STOP please", None),
        ("stopp", None),
        ("", None),
    ],
)
def test_keywords(body: str, keyword: Keyword | None) -> None:
    assert classify(body) is keyword
