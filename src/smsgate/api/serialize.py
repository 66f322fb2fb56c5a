"""Domain objects as Twilio's 2010-04-01 fields: names, types, dates, URIs.

Each serializer returns the JSON body of a resource; ``smsgate.api.render`` turns it into the
representation asked for (JSON, XML or CSV). ``ext`` is the suffix of the URIs inside the body
(``.json``, ``""`` for XML, ``.csv``), so a client that follows them stays in its
representation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from smsgate.api.paths import ROOT
from smsgate.api.render import Kind, paging_json
from smsgate.api.render.json_body import response as json_response
from smsgate.domain.accounts import Account, ApiKey
from smsgate.domain.dates import rfc2822
from smsgate.domain.media import Feedback, Media
from smsgate.domain.messages import API_VERSION, Message
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.paging import Page, PageRequest

T = TypeVar("T")
__all__ = ["json_response"]

# The subresources Twilio lists on every Account, as in the API definition.
_ACCOUNT_SUBRESOURCES = {
    "addresses": "Addresses",
    "conferences": "Conferences",
    "signing_keys": "SigningKeys",
    "transcriptions": "Transcriptions",
    "connect_apps": "ConnectApps",
    "sip": "SIP",
    "authorized_connect_apps": "AuthorizedConnectApps",
    "usage": "Usage",
    "keys": "Keys",
    "applications": "Applications",
    "recordings": "Recordings",
    "short_codes": "SMS/ShortCodes",
    "calls": "Calls",
    "notifications": "Notifications",
    "incoming_phone_numbers": "IncomingPhoneNumbers",
    "queues": "Queues",
    "messages": "Messages",
    "outgoing_caller_ids": "OutgoingCallerIds",
    "available_phone_numbers": "AvailablePhoneNumbers",
    "balance": "Balance",
}


def account_json(a: Account, ext: str = ".json") -> dict[str, Any]:
    base = f"{ROOT}/Accounts/{a.sid}"
    return {
        "auth_token": a.auth_token,
        "date_created": rfc2822(a.date_created),
        "date_updated": rfc2822(a.date_updated),
        "friendly_name": a.friendly_name,
        "owner_account_sid": a.owner_account_sid,
        "sid": a.sid,
        "status": a.status.value,
        "subresource_uris": {k: f"{base}/{v}{ext}" for k, v in _ACCOUNT_SUBRESOURCES.items()},
        "type": "Full",
        "uri": f"{base}{ext}",
    }


def key_json(k: ApiKey, ext: str = ".json", secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date_created": rfc2822(k.date_created),
        "date_updated": rfc2822(k.date_updated),
        "friendly_name": k.friendly_name,
        "sid": k.sid,
    }
    if secret is not None:
        body["secret"] = secret
    return body


def number_json(n: PhoneNumber, ext: str = ".json") -> dict[str, Any]:
    extra = n.extra
    return {
        "account_sid": n.account_sid,
        "address_requirements": "none",
        "address_sid": extra.get("AddressSid"),
        "api_version": API_VERSION,
        "beta": False,
        "bundle_sid": extra.get("BundleSid"),
        "capabilities": {"fax": False, "mms": True, "sms": True, "voice": False},
        "date_created": rfc2822(n.date_created),
        "date_updated": rfc2822(n.date_updated),
        "emergency_address_sid": extra.get("EmergencyAddressSid"),
        "emergency_address_status": "unregistered",
        "emergency_status": extra.get("EmergencyStatus", "Inactive"),
        "friendly_name": n.friendly_name,
        "identity_sid": extra.get("IdentitySid"),
        "origin": "twilio",
        "phone_number": n.phone_number,
        "sid": n.sid,
        "sms_application_sid": extra.get("SmsApplicationSid", ""),
        "sms_fallback_method": n.sms_fallback_method,
        "sms_fallback_url": n.sms_fallback_url or "",
        "sms_method": n.sms_method,
        "sms_url": n.sms_url or "",
        "status": "in-use",
        "status_callback": n.status_callback or "",
        "status_callback_method": n.status_callback_method,
        "trunk_sid": extra.get("TrunkSid"),
        "type": n.number_type,
        "uri": f"{ROOT}/Accounts/{n.account_sid}/IncomingPhoneNumbers/{n.sid}{ext}",
        "voice_application_sid": extra.get("VoiceApplicationSid", ""),
        "voice_caller_id_lookup": extra.get("VoiceCallerIdLookup", "false") == "true",
        "voice_fallback_method": extra.get("VoiceFallbackMethod", "POST"),
        "voice_fallback_url": extra.get("VoiceFallbackUrl", ""),
        "voice_method": extra.get("VoiceMethod", "POST"),
        "voice_receive_mode": extra.get("VoiceReceiveMode", "voice"),
        "voice_url": extra.get("VoiceUrl", ""),
    }


def message_json(m: Message, ext: str = ".json") -> dict[str, Any]:
    base = f"{ROOT}/Accounts/{m.account_sid}/Messages/{m.sid}"
    return {
        "account_sid": m.account_sid,
        "api_version": API_VERSION,
        "body": m.body,
        "date_created": rfc2822(m.date_created),
        "date_sent": rfc2822(m.date_sent),
        "date_updated": rfc2822(m.date_updated),
        "direction": m.direction.value,
        "error_code": m.error_code,
        "error_message": m.error_message,
        "from": m.from_,
        "messaging_service_sid": m.messaging_service_sid,
        "num_media": str(m.num_media),
        # Twilio: 0 until a Messaging Service has picked the sender (the count may depend on it).
        "num_segments": str(m.num_segments if m.from_ is not None else 0),
        "price": m.price,
        "price_unit": m.price_unit,
        "sid": m.sid,
        "status": m.status.value,
        "subresource_uris": {"media": f"{base}/Media{ext}", "feedback": f"{base}/Feedback{ext}"},
        "to": m.to,
        "uri": f"{base}{ext}",
    }


def list_json(
    key: str,
    page: Page[T],
    request: PageRequest,
    path: str,
    filters: Sequence[tuple[str, str]],
    to_json: Callable[[T], dict[str, Any]],
    sid_of: Callable[[T], str],
) -> dict[str, Any]:
    """Twilio's JSON list envelope (what ``smsgate.api.render`` answers for ``.json``)."""
    paging = paging_json(page, request, path, filters, sid_of)
    return {key: [to_json(item) for item in page.items], **paging}


# The CSV columns of each resource: its fields that are not nested objects, in order
# (tests/unit/test_representations.py checks them against the serializers).
ACCOUNT_COLUMNS = (
    "auth_token", "date_created", "date_updated", "friendly_name", "owner_account_sid", "sid",
    "status", "type", "uri",
)  # fmt: skip
KEY_COLUMNS = ("date_created", "date_updated", "friendly_name", "sid")
NUMBER_COLUMNS = (
        "account_sid", "address_requirements", "address_sid", "api_version", "beta",
        "bundle_sid", "date_created", "date_updated", "emergency_address_sid",
        "emergency_address_status", "emergency_status", "friendly_name", "identity_sid",
        "origin", "phone_number", "sid", "sms_application_sid", "sms_fallback_method",
        "sms_fallback_url", "sms_method", "sms_url", "status", "status_callback",
        "status_callback_method", "trunk_sid", "type", "uri", "voice_application_sid",
        "voice_caller_id_lookup", "voice_fallback_method", "voice_fallback_url",
        "voice_method", "voice_receive_mode", "voice_url",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "account_sid", "api_version", "body", "date_created", "date_sent", "date_updated",
    "direction", "error_code", "error_message", "from", "messaging_service_sid", "num_media",
    "num_segments", "price", "price_unit", "sid", "status", "to", "uri",
)  # fmt: skip

ACCOUNTS = Kind("accounts", "Accounts", "Account", account_json, lambda a: a.sid, ACCOUNT_COLUMNS)
KEYS = Kind("keys", "Keys", "Key", key_json, lambda k: k.sid, KEY_COLUMNS)
NUMBERS = Kind(
    "incoming_phone_numbers",
    "IncomingPhoneNumbers",
    "IncomingPhoneNumber",
    number_json,
    lambda n: n.sid,
    NUMBER_COLUMNS,
)
MESSAGES = Kind("messages", "Messages", "Message", message_json, lambda m: m.sid, MESSAGE_COLUMNS)


def media_json(m: Media, ext: str = ".json") -> dict[str, Any]:
    return {
        "account_sid": m.account_sid,
        "content_type": m.content_type,
        "date_created": rfc2822(m.date_created),
        "date_updated": rfc2822(m.date_updated),
        "parent_sid": m.message_sid,
        "sid": m.sid,
        "uri": f"{ROOT}/Accounts/{m.account_sid}/Messages/{m.message_sid}/Media/{m.sid}{ext}",
    }


def feedback_json(f: Feedback, ext: str = ".json") -> dict[str, Any]:
    return {
        "account_sid": f.account_sid,
        "date_created": rfc2822(f.date_created),
        "date_updated": rfc2822(f.date_updated),
        "message_sid": f.message_sid,
        "outcome": f.outcome,
        "uri": f"{ROOT}/Accounts/{f.account_sid}/Messages/{f.message_sid}/Feedback{ext}",
    }


MEDIA_COLUMNS = (
    "account_sid", "content_type", "date_created", "date_updated", "parent_sid", "sid", "uri",
)  # fmt: skip
FEEDBACK_COLUMNS = (
    "account_sid", "date_created", "date_updated", "message_sid", "outcome", "uri",
)  # fmt: skip
MEDIA = Kind("media_list", "MediaList", "Media", media_json, lambda m: m.sid, MEDIA_COLUMNS)
FEEDBACK = Kind(
    "feedback",
    "MessageFeedbacks",
    "MessageFeedback",
    feedback_json,
    lambda f: f.message_sid,
    FEEDBACK_COLUMNS,
)
