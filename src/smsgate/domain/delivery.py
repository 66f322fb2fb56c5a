"""What moves a message: delivery jobs, status transitions, and the callbacks they owe.

A status change, the callback it triggers and what happens to the delivery job are one
``Transition``, applied atomically by the store: a crash can never record a status without
its callback, or send a callback for a status that was not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from smsgate.domain.media import MEDIA_ERRORS
from smsgate.domain.messages import API_VERSION, Message, Status
from smsgate.domain.values import value


@value
class DeliveryJob:
    """A claimed outbound message: who sends it, how big it is, which attempt this is."""

    message_sid: str
    account_sid: str
    sender: str
    segments: int
    attempt: int
    expires_us: int


@value
class Callback:
    """A webhook request owed to the user: a status callback or an inbound-message webhook."""

    account_sid: str
    message_sid: str
    kind: str  # "status" or "inbound"
    url: str  # may end in a #fragment of connection overrides
    method: str
    params: tuple[tuple[str, str], ...]
    fallback_url: str | None = None
    fallback_method: str = "POST"


@value
class ClaimedCallback:
    id: int
    callback: Callback
    attempt: int


@value
class CallbackAttempt:
    """One try at a webhook, as logged."""

    callback_id: int
    attempt: int
    url: str
    started_us: int
    duration_ms: int
    status_code: int | None
    error: str | None
    response_head: str


@value
class CallbackResult:
    """What became of a claimed callback: due again at ``retry_at_us``, or finished
    (``succeeded`` says whether the receiver answered 2xx). ``fallback`` is the request to
    the fallback URL made after ``attempt`` failed, if any."""

    attempt: CallbackAttempt
    succeeded: bool
    retry_at_us: int | None = None
    fallback: CallbackAttempt | None = None


class JobAction(Enum):
    KEEP = "keep"  # the message stays in the delivery queue (leased)
    DONE = "done"  # the message left the queue: its sender's slot is released
    RETRY = "retry"  # back to the queue, claimable again at ``retry_at_us``


@value
class CallbackLease:
    """Insert a status change's callback already leased to ``owner`` until ``until_us``,
    when no earlier callback of its message is still in the outbox: that process sends it
    at once, with no claim (the webhook sender's ``take``)."""

    owner: str
    until_us: int


@value
class Transition:
    """Move a message from one of ``allowed_from`` to ``status``, atomically."""

    message_sid: str
    allowed_from: frozenset[Status]
    status: Status
    now_us: int
    date_sent_us: int | None = None
    error_code: int | None = None
    error_message: str | None = None
    carrier_id: str | None = None
    price: str | None = None
    price_unit: str | None = None
    job: JobAction = JobAction.KEEP
    retry_at_us: int | None = None
    attempt: int | None = None
    callback: Callback | None = None
    # the carrier's ids of every part (``carrier_id`` alone stands for a one-part message)
    part_ids: tuple[str, ...] = ()
    num_segments: int | None = None  # the parts the carrier really sent, when it differs
    receipt_due_us: int | None = None  # a ``sent`` message waits for its receipt until then
    lease: CallbackLease | None = None  # insert ``callback`` leased, if it is its message's first


# statuses after which no receipt is awaited any more
RECEIPT_SETTLED = frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.CANCELED})


@dataclass(frozen=True, slots=True)
class SubmitProgress:
    """The parts of a split message the carrier has confirmed so far (their carrier ids,
    in order) and the concatenation reference they were sent with."""

    ref: int
    part_ids: tuple[str, ...]


@value
class CarrierRef:
    """What a carrier's id stands for: part ``part`` of ``parts`` of a message."""

    carrier_id: str
    message_sid: str
    part: int = 1
    parts: int = 1


@dataclass(frozen=True, slots=True)
class CarrierPart:
    """One part of a message as a carrier acknowledged it: its id and its receipt state
    (``sent`` until a receipt for that part arrives)."""

    carrier_id: str
    part: int
    parts: int
    state: str
    created_us: int


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status a message took: when (the message's ``date_updated`` of that change) and
    the error code the change carried, if any."""

    status: Status
    at_us: int
    error_code: int | None = None


@dataclass(frozen=True, slots=True)
class ParkedReceipt:
    """A receipt that matched no carrier id when it came, kept for a later match.
    ``carrier_ids`` are the forms its id may have been stored under."""

    carrier_ids: tuple[str, ...]
    status: str  # delivered, undelivered or failed
    error_code: int | None
    done_date: str | None  # RawDlrDoneDate, YYMMDDhhmm
    received_us: int


@dataclass(frozen=True, slots=True)
class MoPart:
    """One part of a concatenated inbound message, as received from a carrier."""

    carrier: str
    source: str
    destination: str
    ref: int
    total: int
    seq: int
    body: str
    received_us: int


def combined_status(states: list[str]) -> str | None:
    """The status a split message takes from its parts' receipts: the first part that
    failed decides; all delivered is delivered; otherwise it is still on its way (None)."""
    for state in states:
        if state in ("undelivered", "failed"):
            return state
    if states and all(state == "delivered" for state in states):
        return "delivered"
    return None


def raw_dlr_done_date(done: datetime | None) -> str | None:
    """Twilio's ``RawDlrDoneDate``: the receipt's done date as ``YYMMDDhhmm``."""
    return None if done is None else done.strftime("%y%m%d%H%M")


def status_params(
    message: Message,
    status: Status,
    *,
    error_code: int | None = None,
    raw_done_date: str | None = None,
) -> tuple[tuple[str, str], ...]:
    """The form parameters of a status callback, as Twilio sends them."""
    params = [
        ("MessageSid", message.sid),
        ("MessageStatus", status.value),
        ("SmsSid", message.sid),
        ("SmsStatus", status.value),
        ("AccountSid", message.account_sid),
        ("From", message.from_ or ""),
        ("To", message.to),
        ("ApiVersion", API_VERSION),
    ]
    if message.messaging_service_sid:
        params.append(("MessagingServiceSid", message.messaging_service_sid))
    if status in (Status.FAILED, Status.UNDELIVERED) and error_code is not None:
        params.append(("ErrorCode", str(error_code)))
    if status in (Status.DELIVERED, Status.UNDELIVERED) and raw_done_date:
        params.append(("RawDlrDoneDate", raw_done_date))
    return tuple(params)


ERROR_MESSAGES = {
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    30011: "MMS not supported by the receiving phone number in this region",
    30036: "Validity Period Expired",
    **MEDIA_ERRORS,
}


def error_message(code: int | None, fallback: str | None = None) -> str | None:
    if code is None:
        return None
    return ERROR_MESSAGES.get(code, fallback or "Unknown error")
