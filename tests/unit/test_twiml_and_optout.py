"""TwiML replies and opt-out keywords."""

from __future__ import annotations

import pytest

from smsgate.domain.optout import Keyword, classify
from smsgate.domain.twiml import Reply, TwiMLError, is_twiml, parse_replies


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
    ],
)
def test_replies(xml: bytes, replies: list[Reply]) -> None:
    assert parse_replies(xml) == replies


@pytest.mark.parametrize(
    "xml",
    [
        b"<Response><Message>unclosed</Response>",
        b"<NotResponse/>",
        b"<Response><Message></Message></Response>",
        b'<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Response>&b;</Response>',
        b"plain text",
    ],
)
def test_malformed_twiml_raises(xml: bytes) -> None:
    with pytest.raises(TwiMLError):
        parse_replies(xml)


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
