"""Messages as the v2 Properties search API shows them (seed 003).

PascalCase fields, the v2 vocabulary (smsgate.domain.dialects), timestamps as integer seconds
since the epoch (UTC) and ``null`` where a timestamp does not apply (docs/compat.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smsgate.domain.dates import to_us
from smsgate.domain.dialects import V2_DIRECTION, V2_STATUS
from smsgate.domain.messages import Direction, Message, Status

_DELIVERED = frozenset({Status.DELIVERED, Status.READ})


def epoch(moment: datetime | None) -> int | None:
    return None if moment is None else to_us(moment) // 1_000_000


def v2_message_json(m: Message) -> dict[str, Any]:
    inbound = m.direction is Direction.INBOUND
    return {
        "MessageSid": m.sid,
        "AccountSid": m.account_sid,
        "PropertySid": m.messaging_service_sid or m.account_sid,
        "From": m.from_,
        "To": m.to,
        "Text": m.body,
        # smsgate asks its carriers for a receipt for every outbound message.
        "DeliveryReceipt": not inbound,
        # As num_segments in 2010-04-01: 0 until a Messaging Service has picked the sender.
        "NumSegments": m.num_segments if m.from_ is not None else 0,
        "Status": V2_STATUS[m.status].value,
        "Direction": V2_DIRECTION[m.direction].value,
        "Scheduled": epoch(m.send_at),
        "Created": epoch(m.date_created),
        "Submitted": None if inbound else epoch(m.date_sent),
        "Delivered": epoch(m.date_updated) if m.status in _DELIVERED else None,
        "Received": epoch(m.date_created) if inbound else None,
        "ErrorCode": None if m.error_code is None else str(m.error_code),
    }
