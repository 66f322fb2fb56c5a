"""The form parser is parse_qsl(keep_blank_values=True), only cheaper: checked on many bodies."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl

import pytest

from smsgate.api.params import parse_form

PIECES = [
    "a",
    "To",
    "B",
    "=",
    "&",
    "+",
    "%2B",
    "%20",
    "%",
    "%2",
    "%zz",
    "%e2%82%ac",
    "%ff",
    " ",
    "é",
    "€",
]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "&",
        "&&a=1&&",
        "To=%2B15551234567&From=%2B15005550006&Body=Hello+from+the+benchmark%21",
        "Body=",
        "Body",
        "=x",
        "a=b=c",
        "MediaUrl=x&MediaUrl=y",
        "Body=caf%C3%A9+%E2%82%AC",
        "Body=%FF%FE",
        "Body=100%",
        "Body=%2",
        "Na+me=va+lue",
    ],
)
def test_known_bodies(body: str) -> None:
    assert parse_form(body) == parse_qsl(body, keep_blank_values=True)


def test_random_bodies() -> None:
    rng = random.Random(2)
    for _ in range(5000):
        body = "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 12)))
        assert parse_form(body) == parse_qsl(body, keep_blank_values=True), body
