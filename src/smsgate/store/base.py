"""The persistence port. Services depend on this Protocol only; adapters implement it.

Every method is a single atomic unit: when it returns, what it wrote is durably committed
(the SQLite adapter commits in groups with ``synchronous=FULL``; PostgreSQL commits per
transaction). Conditional changes (redact, delete) are checked and applied atomically inside
the store so that a concurrent status change can never slip between the check and the write.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from smsgate.domain.accounts import Account, AccountStatus, ApiKey
from smsgate.domain.dates import DateRange
from smsgate.domain.delivery import (
    Callback,
    CallbackAttempt,
    CallbackResult,
    CarrierPart,
    CarrierRef,
    ClaimedCallback,
    DeliveryJob,
    MoPart,
    ParkedReceipt,
    StatusChange,
    SubmitProgress,
    Transition,
)
from smsgate.domain.dialects import MessageSearch
from smsgate.domain.inbound import InboundRecord, QueuedReply
from smsgate.domain.media import Feedback, Media, StagedFile
from smsgate.domain.messages import Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.paging import Page, PageRequest
from smsgate.domain.pools import Assignment, MessagingService, PoolNumber


class StoreError(Exception):
    """Base of the store's own errors (translated to SmsgateErrors by services)."""


class DuplicateKey(StoreError):
    """A uniqueness constraint was violated (for example a phone number already owned)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now."""


class UnknownCursor(StoreError):
    """A page token names a row that does not exist (and never did) in this list."""


class Outcome(Enum):
    """Result of a conditional change."""

    DONE = "done"
    NOT_FOUND = "not_found"
    REFUSED = "refused"  # the row exists but its state does not allow the change


class PoolAdd(Enum):
    """Result of adding a number to a Messaging Service's sender pool."""

    ADDED = "added"
    NO_NUMBER = "no_number"  # the account has no such number
    ALREADY_HERE = "already_here"  # already in this service's pool
    ELSEWHERE = "elsewhere"  # in another service's pool
    POOL_FULL = "pool_full"


@dataclass(frozen=True, slots=True)
class MessageFilter:
    to: str | None = None
    from_: str | None = None
    date_sent: DateRange = field(default_factory=DateRange)
    # The console's filters (never set by the Twilio API surfaces): exact direction and
    # status, a number on either side, and a case-insensitive substring of the body.
    direction: str | None = None
    status: str | None = None
    number: str | None = None
    body_contains: str | None = None

    @property
    def seeks(self) -> bool:
        """Whether a page of this filter is a pure index seek (no row-by-row filtering)."""
        return (
            self.direction is None
            and self.status is None
            and self.number is None
            and self.body_contains is None
        )


@dataclass(frozen=True, slots=True)
class AccountFilter:
    friendly_name: str | None = None
    status: AccountStatus | None = None


@dataclass(frozen=True, slots=True)
class NumberFilter:
    phone_number: str | None = None  # substring match, as Twilio's PhoneNumber filter
    friendly_name: str | None = None


class Store(Protocol):
    """Everything smsgate keeps. Implemented by SqliteStore (and PostgresStore)."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    # accounts
    async def create_account(self, account: Account) -> None: ...
    async def get_account(self, sid: str) -> Account | None: ...
    async def save_account(self, account: Account) -> None: ...
    async def count_accounts(self) -> int: ...
    async def all_accounts(self) -> list[Account]: ...
    async def list_accounts(
        self, owner_sid: str, flt: AccountFilter, page: PageRequest
    ) -> Page[Account]: ...

    # API keys
    async def create_key(self, key: ApiKey) -> None: ...
    async def get_key(self, sid: str) -> ApiKey | None: ...
    async def save_key(self, key: ApiKey) -> None: ...
    async def delete_key(self, account_sid: str, sid: str) -> bool: ...
    async def list_keys(self, account_sid: str, page: PageRequest) -> Page[ApiKey]: ...

    # incoming phone numbers
    async def create_number(self, number: PhoneNumber) -> None:
        """Raises DuplicateKey when the phone number already belongs to an account."""
        ...

    async def get_number(self, account_sid: str, sid: str) -> PhoneNumber | None: ...
    async def find_number(self, phone_number: str) -> PhoneNumber | None: ...
    async def save_number(self, number: PhoneNumber) -> None: ...
    async def delete_number(self, account_sid: str, sid: str) -> bool: ...
    async def list_numbers(
        self, account_sid: str, flt: NumberFilter, page: PageRequest
    ) -> Page[PhoneNumber]: ...

    # messages
    async def insert_message(self, message: Message) -> None: ...
    async def get_message(self, account_sid: str, sid: str) -> Message | None: ...
    async def list_messages(
        self, account_sid: str, flt: MessageFilter, page: PageRequest
    ) -> Page[Message]: ...
    async def messages_updated_since(
        self, account_sid: str, after_us: int, after_sid: str, limit: int
    ) -> list[Message]:
        """The account's messages whose ``(date_updated, sid)`` is greater than
        ``(after_us, after_sid)``, in that order, at most ``limit`` (the console's live feed;
        an index seek on ``messages_account_updated``)."""
        ...

    async def count_messages(self, account_sid: str, flt: MessageFilter) -> int:
        """How many messages ``list_messages`` would walk through (legacy ``total``)."""
        ...

    async def search_messages(self, account_sid: str, search: MessageSearch) -> list[Message]:
        """The v2 search: messages created in the window, oldest first, filtered."""
        ...

    async def save_message(self, message: Message) -> None:
        """Write every mutable field of an existing message (status, dates, price …)."""
        ...

    async def redact_message(
        self, account_sid: str, sid: str, allowed: frozenset[Status], now_us: int
    ) -> tuple[Outcome, Message | None]:
        """Empty the body if the message's status is in ``allowed``."""
        ...

    async def cancel_message(
        self, account_sid: str, sid: str, now_us: int, *, callback: Callback | None = None
    ) -> tuple[Outcome, Message | None]:
        """Set a ``scheduled`` message to ``canceled``; any other status is REFUSED.

        The message leaves the delivery queue (releasing any sender slot its job held) and
        ``callback`` is recorded, in the same transaction.
        """
        ...

    async def delete_message(
        self, account_sid: str, sid: str, allowed: frozenset[Status], now_us: int
    ) -> tuple[Outcome, Status | None]:
        """Delete the message if its status is in ``allowed``, leaving a paging tombstone.

        Its Media and feedback go with it; call ``collect_media`` afterwards."""
        ...

    # delivery pipeline
    async def insert_outbound(self, message: Message, mps: float) -> bool:
        """Insert a message and its delivery job at its sender's next slot, atomically.

        Returns False, writing nothing, when the sender's queue would pass 10 hours of its
        rate ``mps`` (0 = unlimited); see smsgate.domain.senders.
        """
        ...

    async def claim_jobs(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[DeliveryJob]:
        """Lease up to ``limit`` jobs that are due and not leased by a live owner."""
        ...

    async def claim_expired_jobs(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[DeliveryJob]:
        """Lease jobs past their validity period that no live worker holds, due or not."""
        ...

    async def drop_job(self, message_sid: str) -> None:
        """Remove a job whose message no longer needs delivering."""
        ...

    async def apply_transition(self, change: Transition) -> Message | None:
        """Apply a status change, its callback and the job's fate in one transaction.

        Returns the message after the change, or None (nothing written) when the message's
        status is not in ``change.allowed_from`` any more.
        """
        ...

    async def apply_transition_leased(
        self, change: Transition
    ) -> tuple[Message | None, int | None]:
        """``apply_transition``, and the outbox id of its callback when that was inserted
        leased to ``change.lease.owner`` (its message had no other callback waiting)."""
        ...

    def queue_transition(self, change: Transition) -> asyncio.Future[tuple[bool, int | None]]:
        """``apply_transition_leased``, queued before this returns: it is applied after
        every change this process queued before it and before every change it queues
        later, whenever the caller awaits the result. So a change can be queued, the
        carrier asked meanwhile, and the next change queued behind it; both often go in one
        batch, which writes the message once. The result says whether it applied, not what
        the message became: the pipeline that queues changes does not need the Message, and
        building one for each change was a tenth of the worker's event loop."""
        ...

    async def find_carrier_ref(self, carrier_ids: tuple[str, ...]) -> CarrierRef | None:
        """What the first of ``carrier_ids`` that a submit recorded stands for."""
        ...

    async def carrier_parts(self, message_sid: str) -> list[CarrierPart]:
        """Every carrier id a submit recorded for this message, by part, then by time."""
        ...

    async def park_receipt(self, receipt: ParkedReceipt) -> CarrierRef | None:
        """Keep a receipt that matched nothing for a later match, atomically with respect
        to the submit that may record its id: returns that submit's reference instead
        (writing nothing) if it was recorded meanwhile."""
        ...

    async def parked_receipts(
        self, carrier_ids: tuple[str, ...]
    ) -> list[tuple[str, ParkedReceipt]]:
        """The parked receipts for these ids, with the id each matched (left in place until
        ``drop_parked_receipts``, so a crash before they are applied cannot lose them)."""
        ...

    async def drop_parked_receipts(self, carrier_ids: tuple[str, ...]) -> None:
        """Remove the receipts parked under these ids (under every form of their id)."""
        ...

    async def orphaned_receipts(
        self, parked_before_us: int, limit: int
    ) -> list[tuple[CarrierRef, ParkedReceipt]]:
        """Parked receipts older than ``parked_before_us`` whose id a submit has recorded
        since (the process that recorded it stopped before applying them)."""
        ...

    async def forget_parked_receipts(self, parked_before_us: int, limit: int) -> int:
        """Remove up to ``limit`` parked receipts older than ``parked_before_us`` that match
        no recorded submit; how many went."""
        ...

    async def mark_part(self, carrier_id: str, state: str) -> list[str]:
        """Record one part's receipt state; the states of all of its message's parts."""
        ...

    async def claim_receipt_waits(self, now_us: int, lease_us: int, limit: int) -> list[str]:
        """SIDs of messages whose receipt deadline has passed, leased for ``lease_us``."""
        ...

    async def drop_receipt_wait(self, message_sid: str) -> None:
        """Stop waiting for a message's receipt."""
        ...

    async def get_submit_progress(self, message_sid: str) -> SubmitProgress | None:
        """The parts of a split message confirmed by an earlier, interrupted attempt."""
        ...

    async def save_submit_progress(self, message_sid: str, progress: SubmitProgress) -> None:
        """Record confirmed parts (the ``sent`` transition clears the record)."""
        ...

    async def add_mo_part(self, part: MoPart) -> list[str] | None:
        """Keep a part of a concatenated inbound message; every part's body, in order, once
        all have arrived (they stay until ``drop_mo_parts``)."""
        ...

    async def drop_mo_parts(self, part: MoPart) -> None:
        """Forget the parts of the concatenated message ``part`` belongs to."""
        ...

    async def hold_bind_slot(
        self, carrier: str, holder: str, limit: int, now_us: int, lease_us: int
    ) -> bool:
        """Renew ``holder``'s bind slot of ``carrier`` until ``now_us + lease_us``, or take one
        of the ``limit`` slots that nobody holds (never taken, released, or expired at
        ``now_us``); False when others hold all of them. Atomic across processes."""
        ...

    async def release_bind_slot(self, carrier: str, holder: str) -> None:
        """Give ``holder``'s slot of ``carrier`` back (nothing when it holds none)."""
        ...

    async def get_message_by_sid(self, sid: str) -> Message | None: ...
    async def get_messages_by_sid(self, sids: list[str]) -> dict[str, Message]:
        """The messages of ``sids`` that exist, by SID (one read for the whole list)."""
        ...

    # Messaging Services and their sender pools
    async def create_service(self, service: MessagingService) -> None: ...
    async def get_service(self, account_sid: str, sid: str) -> MessagingService | None: ...
    async def save_service(self, service: MessagingService) -> None: ...
    async def delete_service(self, account_sid: str, sid: str) -> bool:
        """Delete a service with its pool and sticky senders; its messages keep its SID."""
        ...

    async def list_services(
        self, account_sid: str, page: PageRequest
    ) -> Page[MessagingService]: ...
    async def add_pool_number(self, entry: PoolNumber, limit: int) -> PoolAdd:
        """Put one of the account's numbers in a pool of at most ``limit`` numbers."""
        ...

    async def get_pool_number(self, service_sid: str, number_sid: str) -> PoolNumber | None: ...
    async def remove_pool_number(self, service_sid: str, number_sid: str) -> bool: ...
    async def list_pool_numbers(self, service_sid: str, page: PageRequest) -> Page[PoolNumber]: ...
    async def pool_senders(self, service_sid: str) -> list[PhoneNumber]:
        """The numbers of a service's pool, in the order they were added."""
        ...

    async def service_of_number(self, number_sid: str) -> MessagingService | None:
        """The service whose pool holds this number, if any."""
        ...

    async def insert_unassigned(self, message: Message) -> None:
        """Insert an ``accepted`` or ``scheduled`` message and its job, atomically.

        The job holds no sender slot: it is due at ``send_at`` (scheduled) or at once, and
        ``assign_sender`` gives it a sender and a slot when a worker claims it.
        """
        ...

    async def assign_sender(self, assignment: Assignment) -> Message | None:
        """Apply an Assignment (see smsgate.domain.pools) in one transaction.

        Returns the message after it (``queued``, or ``failed`` when no sender had room), or
        None, writing nothing, when the message is no longer ``accepted``/``scheduled``.
        """
        ...

    # media and feedback (smsgate.store.sqlite_media)
    async def attach_media(
        self, message_sid: str, media: list[Media], staged: list[StagedFile], now_us: int
    ) -> bool:
        """Store an outbound message's fetched media (content and Media rows) and make its
        delivery job due at ``now_us`` again, without counting the attempt, atomically.
        False, writing nothing, when the message is gone, has left the queue, or has its
        media already. The staged files stay; the caller removes them."""
        ...

    async def has_media(self, message_sid: str) -> bool: ...
    async def get_media(self, account_sid: str, message_sid: str, sid: str) -> Media | None: ...
    async def list_media(
        self, account_sid: str, message_sid: str, created: DateRange, page: PageRequest
    ) -> Page[Media]:
        """A message's Media in the order they were given, within a creation range."""
        ...

    async def delete_media(self, account_sid: str, message_sid: str, sid: str) -> bool:
        """Delete one Media; its content goes at the next ``collect_media`` if unreferenced."""
        ...

    def media_content(self, digest: str) -> Path | None:
        """The file holding this content, if it is stored."""
        ...

    async def collect_media(self) -> int:
        """Remove content whose last reference was deleted; how many files went."""
        ...

    async def save_feedback(self, feedback: Feedback) -> Feedback | None:
        """Create or update a message's feedback; None when the account has no such message."""
        ...

    # webhook outbox
    async def claim_callbacks(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[ClaimedCallback]:
        """Lease due callbacks, at most the oldest pending one per message (order per message)."""
        ...

    async def finish_callback(self, result: CallbackResult) -> None:
        """Log an attempt and mark the callback done, failed, or due again at a later time."""
        ...

    async def release_callbacks(self, ids: list[int], owner: str, now_us: int) -> None:
        """Give back callbacks leased to ``owner`` that it will not send after all (they
        waited in its memory behind an earlier callback of their message that is now due
        again later, or it stopped): due at ``now_us``, unleased, and their attempt not
        counted. A claim then hands them out in order, behind that earlier callback."""
        ...

    async def callback_attempts(self, message_sid: str) -> list[CallbackAttempt]: ...

    async def status_history(self, message_sid: str) -> list[StatusChange]:
        """Every status the message took, in order, with its time and error code (empty for
        a message stored before migration 0011; an index seek on message_statuses_message).
        Each is written by the transaction that made the change."""
        ...

    # inbound messages and opt-outs (smsgate.store.sqlite_inbound)
    async def insert_inbound(self, record: InboundRecord) -> None:
        """Store an inbound message with its webhook, opt-out change and automatic replies,
        in one transaction (a reply whose sender queue is full is stored ``failed``/30001)."""
        ...

    async def is_opted_out(self, scope: str, address: str) -> bool:
        """Whether ``address`` opted out of messages sent within ``scope``: a Messaging
        Service SID, or a sender number, whose opt-outs include those of the service whose
        pool holds it (Twilio scopes an opt-out to the whole service)."""
        ...

    async def finish_inbound_callback(
        self,
        result: CallbackResult,
        message_sid: str,
        date_sent_us: int,
        replies: tuple[QueuedReply, ...],
    ) -> None:
        """Record an inbound webhook's attempt (as ``finish_callback``), set the message's
        ``date_sent`` if it has none, and enqueue the replies its TwiML asked for, atomically.
        """
        ...
