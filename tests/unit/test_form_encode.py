"""The webhook body encoder is urllib's urlencode, byte for byte, only cheaper."""

from __future__ import annotations

import random
from urllib.parse import urlencode

from smsgate.webhooks.http import form_encode, form_url

ALPHABET = "azAZ09_.~-+ &=%/?#:@!*'()\"é€😀\t\n"


def test_form_encode_is_urlencode() -> None:
    rng = random.Random(3)
    for _ in range(5000):
        params = tuple(
            (
                "".join(rng.choices(ALPHABET, k=rng.randint(0, 8))),
                "".join(rng.choices(ALPHABET, k=rng.randint(0, 16))),
            )
            for _ in range(rng.randint(0, 5))
        )
        assert form_encode(params) == urlencode(params), params


def test_a_callback_body_and_a_get_url() -> None:
    params = (
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("MessageStatus", "delivered"),
        ("From", "+15005550006"),
        ("To", "+15551234567"),
        ("Body", "Hi & bye 100%"),
        ("ApiVersion", "2010-04-01"),
    )
    assert form_encode(params) == urlencode(params)
    assert form_url("http://h/cb?x=1", params) == "http://h/cb?x=1&" + urlencode(params)
    assert form_url("http://h/cb", ()) == "http://h/cb"
