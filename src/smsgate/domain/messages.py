"""The Message entity, its states, and the validation Twilio applies when one is created."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from smsgate.domain import segments
from smsgate.domain.dates import to_us
from smsgate.domain.numbers import DEFAULT_REGION, region_of, to_e164
from smsgate.errors import ValidationError
from smsgate.ids import is_sid

MAX_BODY_CHARS = 1600
MAX_MEDIA = 10
MIN_VALIDITY, MAX_VALIDITY = 1, 36000
API_VERSION = "2010-04-01"


class Status(StrEnum):
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    CANCELED = "canceled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    RECEIVING = "receiving"
    RECEIVED = "received"
    READ = "read"
    PARTIALLY_DELIVERED = "partially_delivered"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND_API = "outbound-api"
    OUTBOUND_CALL = "outbound-call"
    OUTBOUND_REPLY = "outbound-reply"


# A message in one of these states is still on its way; it cannot be deleted or redacted.
IN_FLIGHT = frozenset(
    {Status.ACCEPTED, Status.SCHEDULED, Status.QUEUED, Status.SENDING, Status.RECEIVING}
)
FINAL = frozenset(Status) - IN_FLIGHT

# Unsent messages sort after every sent one ("unsent last, by creation"): their list key is
# their creation time shifted below every real timestamp.
_UNSENT_SHIFT = 1 << 62


@dataclass(slots=True)
class Message:
    """One inbound or outbound message, as stored."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    status: Status
    direction: Direction
    num_segments: int
    num_media: int
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None = None
    messaging_service_sid: str | None = None
    price: str | None = None
    price_unit: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    status_callback: str | None = None
    validity_period: int | None = None
    send_at: datetime | None = None
    encoding: str = segments.Encoding.GSM7.value
    media_urls: list[str] = field(default_factory=list)
    # Every other create parameter, kept as given so later features and audits can see it.
    options: dict[str, str | list[str]] = field(default_factory=dict)

    @property
    def list_key(self) -> int:
        return list_key(self.date_sent, self.date_created)


def list_key(date_sent: datetime | None, date_created: datetime) -> int:
    """The value lists sort by, newest first: ``date_sent``, unsent last by creation."""
    if date_sent is not None:
        return to_us(date_sent)
    return to_us(date_created) - _UNSENT_SHIFT


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """The create parameters after type parsing (empty strings already mean absent)."""

    to: str | None = None
    from_: str | None = None
    messaging_service_sid: str | None = None
    body: str | None = None
    media_urls: tuple[str, ...] = ()
    status_callback: str | None = None
    validity_period: int | None = None
    smart_encoded: bool = False
    schedule_type: str | None = None
    send_at: datetime | None = None
    options: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ValidCreate:
    """A create request that passed every check that needs no store."""

    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    media_urls: tuple[str, ...]
    segments: segments.SegmentInfo
    validity_period: int | None = None


def validate_create(req: CreateRequest) -> ValidCreate:
    """Apply Twilio's create-time checks, in Twilio's order, raising its error codes."""
    if not req.to:
        raise ValidationError("A 'To' phone number is required.", code=21604)
    if not req.from_ and not req.messaging_service_sid:
        raise ValidationError(
            "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
            code=21603,
        )
    if not req.body and not req.media_urls and "ContentSid" not in req.options:
        code = 21619 if req.messaging_service_sid and not req.from_ else 21602
        raise ValidationError("Message body is required.", code=code)
    from_ = _valid_from(req.from_) if req.from_ else None
    to = _valid_to(req.to, region_of(from_) if from_ else DEFAULT_REGION)
    if from_ is not None and to == from_:
        raise ValidationError("'To' and 'From' number cannot be the same: " + to, code=21266)
    if req.messaging_service_sid is not None and not is_sid(req.messaging_service_sid, "MG"):
        raise ValidationError(
            f"The Messaging Service Sid {req.messaging_service_sid} is invalid.", code=21701
        )
    body = req.body or ""
    if req.smart_encoded:
        # Twilio only swaps look-alikes when that makes the whole body GSM-7.
        encoded = segments.smart_encode(body)
        body = encoded if segments.is_gsm7(encoded) else body
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError(
            "The concatenated message body exceeds the 1600 character limit.", code=21617
        )
    _check_media(req.media_urls)
    _check_optional(req)
    return ValidCreate(
        to,
        from_,
        req.messaging_service_sid,
        body,
        req.media_urls,
        segments.analyze(body),
        # Twilio answers a longer period with warning 30045 and uses its maximum.
        None if req.validity_period is None else min(req.validity_period, MAX_VALIDITY),
    )


def _valid_to(raw: str, region: str | None) -> str:
    e164 = to_e164(raw, region or DEFAULT_REGION)
    if e164 is None:
        raise ValidationError(f"The 'To' number {raw} is not a valid phone number.", code=21211)
    return e164


def _valid_from(raw: str) -> str:
    e164 = to_e164(raw) if raw.startswith("+") else None
    if e164 is None:
        raise ValidationError(
            f"The 'From' number {raw} is not a valid phone number, shortcode, "
            "or alphanumeric sender ID.",
            code=21212,
        )
    return e164


_URL_HOST = re.compile(r"^[A-Za-z0-9.-]+$")


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a hostname (Twilio: "underscores are not allowed")."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and bool(host) and bool(_URL_HOST.match(host))


def _check_media(urls: tuple[str, ...]) -> None:
    if len(urls) > MAX_MEDIA:
        raise ValidationError(
            f"Too many media URLs: {len(urls)}. The maximum is {MAX_MEDIA}.", code=21623
        )
    bad = [u for u in urls if not is_http_url(u)]
    if bad:
        raise ValidationError(
            f"Media urls: {', '.join(bad)} are invalid. Please use only valid http and https urls",
            code=21620,
        )


def _check_optional(req: CreateRequest) -> None:
    if req.status_callback is not None and not is_http_url(req.status_callback):
        raise ValidationError(
            f"The StatusCallback URL {req.status_callback} is not a valid URL.", code=21609
        )
    if req.validity_period is not None and req.validity_period < MIN_VALIDITY:
        raise ValidationError(
            f"ValidityPeriod {req.validity_period} is below the minimum of {MIN_VALIDITY} second.",
            code=30012,
        )
    if req.schedule_type is not None and req.schedule_type != "fixed":
        raise ValidationError(
            f"ScheduleType must be 'fixed', got '{req.schedule_type}'.", code=20001
        )
    if req.schedule_type == "fixed" and req.send_at is None:
        raise ValidationError("SendAt is required when ScheduleType is 'fixed'.", code=35111)
