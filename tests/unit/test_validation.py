"""Create-time validation: Twilio's codes, in Twilio's order, without any I/O."""

from __future__ import annotations

import pytest

from smsgate.domain.dates import from_us
from smsgate.domain.messages import (
    CreateRequest,
    ValidCreate,
    is_http_url,
    list_key,
    validate_create,
)
from smsgate.errors import ValidationError

OK = {"to": "+15558675310", "from_": "+15017122661", "body": "hi"}


def check(**fields: object) -> ValidCreate:
    return validate_create(CreateRequest(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, 21604),
        ({"from_": "+15017122661", "body": "x"}, 21604),
        ({"to": "+15558675310", "body": "x"}, 21603),
        ({"to": "+15558675310", "from_": "+15017122661"}, 21602),
        ({"to": "+15558675310", "messaging_service_sid": "MG" + "a" * 32}, 21619),
        ({**OK, "to": "hello"}, 21211),
        ({**OK, "from_": "hello"}, 21212),
        ({**OK, "from_": "15017122661"}, 21212),  # a sender must be E.164
        ({**OK, "to": "+15017122661"}, 21266),
        ({**OK, "body": "x" * 1601}, 21617),
        ({**OK, "media_urls": tuple(f"https://e.com/{i}" for i in range(11))}, 21623),
        ({**OK, "media_urls": ("https://e_x.com/a.png",)}, 21620),
        ({**OK, "status_callback": "https://"}, 21609),
        ({**OK, "validity_period": 0}, 30012),
        ({**OK, "schedule_type": "fixed"}, 35111),
        ({**OK, "messaging_service_sid": "MGnope"}, 21701),
    ],
)
def test_codes(fields: dict[str, object], code: int) -> None:
    with pytest.raises(ValidationError) as info:
        check(**fields)
    assert info.value.code == code
    assert info.value.status == 400


def test_missing_to_wins_over_everything_else() -> None:
    with pytest.raises(ValidationError) as info:
        check(body="x" * 5000, from_="nonsense")
    assert info.value.code == 21604


def test_valid_request_is_normalised_and_segmented() -> None:
    valid = check(to="(555) 867-5310", from_="+15017122661", body="a" * 161)
    assert valid.to == "+15558675310"
    assert valid.segments.num_segments == 2


def test_national_to_is_read_in_the_senders_country() -> None:
    valid = check(to="020 7946 0018", from_="+447700900123", body="hi")
    assert valid.to == "+442079460018"


def test_long_validity_periods_are_capped_like_twilio_does() -> None:
    assert check(**{**OK, "validity_period": 90000}).validity_period == 36000
    assert check(**{**OK, "validity_period": 5}).validity_period == 5
    assert check(**OK).validity_period is None


def test_1600_characters_is_the_limit() -> None:
    assert check(**{**OK, "body": "x" * 1600}).segments.num_segments == 11


def test_smart_encoding_only_when_it_makes_gsm() -> None:
    assert check(**{**OK, "body": "it’s", "smart_encoded": True}).body == "it's"
    assert check(**{**OK, "body": "it’s 😀", "smart_encoded": True}).body == "it’s 😀"
    assert check(**{**OK, "body": "it’s"}).body == "it’s"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/cb", True),
        ("http://127.0.0.1:8080/x?y=1", True),
        ("ftp://example.com", False),
        ("https://under_score.com", False),
        ("https://", False),
        ("https://example.com:99999", False),
        ("example.com", False),
    ],
)
def test_urls(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok


def test_unsent_messages_sort_after_sent_ones() -> None:
    created = from_us(1_700_000_000_000_000)
    sent_long_ago = from_us(1_000_000)
    assert list_key(sent_long_ago, created) > list_key(None, created)
    assert list_key(None, from_us(1_700_000_000_000_001)) > list_key(None, created)
