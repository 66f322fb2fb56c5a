"""The carrier seam: what the delivery worker asks of a carrier, and what it hears back.

A Connector submits one outbound SMS at a time and reports delivery receipts and inbound
(mobile-originated) messages through callbacks it is given when it starts. Errors form a
small tree that carries the Twilio error code a failure maps to:

    ConnectorError                 code (Twilio 30xxx) and message
    ├── TemporaryError             retry later with backoff (throttled, no bind, timeout …)
    └── PermanentError             the message fails with ``code`` (bad destination …)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from smsgate.domain.delivery import SubmitProgress
from smsgate.domain.values import value

__all__ = ["SubmitProgress"]  # re-exported: connectors build it


@value
class OutboundSms:
    """One message handed to a carrier for one attempt."""

    message_sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    media_urls: tuple[str, ...]
    num_segments: int
    attempt: int
    # parts an earlier, interrupted attempt got confirmed: resume after them, same reference
    resume: SubmitProgress | None = None


@value
class SubmitResult:
    """The carrier accepted the message (status ``sent``).

    ``part_ids`` are the carrier's ids of every part, in order, when it split the message
    (``carrier_id`` is the first); ``receipt_timeout`` is how long to wait for receipts
    before the message is given up as undelivered (None: wait for ever).
    """

    carrier_id: str
    parts: int = 1
    part_ids: tuple[str, ...] = ()
    receipt_timeout: float | None = None


@value
class Receipt:
    """A delivery receipt for an earlier submit."""

    carrier_id: str
    status: Literal["delivered", "undelivered", "failed"]
    error_code: int | None = None
    done_date: datetime | None = None  # becomes RawDlrDoneDate (YYMMDDhhmm)
    alternatives: tuple[str, ...] = ()  # other forms the id may have been stored under


@dataclass(frozen=True, slots=True)
class InboundPart:
    """Where one part of a concatenated mobile-originated message belongs (``seq`` 1-based)."""

    ref: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A mobile-originated message addressed to one of our numbers, or one part of it
    (``part``; the pipeline reassembles the parts from ``carrier``)."""

    from_: str
    to: str
    body: str
    media_urls: tuple[str, ...] = ()
    num_segments: int = 1
    carrier: str = ""
    part: InboundPart | None = None


class ConnectorError(Exception):
    """A submit failed; ``code`` is the Twilio error code it maps to."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TemporaryError(ConnectorError):
    """Try again later: the carrier is throttling, unbound or slow.

    ``counts=False`` when the message itself is not at fault (no bind is up, the carrier
    throttles): the retry does not use up one of the message's attempts.
    """

    def __init__(self, code: int, message: str, *, counts: bool = True) -> None:
        super().__init__(code, message)
        self.counts = counts


class PermanentError(ConnectorError):
    """The message cannot be delivered; it fails with ``code``."""


ReceiptHandler = Callable[[Receipt], Awaitable[None]]
PartRecorder = Callable[[SubmitProgress], Awaitable[None]]
InboundHandler = Callable[[InboundSms], Awaitable[None]]


class BindGate(Protocol):
    """Shares a carrier account's bind limit among every process that connects to it.

    A connector holds a slot for each session before it binds, renews it every
    ``renew_every`` seconds while the session lasts, and unbinds when a renewal fails.
    """

    @property
    def renew_every(self) -> float: ...

    async def hold(self, carrier: str, holder: str, limit: int) -> bool:
        """Take or renew ``holder``'s slot among ``limit`` for ``carrier``; False when
        others hold every slot, or when the slot cannot be confirmed in time."""
        ...

    async def release(self, carrier: str, holder: str) -> None:
        """Give the slot back (best effort: an unreleased slot expires)."""
        ...


class Connector(Protocol):
    """A carrier. Implementations: the simulator (default) and SMPP."""

    name: str

    def ready(self) -> bool:
        """Whether a submit can go out now (a bind is up); the worker claims no work
        while it is not."""
        ...

    async def start(self, on_receipt: ReceiptHandler, on_inbound: InboundHandler) -> None:
        """Connect (bind) and begin reporting receipts and inbound messages."""
        ...

    async def submit(
        self, sms: OutboundSms, record_part: PartRecorder | None = None
    ) -> SubmitResult:
        """Hand one message to the carrier. Raises TemporaryError or PermanentError.

        A carrier that splits a message awaits ``record_part`` after each confirmed part but
        the last, so that a later attempt resumes from ``sms.resume``.
        """
        ...

    async def close(self) -> None:
        """Stop reporting and disconnect."""
        ...
