"""Sending through a Messaging Service: the create-time plan and the dispatch-time sender.

At create time (``SendPlanner``) a message with a service is checked against the service
(21701, 21704, the scheduling window) and answered ``accepted`` (no ``From``), ``queued``
(a ``From`` was given) or ``scheduled``. A message without a sender takes no slot in any
sender's queue yet. When the worker claims it (at once, or at ``SendAt``), ``SenderAssigner``
picks a sender from the pool and the store moves the message to ``queued`` in that sender's
queue, with a ``queued`` status callback (see docs/architecture.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from smsgate.clock import Clock, TtlCache
from smsgate.domain.accounts import Account
from smsgate.domain.delivery import Callback, error_message, status_params
from smsgate.domain.messages import CreateRequest, Message, Status, ValidCreate, validate_create
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.pools import (
    Assignment,
    MessagingService,
    SenderOption,
    callback_target,
)
from smsgate.domain.scheduling import DEFAULT_MIN_LEAD, check_send_at
from smsgate.domain.senders import default_mps
from smsgate.errors import ValidationError
from smsgate.store.base import Store

logger = logging.getLogger(__name__)

UNASSIGNED = frozenset({Status.ACCEPTED, Status.SCHEDULED})
POOL_OVERLOAD = 30001  # Twilio: "Queue overflow", also a Messaging Service pool overload
EMPTY_POOL = 21704


def no_senders() -> ValidationError:
    return ValidationError("The Messaging Service contains no phone numbers", code=EMPTY_POOL)


# How long the delivery side uses a Messaging Service or number it read to resolve a status
# callback before it reads it again (TargetCache).
TARGET_TTL_US = 1_000_000


class TargetLookup(Protocol):
    """What resolving a status callback reads: the Store, or a TargetCache over it."""

    async def get_service(self, account_sid: str, sid: str) -> MessagingService | None: ...

    async def find_number(self, phone_number: str) -> PhoneNumber | None: ...


class TargetCache:
    """The Messaging Services and numbers that status callbacks resolve to, read once a
    ``ttl_us`` for every status change that needs them.

    The delivery side resolves a callback on every status change of a message without its
    own StatusCallback: three or four reads of the same sender's number per message, each a
    round trip on PostgreSQL, and in a worker process a read after another process's write
    (SQLite then rereads its pages). A service's or number's new StatusCallback therefore
    applies to status changes from at most ``ttl_us`` later (docs/compat.md).
    """

    def __init__(self, store: Store, clock: Clock, ttl_us: int = TARGET_TTL_US) -> None:
        self._store = store
        self._services: TtlCache[tuple[str, str], MessagingService] = TtlCache(clock, ttl_us)
        self._numbers: TtlCache[str, PhoneNumber] = TtlCache(clock, ttl_us)

    async def get_service(self, account_sid: str, sid: str) -> MessagingService | None:
        return await self._services.get(
            (account_sid, sid), lambda: self._store.get_service(account_sid, sid)
        )

    async def find_number(self, phone_number: str) -> PhoneNumber | None:
        return await self._numbers.get(phone_number, lambda: self._store.find_number(phone_number))


async def status_callback(
    store: TargetLookup,
    message: Message,
    status: Status,
    *,
    error_code: int | None = None,
    raw_done_date: str | None = None,
) -> Callback | None:
    """The status callback owed for ``message`` entering ``status`` (see callback_target)."""
    service = None
    if message.status_callback is None and message.messaging_service_sid:
        service = await store.get_service(message.account_sid, message.messaging_service_sid)
    number = None
    service_url = service is not None and service.status_callback
    if message.status_callback is None and message.from_ and not service_url:
        number = await store.find_number(message.from_)
    target = callback_target(message, service, number)
    if target is None:
        return None
    params = status_params(message, status, error_code=error_code, raw_done_date=raw_done_date)
    return Callback(message.account_sid, message.sid, "status", target[0], target[1], params)


@dataclass(frozen=True, slots=True)
class SendPlan:
    """How a new message goes out: its status, and the values its service supplies."""

    valid: ValidCreate
    status: Status  # queued (a sender is known), accepted (the pool picks) or scheduled
    send_at: datetime | None = None
    validity_period: int | None = None

    @property
    def unassigned(self) -> bool:
        """The message takes no sender slot now: a worker assigns one when it is due."""
        return self.status in UNASSIGNED


class SendPlanner:
    def __init__(self, store: Store, clock: Clock, *, min_schedule_lead: float = DEFAULT_MIN_LEAD):
        self._store = store
        self._clock = clock
        self._min_lead = min_schedule_lead

    async def plan(self, account: Account, req: CreateRequest, valid: ValidCreate) -> SendPlan:
        sid = valid.messaging_service_sid
        if sid is None:
            # Without a service Twilio drops ScheduleType/SendAt and sends at once.
            return SendPlan(valid, Status.QUEUED, None, valid.validity_period)
        service = await self._store.get_service(account.sid, sid)
        if service is None:
            raise ValidationError(f"The Messaging Service Sid {sid} is invalid.", code=21701)
        if service.smart_encoding and not req.smart_encoded:
            valid = validate_create(replace(req, smart_encoded=True))
        send_at = None
        if req.schedule_type == "fixed":
            send_at = check_send_at(req.send_at, self._clock.now(), min_lead=self._min_lead)
        pool = await self._store.pool_senders(service.sid)
        if valid.from_ is None and not pool:
            raise no_senders()
        if valid.from_ is not None and all(n.phone_number != valid.from_ for n in pool):
            # Twilio logs warning 21711 and sends from the given number all the same.
            logger.warning("21711: %s is not in the sender pool of %s", valid.from_, sid)
        if send_at is not None:
            status = Status.SCHEDULED
        else:
            status = Status.QUEUED if valid.from_ is not None else Status.ACCEPTED
        validity = valid.validity_period
        return SendPlan(
            valid, status, send_at, service.validity_period if validity is None else validity
        )


class SenderAssigner:
    """Gives a due ``accepted``/``scheduled`` message its sender, at dispatch time."""

    def __init__(self, store: Store, *, sender_mps: float | None = None) -> None:
        self._store = store
        self._sender_mps = sender_mps

    def _mps(self, sender: str, number_type: str | None) -> float:
        return (
            self._sender_mps if self._sender_mps is not None else default_mps(sender, number_type)
        )

    async def assign(self, message: Message, now_us: int) -> Message | None:
        """Apply the assignment; the message after it, or None if it was not due any more."""
        service = None
        if message.messaging_service_sid:
            service = await self._store.get_service(
                message.account_sid, message.messaging_service_sid
            )
        numbers: list[PhoneNumber]
        options: tuple[SenderOption, ...]
        if message.from_ is not None:
            # Scheduled with an explicit From: that sender, and only it.
            found = await self._store.find_number(message.from_)
            numbers = [found] if found is not None else []
            options = (SenderOption(message.from_, self._mps(message.from_, _type(found))),)
        else:
            numbers = await self._store.pool_senders(service.sid) if service is not None else []
            options = tuple(
                SenderOption(n.phone_number, self._mps(n.phone_number, n.number_type))
                for n in numbers
            )
        by_sender = {n.phone_number: n for n in numbers}

        def queued(after: Message) -> Callback | None:
            number = by_sender.get(after.from_ or "")
            target = callback_target(after, service, number)
            if target is None:
                return None
            params = status_params(after, Status.QUEUED)
            return Callback(after.account_sid, after.sid, "status", target[0], target[1], params)

        code = POOL_OVERLOAD if options else EMPTY_POOL
        text = error_message(code, "The Messaging Service contains no phone numbers") or ""
        failed = None
        if (target := callback_target(message, service, None)) is not None:
            params = status_params(message, Status.FAILED, error_code=code)
            failed = Callback(
                message.account_sid, message.sid, "status", target[0], target[1], params
            )
        sticky = service.sid if service is not None and service.sticky_sender else None
        return await self._store.assign_sender(
            Assignment(
                message.sid,
                now_us,
                options,
                sticky if message.from_ is None else None,
                queued,
                failed,
                code,
                text,
            )
        )


def _type(number: PhoneNumber | None) -> str | None:
    return None if number is None else number.number_type
