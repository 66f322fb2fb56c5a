"""X-Twilio-Signature, computed exactly as Twilio computes it.

The signed string is the full URL Twilio requested (scheme, host, port as configured, path
and query string) followed, for a form-encoded POST, by every parameter name and value with
names in byte order and each name's distinct values in byte order. The signature is the
base64 HMAC-SHA1 of that string keyed with the account's auth token. For a JSON body,
``bodySHA256=<hex sha256 of the body>`` is appended to the query string and the URL alone is
signed. The official SDKs' ``RequestValidator`` accepts exactly this.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence

HEADER = "X-Twilio-Signature"

Params = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def _pairs(params: Params) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    items = params.items() if isinstance(params, Mapping) else params
    for name, value in items:
        values = [value] if isinstance(value, str) else list(value)
        grouped.setdefault(name, set()).update(values)
    return grouped


def signed_string(url: str, params: Params = ()) -> str:
    """The exact string Twilio feeds to HMAC for ``url`` and form ``params``."""
    parts = [url]
    grouped = _pairs(params)
    for name in sorted(grouped):
        for value in sorted(grouped[name]):
            parts.append(name + value)
    return "".join(parts)


def signature(auth_token: str, url: str, params: Params = ()) -> str:
    """The ``X-Twilio-Signature`` value for a form-encoded request (or a GET with no body)."""
    mac = hmac.digest(auth_token.encode(), signed_string(url, params).encode(), "sha1")
    return base64.b64encode(mac).decode()


def json_url(url: str, body: bytes) -> str:
    """``url`` with Twilio's ``bodySHA256`` query parameter for a JSON body."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{url}{'&' if '?' in url else '?'}bodySHA256={digest}"
