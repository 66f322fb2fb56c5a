"""The vocabularies of the other two API surfaces over the same messages.

Messages are stored once, in Twilio's current vocabulary (``smsgate.domain.messages``). The
legacy ``SMS/Messages`` resource (2010-04-01, deprecated by Twilio) and the v2 Properties
search API name statuses and directions differently; these tables translate, and
docs/compat.md shows them. Every stored status and direction has exactly one translation in
each (tests/unit/test_dialects.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from smsgate.domain.messages import Direction, Status

# -- legacy SMS/Messages -----------------------------------------------------------------------

# The legacy resource knows queued, sending, sent, failed and received.
LEGACY_STATUS: dict[Status, str] = {
    Status.ACCEPTED: "queued",
    Status.SCHEDULED: "queued",
    Status.QUEUED: "queued",
    Status.SENDING: "sending",
    Status.SENT: "sent",
    Status.DELIVERED: "sent",
    Status.READ: "sent",
    Status.PARTIALLY_DELIVERED: "sent",
    Status.UNDELIVERED: "failed",
    Status.FAILED: "failed",
    Status.CANCELED: "failed",
    Status.RECEIVING: "received",
    Status.RECEIVED: "received",
}

LEGACY_DIRECTION: dict[Direction, str] = {
    Direction.INBOUND: "incoming",
    Direction.OUTBOUND_API: "outbound-api",
    Direction.OUTBOUND_CALL: "outbound-call",
    Direction.OUTBOUND_REPLY: "outbound-reply",
}

# -- v2 Properties search ----------------------------------------------------------------------


class V2Status(StrEnum):
    PROCESSING = "Processing"
    SUBMITTED = "Submitted"
    DELIVERED = "Delivered"
    FAILED = "Failed"
    RECEIVED = "Received"


class V2Direction(StrEnum):
    TRANSMIT = "Transmit"
    RECEIVE = "Receive"


V2_STATUS: dict[Status, V2Status] = {
    Status.ACCEPTED: V2Status.PROCESSING,
    Status.SCHEDULED: V2Status.PROCESSING,
    Status.QUEUED: V2Status.PROCESSING,
    Status.SENDING: V2Status.PROCESSING,
    Status.SENT: V2Status.SUBMITTED,
    # The carrier took it but confirmed only some parts: submitted, not delivered.
    Status.PARTIALLY_DELIVERED: V2Status.SUBMITTED,
    Status.DELIVERED: V2Status.DELIVERED,
    Status.READ: V2Status.DELIVERED,
    Status.FAILED: V2Status.FAILED,
    Status.UNDELIVERED: V2Status.FAILED,
    Status.CANCELED: V2Status.FAILED,
    Status.RECEIVING: V2Status.RECEIVED,
    Status.RECEIVED: V2Status.RECEIVED,
}

V2_DIRECTION: dict[Direction, V2Direction] = {
    Direction.INBOUND: V2Direction.RECEIVE,
    Direction.OUTBOUND_API: V2Direction.TRANSMIT,
    Direction.OUTBOUND_CALL: V2Direction.TRANSMIT,
    Direction.OUTBOUND_REPLY: V2Direction.TRANSMIT,
}


def statuses_for(status: V2Status) -> frozenset[Status]:
    """The stored statuses a v2 ``Status`` filter stands for."""
    return frozenset(s for s, v2 in V2_STATUS.items() if v2 is status)


def directions_for(direction: V2Direction) -> frozenset[Direction]:
    return frozenset(d for d, v2 in V2_DIRECTION.items() if v2 is direction)


# The most messages one v2 search returns (``Results_Count`` above it is capped to it).
MAX_RESULTS = 1000
DEFAULT_RESULTS = 200


@dataclass(frozen=True, slots=True)
class MessageSearch:
    """A v2 search: creation time in ``[created_from_us, created_to_us)``, oldest first.

    ``service_sid`` None searches the whole account; statuses/directions None match all.
    """

    created_from_us: int
    created_to_us: int
    service_sid: str | None = None
    statuses: frozenset[Status] | None = None
    directions: frozenset[Direction] | None = None
    limit: int = DEFAULT_RESULTS
    skip: int = 0
