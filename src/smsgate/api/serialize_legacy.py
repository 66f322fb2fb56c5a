"""Messages as the legacy ``SMS/Messages`` resource shows them (seed 000).

The fields, vocabulary (smsgate.domain.dialects) and list envelope of Twilio's deprecated
resource: ``page``, ``num_pages``, ``page_size``, ``total``, ``start``, ``end`` and the
``*_page_uri`` fields, with ``Page``/``PageSize`` URIs as the seed shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from smsgate.api.paths import ROOT
from smsgate.api.render import Kind
from smsgate.domain.dates import rfc2822
from smsgate.domain.dialects import LEGACY_DIRECTION, LEGACY_STATUS
from smsgate.domain.messages import API_VERSION, Message


def sms_message_json(m: Message, ext: str = ".json") -> dict[str, Any]:
    return {
        "sid": m.sid,
        "date_created": rfc2822(m.date_created),
        "date_updated": rfc2822(m.date_updated),
        "date_sent": rfc2822(m.date_sent),
        "account_sid": m.account_sid,
        "to": m.to,
        "from": m.from_,
        "body": m.body,
        "status": LEGACY_STATUS[m.status],
        "direction": LEGACY_DIRECTION[m.direction],
        "api_version": API_VERSION,
        "price": m.price,
        "uri": f"{ROOT}/Accounts/{m.account_sid}/SMS/Messages/{m.sid}{ext}",
    }


SMS_MESSAGE_COLUMNS = (
    "sid", "date_created", "date_updated", "date_sent", "account_sid", "to", "from", "body",
    "status", "direction", "api_version", "price", "uri",
)  # fmt: skip

SMS_MESSAGES = Kind(
    "sms_messages", "SMSMessages", "SMSMessage", sms_message_json, lambda m: m.sid,
    SMS_MESSAGE_COLUMNS,
)  # fmt: skip


def legacy_paging(
    path: str,
    filters: Sequence[tuple[str, str]],
    asked: Sequence[tuple[str, str]],
    page: int,
    page_size: int,
    total: int,
    count: int,
) -> dict[str, Any]:
    """The legacy envelope, in the seed's attribute order; ``count`` rows on this page.

    ``uri`` is this page as asked (the filters, then ``Page``/``PageSize`` if they were
    given: ``asked``); the other URIs always name the page and its size.
    """
    num_pages = -(-total // page_size)
    last = max(num_pages - 1, 0)

    def uri(n: int) -> str:
        return f"{path}?{urlencode([*filters, ('Page', str(n)), ('PageSize', str(page_size))])}"

    start = page * page_size
    return {
        "page": page,
        "num_pages": num_pages,
        "page_size": page_size,
        "total": total,
        "start": start,
        "end": start + max(count - 1, 0),
        "uri": f"{path}?{urlencode([*filters, *asked])}" if filters or asked else path,
        "first_page_uri": uri(0),
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "next_page_uri": uri(page + 1) if page < last else None,
        "last_page_uri": uri(last),
    }
