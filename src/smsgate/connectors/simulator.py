"""The built-in simulator carrier: deterministic, documented behaviour for every branch.

Default: a submitted message is ``sent`` at once and ``delivered`` after ``delivery_delay``
seconds. Twilio's test "magic numbers" are refused at create time with Twilio's codes, and
further numbers exercise the other branches users must handle (docs/simulator.md):

| To              | What happens                                                    |
|-----------------|-----------------------------------------------------------------|
| +15005550010    | sent, then undelivered with 30003 (unreachable handset)          |
| +15005550011    | sent, then undelivered with 30005 (unknown handset)              |
| +15005550012    | failed at submit with 30007 (carrier filtering)                  |
| +15005550013    | failed at submit with 30006 (landline)                           |
| +15005550014    | slow: delivered after ``slow_delay`` seconds                     |
| +15005550015    | sent, and no receipt ever arrives                                |
| +15005550016    | two temporary carrier errors (retried), then delivered           |
| +15005550017    | the first submit is never answered (timed out, retried), then delivered |
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import Final

from smsgate.clock import Clock, SystemClock
from smsgate.connectors.base import (
    InboundHandler,
    OutboundSms,
    PartRecorder,
    PermanentError,
    Receipt,
    ReceiptHandler,
    SubmitResult,
    TemporaryError,
)

# Create-time refusals, as Twilio's test credentials document them: number -> (code, text).
MAGIC_TO = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
MAGIC_FROM = {
    "+15005550001": (21212, "The 'From' number +15005550001 is not a valid phone number."),
    "+15005550007": (21606, "The 'From' phone number is not owned by your account."),
    "+15005550008": (
        21611,
        "This 'From' number has exceeded the maximum number of queued messages.",
    ),
}
ALWAYS_VALID_FROM = "+15005550006"

UNDELIVERED = {"+15005550010": 30003, "+15005550011": 30005}
FAILED = {
    "+15005550012": (30007, "Message filtered by the carrier"),
    "+15005550013": (30006, "Landline or unreachable carrier"),
}
SLOW, NO_RECEIPT, FLAKY = "+15005550014", "+15005550015", "+15005550016"
SILENT_ONCE = "+15005550017"
FLAKY_FAILURES = 2

logger = logging.getLogger(__name__)

_REPORT_RETRY_FIRST: Final = 0.5  # seconds before a receipt is reported again
_REPORT_RETRY_MAX: Final = 10.0


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    delivery_delay: float = 0.5
    slow_delay: float = 10.0


def preflight(to: str, from_: str | None) -> tuple[int, str] | None:
    """The create-time refusal the simulator's magic numbers call for, if any."""
    if from_ in MAGIC_FROM:
        return MAGIC_FROM[from_]
    return MAGIC_TO.get(to)


class SimulatorConnector:
    """A carrier that lives in the process and behaves as the table above says."""

    name = "simulator"

    def __init__(self, config: SimulatorConfig | None = None, clock: Clock | None = None) -> None:
        self._config = config or SimulatorConfig()
        self._clock = clock or SystemClock()
        self._ids = itertools.count(1)
        self._on_receipt: ReceiptHandler | None = None
        self._on_inbound: InboundHandler | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._closed = False

    def ready(self) -> bool:
        return True

    async def start(self, on_receipt: ReceiptHandler, on_inbound: InboundHandler) -> None:
        self._on_receipt, self._on_inbound = on_receipt, on_inbound

    async def close(self) -> None:
        self._closed = True  # receipts not due yet are never reported
        for task in self._pending:
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        self._pending.clear()

    async def submit(
        self, sms: OutboundSms, record_part: PartRecorder | None = None
    ) -> SubmitResult:
        if sms.to in FAILED:
            raise PermanentError(*FAILED[sms.to])
        if sms.to == FLAKY and sms.attempt <= FLAKY_FAILURES:
            raise TemporaryError(30008, "Simulated temporary carrier error")
        if sms.to == SILENT_ONCE and sms.attempt == 1:
            await asyncio.Event().wait()  # a carrier that stopped answering: the worker times out
        carrier_id = f"sim-{sms.message_sid}-{next(self._ids)}"
        if sms.to != NO_RECEIPT:
            delay = self._config.slow_delay if sms.to == SLOW else self._config.delivery_delay
            code = UNDELIVERED.get(sms.to)
            receipt = Receipt(
                carrier_id,
                "undelivered" if code else "delivered",
                error_code=code,
            )
            self._later(delay, receipt)
        return SubmitResult(carrier_id, parts=max(sms.num_segments, 1))

    def _later(self, delay: float, receipt: Receipt) -> None:
        # A timer, and a task only once the receipt is due: a task sleeping for each
        # message in flight cost the event loop a future and a wake-up more per message.
        asyncio.get_running_loop().call_later(delay, self._due, receipt)

    def _due(self, receipt: Receipt) -> None:
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._report(receipt))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _report(self, receipt: Receipt) -> None:
        """Report the receipt, and again, with a growing pause, until the pipeline has
        recorded it (as an SMSC repeats a deliver_sm nobody acknowledged): a receipt that
        comes while the database is away is not lost."""
        if self._on_receipt is None:
            return
        done = self._clock.now()
        pause = _REPORT_RETRY_FIRST
        while True:
            try:
                await self._on_receipt(
                    Receipt(receipt.carrier_id, receipt.status, receipt.error_code, done)
                )
                return
            except Exception as exc:
                logger.warning(
                    "simulator: receipt for %s not recorded (%s); again in %.1f s",
                    receipt.carrier_id,
                    exc,
                    pause,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, _REPORT_RETRY_MAX)
