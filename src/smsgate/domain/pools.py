"""Messaging Services: the entity, its sender pool, and how a pool picks a sender.

A Messaging Service (``MG…``) belongs to one account and owns a pool of that account's phone
numbers; a number is in at most one pool. A message sent with a service and no ``From`` is
``accepted`` without a sender; the delivery worker later picks one from the pool
(``choose_sender``) and takes a slot in that sender's queue, exactly as a message sent from
that number directly would (smsgate.domain.senders).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from smsgate.domain.delivery import Callback
from smsgate.domain.messages import MAX_VALIDITY, CreateRequest, Message
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.senders import SenderState, Slot, take_slot
from smsgate.ids import is_sid

# Twilio: "By default, a Messaging Service can contain up to a total of 400 Twilio phone
# numbers and short codes" (error 21714).
MAX_POOL = 400


@dataclass(frozen=True, slots=True)
class MessagingService:
    """A Messaging Service as stored. Fields smsgate does not act on live in ``extra``."""

    sid: str
    account_sid: str
    friendly_name: str
    date_created: datetime
    date_updated: datetime
    inbound_request_url: str | None = None
    inbound_method: str = "POST"
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    sticky_sender: bool = True
    smart_encoding: bool = True
    validity_period: int = MAX_VALIDITY
    use_inbound_webhook_on_number: bool = False
    # MmsConverter, ScanMessageContent, FallbackToLongCode, AreaCodeGeomatch,
    # SynchronousValidation, Usecase: kept and returned so SDK round-trips hold.
    extra: dict[str, str | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PoolNumber:
    """One phone number in a service's sender pool (messaging v1 ``PhoneNumber``)."""

    service_sid: str
    account_sid: str
    number_sid: str
    phone_number: str
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class SenderOption:
    """A sender the pool may use, and its rate in segments per second (0 = unlimited)."""

    sender: str
    mps: float


@dataclass(frozen=True, slots=True)
class Assignment:
    """Give an ``accepted`` or ``scheduled`` message its sender and a slot in its queue.

    The store applies it atomically: it reads the senders' queues and the sticky sender,
    calls ``choose_sender``, then moves the message to ``queued`` with ``from`` set, moves the
    delivery job to the chosen sender's slot and records the ``queued`` callback. When no
    option has room the message fails with ``error_code`` (and ``failed`` is recorded).
    """

    message_sid: str
    now_us: int
    options: tuple[SenderOption, ...]
    sticky_service: str | None  # remember and reuse the sender per (service, To)
    queued: Callable[[Message], Callback | None]
    failed: Callback | None
    error_code: int
    error_message: str


def choose_sender(
    options: Sequence[SenderOption],
    states: dict[str, SenderState],
    sticky: str | None,
    now_us: int,
    segments: int,
) -> tuple[str, Slot] | None:
    """The sender a pool uses for a message of ``segments``, and its slot; None when full.

    The sticky sender is kept while its queue has room (Twilio's Sticky Sender). Otherwise
    the sender whose next slot comes first wins (the least loaded), then the one with the
    fewest queued segments, then pool order, so an idle pool spreads messages over its
    numbers and a busy one never puts a message behind a longer queue than needed.
    """
    best: tuple[tuple[int, int, int], str, Slot] | None = None
    for rank, option in enumerate(options):
        state = states.get(option.sender, SenderState())
        slot = take_slot(state, now_us, segments, option.mps)
        if slot is None:
            continue
        if option.sender == sticky:
            return option.sender, slot
        key = (slot.due_us, state.queued_segments, rank)
        if best is None or key < best[0]:
            best = (key, option.sender, slot)
    return None if best is None else (best[1], best[2])


def callback_target(
    message: Message, service: MessagingService | None, number: PhoneNumber | None
) -> tuple[str, str] | None:
    """Where a message's status callbacks go, and with which method.

    The message's own ``StatusCallback`` wins, then its Messaging Service's (always POST),
    then the ``StatusCallback`` of the number it is sent from.
    """
    if message.status_callback:
        return message.status_callback, "POST"
    if service is not None and service.status_callback:
        return service.status_callback, "POST"
    if number is not None and number.status_callback:
        return number.status_callback, number.status_callback_method
    return None


@dataclass(frozen=True, slots=True)
class InboundTarget:
    """Where an inbound message's webhook goes: the URL and method, and the fallback."""

    url: str
    method: str
    fallback_url: str | None
    fallback_method: str


def inbound_target(number: PhoneNumber, service: MessagingService | None) -> InboundTarget | None:
    """The webhook for a message received by ``number`` (in ``service``'s pool, if any).

    A number outside any service uses its own ``SmsUrl``/``SmsFallbackUrl``. In a service the
    service's ``InboundRequestUrl``/``FallbackUrl`` win, unless the service sets
    ``UseInboundWebhookOnNumber``; a service without an ``InboundRequestUrl`` requests nothing
    (Twilio: "When this property is null, receiving inbound messages is disabled"), whatever
    the number says. None when there is nothing to request.
    """
    if service is None or service.use_inbound_webhook_on_number:
        if not number.sms_url:
            return None
        return InboundTarget(
            number.sms_url,
            number.sms_method,
            number.sms_fallback_url or None,
            number.sms_fallback_method,
        )
    if not service.inbound_request_url:
        return None
    return InboundTarget(
        service.inbound_request_url,
        service.inbound_method,
        service.fallback_url or None,
        service.fallback_method,
    )


def service_in_from(req: CreateRequest) -> CreateRequest:
    """Twilio accepts a Messaging Service SID in ``From`` (error 35118's page): read it so."""
    sid = req.from_
    if sid is None or not is_sid(sid, "MG"):
        return req
    if req.messaging_service_sid not in (None, sid):
        return req  # two different services: From fails as an invalid sender (21212)
    return replace(req, from_=None, messaging_service_sid=sid)
