"""Domain objects as Twilio's 2010-04-01 JSON: field names, types, dates, URIs, paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlencode

import orjson
from starlette.responses import Response

from smsgate.api.paths import ROOT
from smsgate.domain.accounts import Account, ApiKey
from smsgate.domain.dates import rfc2822
from smsgate.domain.messages import API_VERSION, Message
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.paging import Cursor, Page, PageRequest

T = TypeVar("T")
JSON = "application/json; charset=utf-8"

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


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def account_json(a: Account) -> dict[str, Any]:
    base = f"{ROOT}/Accounts/{a.sid}"
    return {
        "auth_token": a.auth_token,
        "date_created": rfc2822(a.date_created),
        "date_updated": rfc2822(a.date_updated),
        "friendly_name": a.friendly_name,
        "owner_account_sid": a.owner_account_sid,
        "sid": a.sid,
        "status": a.status.value,
        "subresource_uris": {k: f"{base}/{v}.json" for k, v in _ACCOUNT_SUBRESOURCES.items()},
        "type": "Full",
        "uri": f"{base}.json",
    }


def key_json(k: ApiKey, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date_created": rfc2822(k.date_created),
        "date_updated": rfc2822(k.date_updated),
        "friendly_name": k.friendly_name,
        "sid": k.sid,
    }
    if secret is not None:
        body["secret"] = secret
    return body


def number_json(n: PhoneNumber) -> dict[str, Any]:
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
        "uri": f"{ROOT}/Accounts/{n.account_sid}/IncomingPhoneNumbers/{n.sid}.json",
        "voice_application_sid": extra.get("VoiceApplicationSid", ""),
        "voice_caller_id_lookup": extra.get("VoiceCallerIdLookup", "false") == "true",
        "voice_fallback_method": extra.get("VoiceFallbackMethod", "POST"),
        "voice_fallback_url": extra.get("VoiceFallbackUrl", ""),
        "voice_method": extra.get("VoiceMethod", "POST"),
        "voice_receive_mode": extra.get("VoiceReceiveMode", "voice"),
        "voice_url": extra.get("VoiceUrl", ""),
    }


def message_json(m: Message) -> dict[str, Any]:
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
        "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
        "to": m.to,
        "uri": f"{base}.json",
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
    """Twilio's list envelope, with relative URIs that keep SDKs on this server."""
    items = page.items
    start = request.page * request.page_size
    size = request.page_size

    # Encoded once: every URI of the envelope shares the filters and the page size.
    head = f"{path}?{urlencode([*filters, ('PageSize', str(size))])}&Page="

    def uri(page_no: int, cursor: Cursor | None) -> str:
        if cursor is None:
            return f"{head}{page_no}"
        return f"{head}{page_no}&PageToken={quote_plus(cursor.token)}"

    next_uri = None
    if page.has_next and items:
        next_uri = uri(request.page + 1, Cursor("after", sid_of(items[-1])))
    previous_uri = None
    if page.has_previous and items and request.page > 0:
        previous_uri = uri(request.page - 1, Cursor("before", sid_of(items[0])))
    return {
        key: [to_json(item) for item in items],
        "end": start + max(len(items) - 1, 0),
        "first_page_uri": uri(0, None),
        "next_page_uri": next_uri,
        "page": request.page,
        "page_size": size,
        "previous_page_uri": previous_uri,
        "start": start,
        "uri": uri(request.page, request.cursor),
    }
