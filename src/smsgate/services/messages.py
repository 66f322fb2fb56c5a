"""Use cases for the Message resource: create, fetch, list, redact, cancel, delete."""

from __future__ import annotations

import builtins
from collections.abc import Callable

from smsgate.clock import Clock
from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.dates import to_us
from smsgate.domain.dialects import MessageSearch
from smsgate.domain.messages import (
    FINAL,
    CreateRequest,
    Direction,
    Message,
    Status,
    validate_create,
)
from smsgate.domain.paging import Page, PageRequest
from smsgate.domain.pools import service_in_from
from smsgate.domain.scheduling import DEFAULT_MIN_LEAD
from smsgate.domain.senders import default_mps
from smsgate.errors import AccountNotActive, BadRequest, Conflict, NotFound, ValidationError
from smsgate.ids import is_sid, new_sid
from smsgate.services.pools import SendPlanner, status_callback
from smsgate.store.base import MessageFilter, Outcome, Store, UnknownCursor

Preflight = Callable[[str, str | None], tuple[int, str] | None]


class MessageService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        sender_mps: float | None = None,
        preflight: Preflight | None = None,
        open_senders: frozenset[str] = frozenset(),
        on_enqueued: Callable[[], None] | None = None,
        min_schedule_lead: float = DEFAULT_MIN_LEAD,
    ) -> None:
        """``sender_mps`` overrides every sender's rate (0 = unlimited); ``preflight`` lets the
        carrier refuse a message at create time (the simulator's magic numbers), and
        ``open_senders`` are senders any account may use (the simulator's always-valid one).
        """
        self._store = store
        self._clock = clock
        self._sender_mps = sender_mps
        self._preflight = preflight
        self._open_senders = open_senders
        self._on_enqueued = on_enqueued
        self._planner = SendPlanner(store, clock, min_schedule_lead=min_schedule_lead)

    async def create(self, account: Account, req: CreateRequest) -> Message:
        """Validate, store durably, and return a new outbound message (status ``queued``, or
        ``accepted``/``scheduled`` through a Messaging Service: smsgate.services.pools)."""
        if account.status is not AccountStatus.ACTIVE:
            raise AccountNotActive(f"Account {account.sid} is {account.status.value}.")
        req = service_in_from(req)
        valid = validate_create(req)
        if self._preflight is not None:
            refusal = self._preflight(valid.to, valid.from_)
            if refusal is not None:
                raise ValidationError(refusal[1], code=refusal[0])
        plan = await self._planner.plan(account, req, valid)
        valid = plan.valid
        number_type = None
        if valid.from_ is not None:
            owner = await self._store.find_number(valid.from_)
            owned = owner is not None and owner.account_sid == account.sid
            if not owned and valid.from_ not in self._open_senders:
                raise ValidationError(
                    f"The From phone number {valid.from_} is not a valid, SMS-capable inbound "
                    "phone number or short code for your account.",
                    code=21606,
                )
            number_type = owner.number_type if owner is not None else None
        # The recipient replied STOP to this sender, or to any number of its Messaging Service.
        for scope in (valid.messaging_service_sid, valid.from_):
            if scope is not None and await self._store.is_opted_out(scope, valid.to):
                raise ValidationError("Attempt to send to unsubscribed recipient", code=21610)
        now = self._clock.now()
        info = valid.segments
        message = Message(
            sid=new_sid("MM" if valid.media_urls else "SM", now_ms=to_us(now) // 1000),
            account_sid=account.sid,
            to=valid.to,
            from_=valid.from_,
            body=valid.body,
            status=plan.status,
            direction=Direction.OUTBOUND_API,
            num_segments=info.num_segments,
            num_media=len(valid.media_urls),
            date_created=now,
            date_updated=now,
            messaging_service_sid=valid.messaging_service_sid,
            status_callback=req.status_callback,
            validity_period=plan.validity_period,
            send_at=plan.send_at,
            encoding=info.encoding.value,
            media_urls=list(valid.media_urls),
            options=req.options,
        )
        sender = valid.from_ or ""
        mps = self._sender_mps if self._sender_mps is not None else default_mps(sender, number_type)
        if plan.unassigned:
            await self._store.insert_unassigned(message)  # no sender slot until it is due
        elif not await self._store.insert_outbound(message, mps):
            raise ValidationError(
                f"This 'From' number {sender} has exceeded the maximum number of queued "
                "messages (10 hours of its sending rate).",
                code=21611,
            )
        if self._on_enqueued is not None:
            self._on_enqueued()
        return message

    async def get(self, account: Account, sid: str) -> Message:
        message = await self._store.get_message(account.sid, sid) if _is_message_sid(sid) else None
        if message is None:
            raise NotFound()
        return message

    async def list(self, account: Account, flt: MessageFilter, page: PageRequest) -> Page[Message]:
        if flt.date_sent.empty:
            return Page([], False, page.cursor is not None or page.offset > 0)
        try:
            return await self._store.list_messages(account.sid, flt, page)
        except UnknownCursor:
            raise BadRequest("The PageToken does not belong to this list.", code=20001) from None

    async def count(self, account: Account, flt: MessageFilter) -> int:
        """How many messages ``list`` walks through with this filter."""
        if flt.date_sent.empty:
            return 0
        return await self._store.count_messages(account.sid, flt)

    async def search(self, account: Account, search: MessageSearch) -> builtins.list[Message]:
        """The v2 search (smsgate.domain.dialects): a creation window, oldest first."""
        return await self._store.search_messages(account.sid, search)

    async def update(
        self, account: Account, sid: str, body: str | None, status: str | None
    ) -> Message:
        """Redact (``Body=""``) or cancel (``Status=canceled``) a message."""
        if not _is_message_sid(sid):
            raise NotFound()
        if status is not None:
            return await self._cancel(account, sid, status)
        if body is not None:
            return await self._redact(account, sid, body)
        return await self.get(account, sid)

    async def _redact(self, account: Account, sid: str, body: str) -> Message:
        if body != "":
            raise BadRequest(
                "A message body can only be redacted: set Body to an empty string.", code=20001
            )
        outcome, message = await self._store.redact_message(
            account.sid, sid, FINAL, to_us(self._clock.now())
        )
        if outcome is Outcome.NOT_FOUND or message is None:
            raise NotFound()
        if outcome is Outcome.REFUSED:
            raise Conflict(
                f"Cannot redact message {sid} while it is {message.status.value}; "
                "wait until it reaches a final status.",
                code=20009,
            )
        return message

    async def _cancel(self, account: Account, sid: str, status: str) -> Message:
        if status != Status.CANCELED.value:
            raise BadRequest(f"Status can only be set to 'canceled', got '{status}'", code=20001)
        found = await self._store.get_message(account.sid, sid)
        callback = None
        if found is not None and found.status is Status.SCHEDULED:
            callback = await status_callback(self._store, found, Status.CANCELED)
        outcome, message = await self._store.cancel_message(
            account.sid, sid, to_us(self._clock.now()), callback=callback
        )
        if outcome is Outcome.NOT_FOUND or message is None:
            raise NotFound()
        if outcome is Outcome.REFUSED:
            raise Conflict("This message cannot be canceled", code=30409, status=400)
        return message

    async def delete(self, account: Account, sid: str) -> None:
        if not _is_message_sid(sid):
            raise NotFound()
        outcome, status = await self._store.delete_message(
            account.sid, sid, FINAL, to_us(self._clock.now())
        )
        if outcome is Outcome.NOT_FOUND:
            raise NotFound()
        if outcome is Outcome.REFUSED:
            raise Conflict(
                f"Cannot delete message {sid} while it is {status.value if status else ''}: "
                "a message can be deleted once it reaches a final status.",
                code=20009,
            )
        # Its media went with it; their content goes too unless another message has it.
        await self._store.collect_media()


def _is_message_sid(sid: str) -> bool:
    return is_sid(sid, "SM", "MM")
