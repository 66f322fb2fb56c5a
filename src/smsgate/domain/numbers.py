"""Phone numbers: E.164 parsing with ``phonenumbers`` and the IncomingPhoneNumber entity."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

DEFAULT_REGION = "US"
_NANP_E164 = re.compile(r"\+1[0-9]{10}")


@lru_cache(maxsize=65536)
def to_e164(raw: str, region: str | None = DEFAULT_REGION) -> str | None:
    """``raw`` as E.164 (``+15017122661``), or None when it is not a possible phone number.

    Numbers written in national format are read in ``region``. We accept every *possible*
    number (right length for its country) rather than only *valid* ones, so that the
    fictional 555 numbers used throughout Twilio's documentation work.

    Parsing costs tens of microseconds and senders and recipients repeat, so results are
    cached (the function is pure).
    """
    if _NANP_E164.fullmatch(raw):
        return raw  # what phonenumbers answers for every +1 and ten digits, 20x faster
    try:
        parsed = phonenumbers.parse(raw, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


@lru_cache(maxsize=4096)
def region_of(e164: str) -> str | None:
    """The ISO region of an E.164 number (``US`` for ``+1…``), or None if unknown.

    Only senders need this (to read a national-format ``To``), and they are few: cached.
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    # The country's main region is what matters for reading national numbers (+1 → US).
    if parsed.country_code is None:
        return None
    found = phonenumbers.region_code_for_country_code(parsed.country_code)
    return None if found == phonenumbers.UNKNOWN_REGION else str(found)


def number_type(e164: str) -> str:
    """Twilio's ``type`` of a number: ``toll-free``, ``mobile`` or ``local``."""
    parsed = phonenumbers.parse(e164, None)
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.TOLL_FREE:
        return "toll-free"
    if kind == PhoneNumberType.MOBILE:
        return "mobile"
    return "local"


def friendly_format(e164: str) -> str:
    """Twilio's default ``friendly_name``: ``(501) 712-2661`` for +1, international otherwise."""
    parsed = phonenumbers.parse(e164, None)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return str(phonenumbers.format_number(parsed, style))


HTTP_METHODS = ("GET", "POST")


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """An IncomingPhoneNumber: a number one account owns, with its SMS webhooks."""

    sid: str
    account_sid: str
    phone_number: str
    friendly_name: str
    date_created: datetime
    date_updated: datetime
    sms_url: str | None = None
    sms_method: str = "POST"
    sms_fallback_url: str | None = None
    sms_fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    number_type: str = "local"
    # Stored as given; smsgate has no voice, but the SDK round-trips these fields.
    extra: dict[str, str] = field(default_factory=dict)
