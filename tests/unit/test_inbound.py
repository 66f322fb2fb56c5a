"""Pure parts of inbound messages: webhook parameters, geography, media types, keyword replies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsgate.domain.inbound import Geo, check_content, geo_of, inbound_params, media_content_type
from smsgate.domain.messages import Direction, Message, Status
from smsgate.domain.optout import DEFAULT_HELP_REPLY, AutoReplies, Keyword
from smsgate.errors import ValidationError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def message(**changes: object) -> Message:
    base: dict[str, object] = {
        "sid": "SM" + "a" * 32,
        "account_sid": "AC" + "b" * 32,
        "to": "+14155551234",
        "from_": "+15017122661",
        "body": "hi",
        "status": Status.RECEIVED,
        "direction": Direction.INBOUND,
        "num_segments": 1,
        "num_media": 0,
        "date_created": NOW,
        "date_updated": NOW,
    }
    base.update(changes)
    return Message(**base)  # type: ignore[arg-type]


def test_inbound_params_are_twilios() -> None:
    params = dict(inbound_params(message()))
    sid = "SM" + "a" * 32
    assert params == {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "AR",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": "hi",
        "FromCountry": "US",
        "To": "+14155551234",
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC" + "b" * 32,
        "From": "+15017122661",
        "ApiVersion": "2010-04-01",
    }


def test_inbound_params_name_media_and_the_service() -> None:
    m = message(
        num_media=2,
        media_urls=["https://e.com/a.jpeg", "https://e.com/clip"],
        messaging_service_sid="MG" + "c" * 32,
    )
    params = inbound_params(m)
    names = [name for name, _ in params]
    assert names.count("MediaUrl0") == 1
    d = dict(params)
    assert d["MessagingServiceSid"] == "MG" + "c" * 32
    assert (d["MediaUrl0"], d["MediaContentType0"]) == ("https://e.com/a.jpeg", "image/jpeg")
    assert (d["MediaUrl1"], d["MediaContentType1"]) == (
        "https://e.com/clip",
        "application/octet-stream",
    )


@pytest.mark.parametrize(
    ("number", "geo"),
    [
        ("+14155551234", Geo("US", "CA", "SAN FRANCISCO")),
        ("+15017122661", Geo("US", "AR")),
        ("+12065550123", Geo("US", "WA")),
        ("+16135550123", Geo("CA", "ON")),
        ("+15558675310", Geo("US")),  # fictional 555: the country only
        ("+442071234567", Geo("GB")),
        ("+33612345678", Geo("FR")),
        ("not a number", Geo()),
    ],
)
def test_geography(number: str, geo: Geo) -> None:
    assert geo_of(number) == geo


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://e.com/a.png", "image/png"),
        ("https://e.com/a.GIF?size=2#x", "image/gif"),
        ("https://e.com/v.mp4", "video/mp4"),
        ("https://e.com/card.vcf", "text/vcard"),
        ("https://e.com/", "application/octet-stream"),
    ],
)
def test_media_content_type_from_the_extension(url: str, kind: str) -> None:
    assert media_content_type(url) == kind


@pytest.mark.parametrize(
    ("body", "media", "code"),
    [
        ("x" * 1601, (), 21617),
        ("x", tuple(f"https://e.com/{i}.png" for i in range(11)), 21623),
        ("x", ("ftp://e.com/a.png",), 21620),
    ],
)
def test_content_limits(body: str, media: tuple[str, ...], code: int) -> None:
    with pytest.raises(ValidationError) as info:
        check_content(body, media)
    assert info.value.code == code


def test_an_empty_message_is_fine() -> None:
    check_content("", ())


def test_auto_replies_per_keyword() -> None:
    replies = AutoReplies(stop="bye", start="", help="?")
    assert replies.for_keyword(Keyword.OPT_OUT) == "bye"
    assert replies.for_keyword(Keyword.OPT_IN) == ""
    assert replies.for_keyword(Keyword.HELP) == "?"
    assert replies.for_keyword(None) == ""
    assert AutoReplies().for_keyword(Keyword.HELP) == DEFAULT_HELP_REPLY
