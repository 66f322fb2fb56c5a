"""Use cases of the web console that no API resource has: the live feed of an account's
changed messages, a message's delivery record (timeline from its status history, callback
attempts, carrier parts, why it has its segments), and conversations (one thread per our
number and a remote one).

Creating, redacting and deleting messages, and everything about numbers, services, keys
and accounts, go through the same services the API uses; this module only reads.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace
from datetime import datetime

from smsgate.clock import Clock
from smsgate.domain import segments
from smsgate.domain.accounts import Account
from smsgate.domain.dates import from_us, to_us
from smsgate.domain.delivery import CallbackAttempt, CarrierPart, StatusChange, error_message
from smsgate.domain.messages import Direction, Message, Status
from smsgate.domain.paging import PageRequest
from smsgate.services.delivery import NO_RECEIPT
from smsgate.store.base import MessageFilter, Store

# How far behind the newest change a feed re-reads: a change is stamped before its
# transaction commits, so a row stamped t may become visible after another stamped t + d.
# Rows already sent are not sent again (see Feed). Processes' clocks must agree this well.
FEED_LAG_US = 2_000_000
FEED_BATCH = 500
FEED_READS = 10  # reads of FEED_BATCH rows at most per poll
FEED_REWIND_US = 300_000_000  # a reconnecting follower resumes at most 5 minutes back
# Statuses a carrier's receipt gives, and codes that end a sent message without one
# (no receipt within the carrier's receipt_timeout).
_RECEIPT_OUTCOMES = frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.FAILED})
_NOT_A_RECEIPT = frozenset({NO_RECEIPT})


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SegmentWhy:
    """Why a body takes the segments it does."""

    encoding: str
    num_segments: int
    units: int
    per_segment: int
    non_gsm_chars: tuple[str, ...]
    extension_chars: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conversation:
    ours: str
    theirs: str
    last: Message


class Feed:
    """One follower's position in an account's changes: call ``poll`` again and again.

    Each poll reads from ``FEED_LAG_US`` before the newest change it has seen, and drops
    the (sid, date_updated) pairs it already returned, so a change committed late with an
    earlier stamp is still reported once, and nothing is reported twice.
    """

    def __init__(self, store: Store, account_sid: str, start_us: int) -> None:
        self._store = store
        self._account_sid = account_sid
        self._newest = start_us
        self._sent: dict[str, int] = {}

    @property
    def position(self) -> int:
        return self._newest

    async def poll(self) -> builtins.list[Message]:
        after_us, after_sid = self._newest - FEED_LAG_US, ""
        fresh: builtins.list[Message] = []
        for _ in range(FEED_READS):  # a long backlog is caught up over several polls
            batch = await self._store.messages_updated_since(
                self._account_sid, after_us, after_sid, FEED_BATCH
            )
            for message in batch:
                stamp = to_us(message.date_updated)
                if self._sent.get(message.sid) != stamp:
                    self._sent[message.sid] = stamp
                    fresh.append(message)
                self._newest = max(self._newest, stamp)
            if len(batch) < FEED_BATCH:
                break
            after_us, after_sid = to_us(batch[-1].date_updated), batch[-1].sid
        horizon = self._newest - FEED_LAG_US
        self._sent = {sid: stamp for sid, stamp in self._sent.items() if stamp >= horizon}
        return fresh


class ConsoleService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def feed(self, account: Account, start: datetime | None = None) -> Feed:
        """A feed of the account's changes from ``start`` (default: now; at most five
        minutes back: a page that was away longer reloads what it shows anyway)."""
        now = to_us(self._clock.now())
        begin = now if start is None else max(to_us(start), now - FEED_REWIND_US)
        return Feed(self._store, account.sid, begin)

    async def attempts(self, message: Message) -> builtins.list[CallbackAttempt]:
        return await self._store.callback_attempts(message.sid)

    async def carrier_parts(self, message: Message) -> builtins.list[CarrierPart]:
        """The carrier's ids for each part, with each part's receipt state. The store marks
        parts one by one only for a split message (its receipts are combined); a one-part
        message's receipt settles the message itself, so its part shows that outcome."""
        parts = await self._store.carrier_parts(message.sid)
        if (
            len(parts) == 1
            and parts[0].parts == 1
            and parts[0].state == "sent"
            and message.status in _RECEIPT_OUTCOMES
            and message.error_code not in _NOT_A_RECEIPT
        ):
            return [replace(parts[0], state=message.status.value)]
        return parts

    async def status_history(self, message: Message) -> builtins.list[StatusChange]:
        return await self._store.status_history(message.sid)

    @staticmethod
    def timeline(
        message: Message,
        attempts: builtins.list[CallbackAttempt],
        history: builtins.list[StatusChange] | None = None,
    ) -> builtins.list[TimelineEntry]:
        """What is known of a message's life, in time order: creation, scheduling, every
        status it took with its time and error code (its status history), and every webhook
        attempt. A message stored before the history was kept (no rows) shows what its
        stored times say instead: when it was sent, and its current status."""
        inbound = message.direction is Direction.INBOUND
        entries = [
            TimelineEntry(
                message.date_created,
                "arrived" if inbound else "created",
                f"{message.num_segments} segment(s), {message.encoding}",
            )
        ]
        if message.send_at is not None:
            entries.append(TimelineEntry(message.send_at, "scheduled for"))
        if history:
            entries.extend(
                TimelineEntry(
                    from_us(h.at_us), h.status.value, _error_detail(message, h.error_code)
                )
                for h in history
            )
        else:
            if message.date_sent is not None and not inbound:
                entries.append(TimelineEntry(message.date_sent, "sent", "accepted by the carrier"))
            # the current status, and when it was reached
            entries.append(
                TimelineEntry(
                    message.date_updated,
                    message.status.value,
                    _error_detail(message, message.error_code),
                )
            )
        for a in attempts:
            outcome = f"HTTP {a.status_code}" if a.status_code is not None else (a.error or "")
            what = "inbound webhook" if inbound else "status callback"
            entries.append(
                TimelineEntry(
                    from_us(a.started_us),
                    f"{what} attempt {a.attempt}",
                    f"{a.url} → {outcome} in {a.duration_ms} ms",
                )
            )
        return sorted(entries, key=lambda e: e.at)

    @staticmethod
    def segment_why(body: str) -> SegmentWhy:
        info = segments.analyze(body)
        extension = tuple(dict.fromkeys(c for c in body if c in segments.GSM7_EXTENSION))
        return SegmentWhy(
            info.encoding.value,
            info.num_segments,
            info.units,
            info.per_segment,
            info.non_gsm_chars,
            extension if info.encoding is segments.Encoding.GSM7 else (),
        )

    async def conversations(
        self, account: Account, recent: int = 500
    ) -> builtins.list[Conversation]:
        """Threads among the account's ``recent`` newest messages, newest thread first."""
        page = await self._store.list_messages(
            account.sid, MessageFilter(), PageRequest(page_size=recent)
        )
        threads: dict[tuple[str, str], Conversation] = {}
        for m in page.items[:recent]:
            pair = thread_of(m)
            if pair is not None and pair not in threads:
                threads[pair] = Conversation(pair[0], pair[1], m)
        return builtins.list(threads.values())

    async def thread(
        self, account: Account, ours: str, theirs: str, limit: int = 100
    ) -> builtins.list[Message]:
        """The last ``limit`` messages between two numbers, oldest first (two index seeks)."""
        page = PageRequest(page_size=limit)
        sent = await self._store.list_messages(
            account.sid, MessageFilter(to=theirs, from_=ours), page
        )
        got = await self._store.list_messages(
            account.sid, MessageFilter(to=ours, from_=theirs), page
        )
        both = sorted(
            [*sent.items[:limit], *got.items[:limit]], key=lambda m: (m.date_created, m.sid)
        )
        return both[-limit:]


def _error_detail(message: Message, code: int | None) -> str:
    """``error CODE: text`` (the message's own text when it is its current code), or ""."""
    if code is None:
        return ""
    text = message.error_message if code == message.error_code else error_message(code)
    return f"error {code}: {text or ''}".strip()


def thread_of(message: Message) -> tuple[str, str] | None:
    """(our number, the remote number) of a message."""
    if message.direction is Direction.INBOUND:
        return (message.to, message.from_) if message.from_ else None
    return (message.from_, message.to) if message.from_ else None
