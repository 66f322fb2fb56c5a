"""Inbound (mobile-originated) messages: what their webhook carries, and what they change.

An inbound message is stored, its webhook (the number's ``SmsUrl``) is queued in the same
transaction, and an opt-out keyword changes the recipient's subscription in that transaction
too (see ``InboundRecord``). The webhook's TwiML answer becomes ``outbound-reply`` messages.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
from phonenumbers import NumberParseException

from smsgate.domain.delivery import Callback
from smsgate.domain.media import Media, StagedFile
from smsgate.domain.messages import (
    API_VERSION,
    MAX_BODY_CHARS,
    MAX_MEDIA,
    Message,
    Status,
    is_http_url,
)
from smsgate.domain.numbers import region_of
from smsgate.domain.values import value
from smsgate.errors import ValidationError

# A TwiML answer is small; anything past this is not read (and is logged as truncated).
MAX_RESPONSE_BYTES = 64 * 1024
DEFAULT_MEDIA_TYPE = "application/octet-stream"


class OptChange(Enum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"


@dataclass(frozen=True, slots=True)
class OptOut:
    """``address`` stops (or resumes) receiving messages sent within ``scope``.

    ``scope`` is the sender number today; for a number in a Messaging Service it becomes the
    service SID (Twilio blocks the whole service).
    """

    scope: str
    address: str
    account_sid: str
    change: OptChange


@dataclass(frozen=True, slots=True)
class QueuedReply:
    """An outbound message to enqueue at its sender's next slot (rate ``mps``)."""

    message: Message
    mps: float


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """Everything one inbound message writes, in one store transaction."""

    message: Message
    callback: Callback | None = None
    opt: OptOut | None = None
    replies: tuple[QueuedReply, ...] = ()
    media: tuple[Media, ...] = ()  # the message's fetched media, stored with it
    staged: tuple[StagedFile, ...] = ()  # their content


@value
class WebhookResponse:
    """What a webhook receiver answered: status, content type and the start of the body."""

    status_code: int
    content_type: str | None
    body: bytes
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Geo:
    country: str = ""
    state: str = ""
    city: str = ""
    zip: str = ""


def check_content(body: str, media_urls: tuple[str, ...]) -> None:
    """The limits outbound messages have apply to injected inbound ones: 1600 characters,
    at most 10 media, http(s) media URLs. An empty body is fine (a phone can send one)."""
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError(
            "The concatenated message body exceeds the 1600 character limit.", code=21617
        )
    if len(media_urls) > MAX_MEDIA:
        raise ValidationError(
            f"Too many media URLs: {len(media_urls)}. The maximum is {MAX_MEDIA}.", code=21623
        )
    bad = [u for u in media_urls if not is_http_url(u)]
    if bad:
        raise ValidationError(
            f"Media urls: {', '.join(bad)} are invalid. Please use only valid http and https urls",
            code=21620,
        )


def media_content_type(url: str) -> str:
    """The media type a URL's file extension suggests (media are not fetched yet)."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path, strict=False)
    return guessed or DEFAULT_MEDIA_TYPE


def inbound_params(
    message: Message, media: Sequence[tuple[str, str]] | None = None
) -> tuple[tuple[str, str], ...]:
    """The form parameters of an inbound-message webhook, as Twilio sends them.

    ``media``: (URL, content type) of each stored media, in order; None when media were not
    fetched: the message's URLs then go as they came, typed by their file extension."""
    sender, receiver = geo_of(message.from_ or ""), geo_of(message.to)
    params = [
        ("ToCountry", receiver.country),
        ("ToState", receiver.state),
        ("SmsMessageSid", message.sid),
        ("NumMedia", str(message.num_media)),
        ("ToCity", receiver.city),
        ("FromZip", sender.zip),
        ("SmsSid", message.sid),
        ("FromState", sender.state),
        ("SmsStatus", Status.RECEIVED.value),
        ("FromCity", sender.city),
        ("Body", message.body),
        ("FromCountry", sender.country),
        ("To", message.to),
    ]
    if message.messaging_service_sid:
        params.append(("MessagingServiceSid", message.messaging_service_sid))
    params += [
        ("ToZip", receiver.zip),
        ("NumSegments", str(message.num_segments)),
        ("MessageSid", message.sid),
        ("AccountSid", message.account_sid),
        ("From", message.from_ or ""),
        ("ApiVersion", API_VERSION),
    ]
    if media is None:
        media = [(url, media_content_type(url)) for url in message.media_urls]
    for i, (url, content_type) in enumerate(media):
        params += [(f"MediaContentType{i}", content_type), (f"MediaUrl{i}", url)]
    return tuple(params)


@lru_cache(maxsize=4096)
def geo_of(e164: str) -> Geo:
    """Country, state and city of a number, as far as libphonenumber knows them.

    The country is the ISO code of the number's region (``US``); for North American numbers
    the state is its two-letter code and the city is upper-cased, as Twilio sends them. What
    is unknown is empty; libphonenumber has no ZIP codes, so ``zip`` is always empty.
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return Geo()
    country = phonenumbers.region_code_for_number(parsed) or region_of(e164) or ""
    if country == phonenumbers.UNKNOWN_REGION:
        country = ""
    if parsed.country_code != 1 or not phonenumbers.is_valid_number(parsed):
        return Geo(country=country)
    from phonenumbers import geocoder  # its data loads on first use only

    place = str(geocoder.description_for_number(parsed, "en"))
    city, _, state = place.rpartition(", ")
    if not city:
        return Geo(country=country, state=_STATES.get(place, ""))
    return Geo(country=country, state=state, city=city.upper())


# Names libphonenumber's English geocoder gives North American areas without a city.
_STATES = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington State": "WA",
    "Washington": "WA",
    "Washington D.C.": "DC",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
    "Puerto Rico": "PR",
    "Alberta": "AB",
    "British Columbia": "BC",
    "Manitoba": "MB",
    "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL",
    "Nova Scotia": "NS",
    "Ontario": "ON",
    "Prince Edward Island": "PE",
    "Quebec": "QC",
    "Saskatchewan": "SK",
    "Northwest Territories": "NT",
    "Nunavut": "NU",
    "Yukon": "YT",
}
