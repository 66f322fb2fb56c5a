"""X-Twilio-Signature against the published vector and the official SDK's validator."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from smsgate.webhooks.signing import json_url, signature, signed_string

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}


def test_published_vector() -> None:
    assert signature("12345", VECTOR_URL, VECTOR_PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_repeated_parameters_are_deduplicated_and_sorted() -> None:
    pairs = [("MediaUrl", "b"), ("MediaUrl", "a"), ("MediaUrl", "b"), ("Body", "x")]
    assert signed_string("https://e.com/", pairs) == "https://e.com/BodyxMediaUrlaMediaUrlb"


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("http://127.0.0.1:8123/status?x=1", {"MessageSid": "SM1", "MessageStatus": "sent"}),
        ("https://example.com/sms", {"Body": "héllo wörld ✓", "From": "+15551234567"}),
        ("https://example.com:8443/a/b?c=d&e=f", {}),
        ("http://localhost/cb", {"MediaUrl0": "https://x/y?z=1", "NumMedia": "1"}),
    ],
)
def test_the_sdk_validator_accepts_our_signatures(url: str, params: dict[str, str]) -> None:
    token = "f" * 32
    assert RequestValidator(token).validate(url, params, signature(token, url, params))
    assert not RequestValidator("0" * 32).validate(url, params, signature(token, url, params))


def test_json_bodies_sign_the_url_with_body_hash() -> None:
    body = b'{"property": "value", "boolean": true}'
    url = json_url("https://mycompany.com/myapp.php?foo=1", body)
    assert url.endswith(
        "bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    )
    token = "12345"
    assert RequestValidator(token).validate(url, body.decode(), signature(token, url))


def test_each_token_signs_with_its_own_key() -> None:
    url, params = "http://127.0.0.1:8123/status", {"MessageSid": "SM1", "MessageStatus": "sent"}
    tokens = [f"{n:032x}" for n in range(300)]  # more than are kept keyed at once
    for token in [*tokens, *reversed(tokens)]:
        assert RequestValidator(token).validate(url, params, signature(token, url, params))


class _MultiDict(dict[str, list[str]]):
    """The shape of a web framework's form (Flask's MultiDict), as the SDK reads it."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def test_repeated_values_sign_as_the_sdk_validates_them() -> None:
    url = "https://example.com/sms"
    params = {"MediaUrl": ["https://x/b", "https://x/a"], "Body": ["hi"], "NumMedia": ["2"]}
    token = "f" * 32
    form = _MultiDict(params)
    assert RequestValidator(token).validate(url, form, signature(token, url, params))
    as_pairs = [("MediaUrl", "https://x/b"), ("Body", "hi"), ("MediaUrl", "https://x/a")]
    assert signature(token, url, [*as_pairs, ("NumMedia", "2")]) == signature(token, url, params)
