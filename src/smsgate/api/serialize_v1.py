"""Domain objects as Twilio's messaging v1 JSON.

v1 differs from 2010-04-01: dates are ISO 8601 (``2015-07-30T20:12:31Z``), resources carry
absolute ``url``/``links``, and a list has a ``meta`` object whose ``next_page_url`` the
SDKs follow as given. So every URL here is built from the host the request came to, which
keeps an SDK whose ``messaging.base_url`` points at smsgate on smsgate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from smsgate.domain.numbers import region_of
from smsgate.domain.paging import Cursor, Page, PageRequest
from smsgate.domain.pools import MessagingService, PoolNumber

T = TypeVar("T")
V1 = "/v1"

# Sub-resources Twilio links from every Service.
_LINKS = {
    "phone_numbers": "PhoneNumbers",
    "short_codes": "ShortCodes",
    "alpha_senders": "AlphaSenders",
    "messages": "Messages",
    "us_app_to_person": "Compliance/Usa2p",
    "us_app_to_person_usecases": "Compliance/Usa2p/Usecases",
    "channel_senders": "ChannelSenders",
    "destination_alpha_senders": "DestinationAlphaSenders",
}


def iso8601(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def service_json(s: MessagingService, base: str) -> dict[str, Any]:
    url = f"{base}{V1}/Services/{s.sid}"
    extra = s.extra
    return {
        "account_sid": s.account_sid,
        "area_code_geomatch": extra.get("AreaCodeGeomatch", True),
        "date_created": iso8601(s.date_created),
        "date_updated": iso8601(s.date_updated),
        "fallback_method": s.fallback_method,
        "fallback_to_long_code": extra.get("FallbackToLongCode", True),
        "fallback_url": s.fallback_url,
        "friendly_name": s.friendly_name,
        "inbound_method": s.inbound_method,
        "inbound_request_url": s.inbound_request_url,
        "links": {key: f"{url}/{path}" for key, path in _LINKS.items()},
        "mms_converter": extra.get("MmsConverter", True),
        "scan_message_content": extra.get("ScanMessageContent", "inherit"),
        "sid": s.sid,
        "smart_encoding": s.smart_encoding,
        "status_callback": s.status_callback,
        "sticky_sender": s.sticky_sender,
        "synchronous_validation": extra.get("SynchronousValidation", True),
        "url": url,
        "us_app_to_person_registered": False,
        "use_inbound_webhook_on_number": s.use_inbound_webhook_on_number,
        "usecase": extra.get("Usecase", "undeclared"),
        "validity_period": s.validity_period,
    }


def pool_number_json(n: PoolNumber, base: str) -> dict[str, Any]:
    return {
        "account_sid": n.account_sid,
        "capabilities": ["SMS", "MMS"],
        "country_code": region_of(n.phone_number),
        "date_created": iso8601(n.date_created),
        "date_updated": iso8601(n.date_updated),
        "phone_number": n.phone_number,
        "service_sid": n.service_sid,
        "sid": n.number_sid,
        "url": f"{base}{V1}/Services/{n.service_sid}/PhoneNumbers/{n.number_sid}",
    }


def v1_list_json(
    key: str,
    page: Page[T],
    request: PageRequest,
    url: str,
    to_json: Callable[[T], dict[str, Any]],
    sid_of: Callable[[T], str],
) -> dict[str, Any]:
    """A v1 list: the items under ``key`` and ``meta`` with absolute page URLs."""
    items = page.items
    size = request.page_size

    def page_url(page_no: int, cursor: Cursor | None) -> str:
        params = [("PageSize", str(size)), ("Page", str(page_no))]
        if cursor is not None:
            params.append(("PageToken", cursor.token))
        return f"{url}?{urlencode(params)}"

    next_url = None
    if page.has_next and items:
        next_url = page_url(request.page + 1, Cursor("after", sid_of(items[-1])))
    previous_url = None
    if page.has_previous and items and request.page > 0:
        previous_url = page_url(request.page - 1, Cursor("before", sid_of(items[0])))
    return {
        key: [to_json(item) for item in items],
        "meta": {
            "first_page_url": page_url(0, None),
            "key": key,
            "next_page_url": next_url,
            "page": request.page,
            "page_size": size,
            "previous_page_url": previous_url,
            "url": page_url(request.page, request.cursor),
        },
    }
