"""The SMPP carrier connector: keeps binds up and implements the Connector protocol.

``submit`` splits a body into parts (smsgate.connectors.smpp.text), submits them in order
on the transmitting session within its window and the connector's throughput limit, and
answers with the SMSC's message ids. ESME_RTHROTTLED / ESME_RMSGQFUL pause the whole
connector with a growing back-off (no retry storm) and the part is tried again; other
errors map through smsgate.connectors.smpp.statuses.

Receipts and mobile-originated messages arrive as deliver_sm or data_sm on the receiving
session; each is handed to the pipeline and acknowledged only after the handler returns,
that is after it was durably recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any, Final

from smsgate.connectors.base import (
    BindGate,
    InboundHandler,
    InboundPart,
    InboundSms,
    OutboundSms,
    PartRecorder,
    PermanentError,
    Receipt,
    ReceiptHandler,
    SubmitProgress,
    SubmitResult,
    TemporaryError,
)
from smsgate.connectors.smpp import receipts, statuses, text
from smsgate.connectors.smpp.config import SmppConfig
from smsgate.connectors.smpp.session import BindError, Session, SessionClosed
from smsgate.smpp import pdu
from smsgate.smpp.pdu import Pdu

MMS_UNSUPPORTED: Final = 30011  # "MMS not supported by the receiving phone number"

logger = logging.getLogger(__name__)

_THROTTLE_FIRST: Final = 0.1  # seconds of pause after the first throttling answer
_THROTTLE_MAX: Final = 5.0
_THROTTLE_TRIES: Final = 8  # per part, then the job goes back to the queue
_SLOT_POLL: Final = 1.0  # seconds between asks for a bind slot while others hold them all


class NotBound(TemporaryError):
    """No transmitting bind is up: the message waits in the queue (no attempt is used)."""

    def __init__(self, name: str) -> None:
        super().__init__(30008, f"SMPP connector {name} is not bound", counts=False)


class SmppConnector:
    def __init__(self, config: SmppConfig, gate: BindGate | None = None) -> None:
        """``gate`` shares ``config.max_binds`` with the other processes (unused when 0)."""
        self.name = config.name
        self._config = config
        self._gate = gate if config.max_binds > 0 else None
        self._account = f"{config.system_id}@{config.host}:{config.port}"
        self._holder = secrets.token_hex(6)
        self._transmitter: Session | None = None
        self._bound = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sessions: set[Session] = set()
        self._on_receipt: ReceiptHandler | None = None
        self._on_inbound: InboundHandler | None = None
        self._next_submit = 0.0
        self._paused_until = 0.0
        self._throttle_pause = _THROTTLE_FIRST
        self._ref = secrets.randbelow(0x10000)

    # --- lifecycle ------------------------------------------------------------------------

    def ready(self) -> bool:
        return self._transmitter is not None and not self._transmitter.closed.is_set()

    async def start(self, on_receipt: ReceiptHandler, on_inbound: InboundHandler) -> None:
        self._on_receipt, self._on_inbound = on_receipt, on_inbound
        modes = ("trx",) if self._config.bind == "trx" else ("tx", "rx")
        self._tasks = [
            asyncio.create_task(self._keep_bound(mode), name=f"smpp-{self.name}-{mode}")
            for mode in modes
        ]

    async def close(self) -> None:
        self._stopping.set()
        await asyncio.gather(*(session.unbind() for session in list(self._sessions)))
        if self._tasks:  # let them give their bind slots back
            await asyncio.wait(self._tasks, timeout=self._config.response_timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _keep_bound(self, mode: str) -> None:
        """Bind, wait for the session to end, and bind again with a doubling back-off."""
        delay = self._config.reconnect_min
        holder = f"{self._holder}-{mode}"
        while not self._stopping.is_set():
            if not await self._take_slot(holder):
                continue
            try:
                session = await Session.open(self._config, mode, self._request)
            except (OSError, TimeoutError, BindError, SessionClosed) as exc:
                logger.warning(
                    "SMPP %s/%s: bind to %s:%s failed (%s); retrying in %.1f s",
                    self.name,
                    mode,
                    self._config.host,
                    self._config.port,
                    exc,
                    delay,
                )
                await self._give_slot(holder)
                await self._pause(delay)
                delay = min(delay * 2, self._config.reconnect_max)
                continue
            delay = self._config.reconnect_min
            self._sessions.add(session)
            if mode != "rx":
                self._transmitter = session
                self._bound.set()
            renewing = None
            if self._gate is not None:
                renewing = asyncio.create_task(self._renew_slot(holder, session))
            try:
                await session.closed.wait()
            finally:
                if renewing is not None:
                    renewing.cancel()
                self._sessions.discard(session)
                if self._transmitter is session:
                    self._transmitter = None
                    self._bound.clear()
                await self._give_slot(holder)
            if not self._stopping.is_set():
                await self._pause(self._config.reconnect_min)

    # --- the shared bind limit ------------------------------------------------------------

    async def _take_slot(self, holder: str) -> bool:
        """Whether a bind slot is ours (always, without a gate); waits a renewal period
        when the other processes hold them all."""
        if self._gate is None:
            return True
        if await self._gate.hold(self._account, holder, self._config.max_binds):
            return True
        logger.info(
            "SMPP %s: all %d binds of %s are held by other processes; waiting",
            self.name,
            self._config.max_binds,
            self._account,
        )
        await self._pause(min(self._gate.renew_every, _SLOT_POLL))
        return False

    async def _renew_slot(self, holder: str, session: Session) -> None:
        assert self._gate is not None
        while not session.closed.is_set():
            await self._pause(self._gate.renew_every)
            if self._stopping.is_set():
                return
            if not await self._gate.hold(self._account, holder, self._config.max_binds):
                logger.warning(
                    "SMPP %s: lost the bind slot of %s; unbinding", self.name, self._account
                )
                await session.unbind()
                return

    async def _give_slot(self, holder: str) -> None:
        if self._gate is not None:
            await self._gate.release(self._account, holder)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # --- submitting -----------------------------------------------------------------------

    async def submit(
        self, sms: OutboundSms, record_part: PartRecorder | None = None
    ) -> SubmitResult:
        if sms.resume is not None:
            ref = sms.resume.ref
            done = list(sms.resume.part_ids)
        else:
            self._ref = (self._ref + 1) % 0x10000
            ref = self._ref if self._config.concat is not text.Concat.UDH8 else self._ref & 0xFF
            done = []
        parts = text.split(self._text_of(sms), self._config.concat, ref)
        source = self._source(sms.from_)
        for part in parts[len(done) :]:
            message_id = await self._submit_part(sms, source, part)
            done.append(f"{self.name}:{receipts.canonical_id(message_id)}")
            if record_part is not None and len(done) < len(parts):
                await record_part(SubmitProgress(ref, tuple(done)))
        return SubmitResult(
            carrier_id=done[0],
            parts=len(parts),
            part_ids=tuple(done),
            receipt_timeout=(
                self._config.receipt_timeout if self._config.registered_delivery else None
            ),
        )

    def _text_of(self, sms: OutboundSms) -> str:
        """SMPP carries text only: an MMS goes as its body with each media URL on a line of
        its own after it (``mms=text``), or is refused with 30011 (``mms=reject``)."""
        if not sms.media_urls:
            return sms.body
        if self._config.mms == "reject":
            raise PermanentError(MMS_UNSUPPORTED, "This carrier does not take MMS")
        return "\n".join(filter(None, (sms.body, *sms.media_urls)))

    async def _submit_part(self, sms: OutboundSms, source: dict[str, Any], part: text.Part) -> str:
        for _ in range(_THROTTLE_TRIES):
            await self._wait_for_turn()
            session = await self._session()
            try:
                response = await session.request(
                    "submit_sm",
                    **source,
                    dest_addr_ton=self._config.dest_ton,
                    dest_addr_npi=self._config.dest_npi,
                    destination_addr=sms.to.removeprefix("+"),
                    esm_class=part.esm_class,
                    registered_delivery=self._config.registered_delivery,
                    data_coding=part.data_coding,
                    short_message=part.short_message,
                    **part.tlvs,
                )
            except SessionClosed as exc:
                raise NotBound(self.name) from exc
            except TimeoutError as exc:
                raise TemporaryError(30008, "The SMSC did not answer submit_sm in time") from exc
            if response.status == pdu.ESME_ROK:
                self._throttle_pause = _THROTTLE_FIRST
                return response.text("message_id")
            if response.status not in statuses.THROTTLING:
                raise statuses.submit_error(response.status)
            self._throttled()
        raise TemporaryError(
            30008, "The SMSC kept throttling the submit; it will be tried later", counts=False
        )

    def _source(self, sender: str) -> dict[str, Any]:
        config = self._config
        if sender.startswith("+"):
            ton, npi, addr = config.source_ton, config.source_npi, sender[1:]
        elif sender.isdigit():
            ton, npi, addr = config.short_code_ton, config.short_code_npi, sender
        else:
            ton, npi, addr = config.alphanumeric_ton, config.alphanumeric_npi, sender
        return {"source_addr_ton": ton, "source_addr_npi": npi, "source_addr": addr}

    async def _session(self) -> Session:
        session = self._transmitter
        if session is not None and not session.closed.is_set():
            return session
        try:
            async with asyncio.timeout(self._config.response_timeout):
                await self._bound.wait()
        except TimeoutError as exc:
            raise NotBound(self.name) from exc
        session = self._transmitter
        if session is None:
            raise NotBound(self.name)
        return session

    async def _wait_for_turn(self) -> None:
        """Honour the connector's throughput limit and any throttling pause."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        turn = max(now, self._paused_until)
        if self._config.throughput > 0:
            turn = max(turn, self._next_submit)
            self._next_submit = turn + 1.0 / self._config.throughput
        if turn > now:
            await asyncio.sleep(turn - now)

    def _throttled(self) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + self._throttle_pause
        if until > self._paused_until:
            self._paused_until = until
            logger.info(
                "SMPP %s throttled; pausing submits %.2f s", self.name, self._throttle_pause
            )
            self._throttle_pause = min(self._throttle_pause * 2, _THROTTLE_MAX)

    # --- receiving ------------------------------------------------------------------------

    async def _request(self, request: Pdu) -> int:
        """A deliver_sm or data_sm from the SMSC; the returned status is its response."""
        esm_class = request.number("esm_class")
        data_coding = request.number("data_coding")
        payload = request.field("message_payload")
        raw: bytes = payload if payload else (request.field("short_message") or b"")
        if receipts.is_receipt(esm_class):
            return await self._receipt(request, text.decode(raw, data_coding) if raw else "")
        part: InboundPart | None = None
        if esm_class & text.ESM_UDHI:
            concatenation, raw = text.split_udh(raw)
            if concatenation is not None:
                part = InboundPart(concatenation.ref, concatenation.total, concatenation.seq)
        elif request.field("sar_msg_ref_num") is not None:
            part = InboundPart(
                request.number("sar_msg_ref_num"),
                request.number("sar_total_segments", 1),
                request.number("sar_segment_seqnum", 1),
            )
        if self._on_inbound is None:
            return pdu.ESME_RX_T_APPN
        await self._on_inbound(
            InboundSms(
                from_=_address(request.text("source_addr"), request.number("source_addr_ton")),
                to=_address(request.text("destination_addr"), request.number("dest_addr_ton")),
                body=text.decode(raw, data_coding),
                carrier=self.name,
                part=part if part is not None and part.total > 1 else None,
            )
        )
        return pdu.ESME_ROK

    async def _receipt(self, request: Pdu, receipt_text: str) -> int:
        parsed = receipts.parse(request, receipt_text)
        if parsed is None:
            logger.warning("SMPP %s: receipt without a message id: %r", self.name, receipt_text)
            return pdu.ESME_ROK
        if not parsed.final:
            return pdu.ESME_ROK
        outcome, code = receipts.STATS[parsed.stat]
        keys = tuple(f"{self.name}:{key}" for key in receipts.id_keys(parsed.message_id))
        if self._on_receipt is None:
            return pdu.ESME_RX_T_APPN
        await self._on_receipt(
            Receipt(
                carrier_id=keys[0],
                status=outcome,
                error_code=code,
                done_date=parsed.done,
                alternatives=keys[1:],
            )
        )
        return pdu.ESME_ROK


def _address(addr: str, ton: int) -> str:
    """An SMPP address as we store numbers: E.164 with ``+`` when it is international
    (TON 1, or a long all-digit number with an unknown TON), else as given."""
    if addr.startswith("+"):
        return addr
    if ton == 1 or (ton == 0 and addr.isdigit() and len(addr) > 8):
        return "+" + addr
    return addr
