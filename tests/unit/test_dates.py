"""RFC 2822 output (also against email.utils), the microsecond conversions, and the DateSent
filter forms of seed 002."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from smsgate.domain.dates import EPOCH, date_range, from_us, parse_span, rfc2822, to_us
from smsgate.errors import InvalidFilter


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (utc(2023, 8, 24, 5, 1, 45), "Thu, 24 Aug 2023 05:01:45 +0000"),
        (utc(2019, 5, 24, 17, 44, 50, 999999), "Fri, 24 May 2019 17:44:50 +0000"),
        (
            datetime(2020, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            "Tue, 31 Dec 2019 23:00:00 +0000",
        ),
    ],
)
def test_rfc2822(moment: datetime, text: str) -> None:
    assert rfc2822(moment) == text


def test_rfc2822_none() -> None:
    assert rfc2822(None) is None


def test_microsecond_round_trip() -> None:
    moment = utc(2026, 11, 25, 9, 30, 1, 123456)
    assert from_us(to_us(moment)) == moment
    assert to_us(utc(1970, 1, 1)) == 0


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2021-01-15", utc(2021, 1, 15), utc(2021, 1, 16)),
        ("01/15/2021", utc(2021, 1, 15), utc(2021, 1, 16)),
        ("2021-01-15T01:23:45Z", utc(2021, 1, 15, 1, 23, 45), utc(2021, 1, 15, 1, 23, 46)),
        ("2021-01-15T01:23:45+02:00", utc(2021, 1, 14, 23, 23, 45), utc(2021, 1, 14, 23, 23, 46)),
        ("2019-06-11 22:05:25.000", utc(2019, 6, 11, 22, 5, 25), utc(2019, 6, 11, 22, 5, 26)),
        ("06/11/2019 22:05:25 MST", utc(2019, 6, 12, 5, 5, 25), utc(2019, 6, 12, 5, 5, 26)),
        ("Wed, 19 Jun 2019 22:04:00 -0000", utc(2019, 6, 19, 22, 4), utc(2019, 6, 19, 22, 4, 1)),
    ],
)
def test_span_forms(value: str, start: datetime, end: datetime) -> None:
    span = parse_span(value)
    assert (span.start, span.end) == (start, end)


@pytest.mark.parametrize("value", ["", "yesterday", "1", "2021-13-01", "2021-02-30", "abc 2021"])
def test_unparseable_values_raise(value: str) -> None:
    with pytest.raises(InvalidFilter):
        parse_span(value)


def test_range_combines_the_three_parameters() -> None:
    r = date_range("2021-01-15", None, None)
    assert (r.after, r.before) == (utc(2021, 1, 15), utc(2021, 1, 16))
    r = date_range(None, "2021-01-15", "2021-01-10")
    assert (r.after, r.before) == (utc(2021, 1, 10), utc(2021, 1, 16))
    r = date_range("<=2021-01-15", None, None)
    assert (r.after, r.before) == (None, utc(2021, 1, 16))
    r = date_range(">=2021-01-15", None, None)
    assert (r.after, r.before) == (utc(2021, 1, 15), None)
    assert date_range(None, "2021-01-10", "2021-01-15").empty
    assert not date_range(None, None, None).empty


def _random_instants(n: int) -> list[datetime]:
    rng = random.Random(2822)
    lo, hi = to_us(datetime(1971, 1, 1, tzinfo=UTC)), to_us(datetime(2199, 12, 31, tzinfo=UTC))
    return [from_us(rng.randrange(lo, hi)) for _ in range(n)]


def test_rfc2822_matches_email_utils_for_utc_instants() -> None:
    for moment in _random_instants(20_000):
        assert rfc2822(moment) == format_datetime(moment.replace(microsecond=0)), moment


def test_rfc2822_renders_other_offsets_in_gmt() -> None:
    zones = [timezone(timedelta(hours=h, minutes=m)) for h, m in ((-7, 0), (5, 30), (14, 0))]
    for moment in _random_instants(2_000):
        for zone in zones:
            local = moment.astimezone(zone)
            assert local.tzinfo is not UTC
            assert rfc2822(local) == rfc2822(moment)


def test_rfc2822_day_boundaries_and_none() -> None:
    assert rfc2822(None) is None
    assert rfc2822(datetime(2023, 8, 24, 5, 1, 45, tzinfo=UTC)) == "Thu, 24 Aug 2023 05:01:45 +0000"
    assert rfc2822(datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)) == (
        "Thu, 29 Feb 2024 23:59:59 +0000"
    )
    assert rfc2822(datetime(2024, 3, 1, tzinfo=UTC)) == "Fri, 01 Mar 2024 00:00:00 +0000"


def test_from_us_round_trips() -> None:
    for moment in _random_instants(5_000):
        assert from_us(to_us(moment)) == moment
        assert from_us(to_us(moment)).tzinfo is UTC
    assert from_us(0) == EPOCH
