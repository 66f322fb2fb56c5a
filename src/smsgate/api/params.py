"""Reading Twilio-style requests: form-encoded bodies, query strings, typed parameters.

Twilio clients send small ``application/x-www-form-urlencoded`` bodies, so we parse them as
``urllib.parse.parse_qsl`` does (much cheaper than a general multipart parser), with its work
skipped for the fields that need no decoding. The Python SDK
sends empty strings for unset parameters, so ``value()`` treats ``""`` as absent; ``raw()``
keeps the difference for the few parameters where ``""`` means something (``Body=""``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote

from dateutil import parser as dateparser
from starlette.requests import ClientDisconnect, Request

from smsgate.errors import BadRequest, PayloadTooLarge

TRUE = frozenset({"true", "1", "yes"})
FALSE = frozenset({"false", "0", "no"})


class Params:
    """A multi-valued parameter set with typed accessors that raise Twilio-style 400s."""

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value)
        self._values = values

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def raw(self, name: str) -> str | None:
        """The first value as sent, ``""`` included; None when the parameter is absent."""
        found = self._values.get(name)
        return found[0] if found else None

    def value(self, name: str) -> str | None:
        """The first non-empty value, or None."""
        found = self._values.get(name)
        if not found:
            return None
        return found[0] or None

    def all(self, name: str) -> list[str]:
        """Every non-empty value of a repeated parameter (``MediaUrl=a&MediaUrl=b``)."""
        return [v for v in self._values.get(name, ()) if v]

    def boolean(self, name: str) -> bool | None:
        raw = self.value(name)
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise BadRequest(f"{name} must be true or false, got '{raw}'", code=20001)

    def integer(self, name: str) -> int | None:
        raw = self.value(name)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be an integer, got '{raw}'", code=20001) from None

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        raw = self.value(name)
        if raw is not None and raw not in allowed:
            raise BadRequest(f"{name} must be one of {', '.join(allowed)}; got '{raw}'", code=20001)
        return raw

    def timestamp(self, name: str) -> datetime | None:
        """An ISO 8601 date-time (``SendAt``); naive values are UTC."""
        raw = self.value(name)
        if raw is None:
            return None
        try:
            moment = dateparser.isoparse(raw)
        except ValueError:
            raise BadRequest(
                f"{name} must be an ISO 8601 date-time, got '{raw}'", code=20001
            ) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def read_form(request: Request, limit: int) -> Params:
    """The request's form body, refusing more than ``limit`` bytes with a 413."""
    body = await read_body(request, limit)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8", code=20001) from None
    return Params(parse_form(text))


async def read_body(request: Request, limit: int) -> bytes:
    """The body straight from ASGI ``receive``, as ``Request.stream()`` reads it, refusing
    more than ``limit`` bytes with a 413.

    A form body almost always arrives in one message; this skips the async generator.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


def parse_form(text: str) -> list[tuple[str, str]]:
    """Exactly ``parse_qsl(text, keep_blank_values=True)``, cheaper for plain fields.

    Fields are split on ``&``, empty ones dropped, a field without ``=`` has the value
    ``""``, ``+`` means a space, and ``%XX`` escapes are decoded as UTF-8 with invalid bytes
    replaced; a field without ``+`` or ``%`` is taken as it is.
    """
    pairs: list[tuple[str, str]] = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in name or "%" in name:
            name = _decoded(name)
        if "+" in value or "%" in value:
            value = _decoded(value) if len(value) <= CACHED_FIELD else _decode(value)
        pairs.append((name, value))
    return pairs


# Form values up to this long are decoded once and remembered (see _decoded).
CACHED_FIELD = 256


def _decode(raw: str) -> str:
    return unquote(raw.replace("+", " "))


# A sender's From, StatusCallback and MessagingServiceSid come again and again, each %-escaped
# (`%2B1…`, `https%3A%2F%2F…`); decoding them was ~6% of a create's CPU. At most 1,024 short
# values are kept (~0.5 MB).
_decoded = lru_cache(maxsize=1024)(_decode)


def query(request: Request) -> Params:
    return Params(request.query_params.multi_items())
