"""The simulated SMSC: SMPP 3.4 sessions on asyncio streams, submits, receipts and MO.

PDUs are smpplib's (through ``smsgate.smpp.pdu``); the session logic is ours, so that the
SMSC can do what real ones do and libraries don't let a server do: hold a deliver_sm until
the ESME answers it (and send it again on the next bind when it doesn't), answer late,
answer the receipt before the submit, throttle, drop the socket mid-window.

Everything runs on one event loop; the control API calls these methods directly.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final

from smsgate.clock import Clock
from smsgate.smpp.pdu import (
    ESME_RALYBND,
    ESME_RINVBNDSTS,
    ESME_RINVCMDID,
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    ESME_ROK,
    ESME_RTHROTTLED,
    Pdu,
    PduError,
    decode,
    encode,
    read_pdu,
)

from . import text
from .behaviour import RECEIPT_STATES, Behaviour

log = logging.getLogger("smsgate.smsc")

SMSC_SYSTEM_ID: Final = "smsgate-sim"
ID_BASE: Final = 0x5A000000  # issued ids: hex 5a000001…, decimal 1509949441…
ESM_RECEIPT: Final = 0x04
BIND_KINDS: Final = {
    "bind_transmitter": "transmitter",
    "bind_receiver": "receiver",
    "bind_transceiver": "transceiver",
}
_IGNORED_RESPONSES: Final = frozenset({"enquire_link_resp", "unbind_resp", "generic_nack"})


@dataclass(eq=False)
class Delivery:
    """A deliver_sm or data_sm the SMSC owes the ESME: a receipt or one MO part.

    It is done only when the ESME answers it with status 0. Until then it is in flight on
    one session, or pending: not sent yet, its session closed before the answer, or the
    ESME answered with an error; pending ones go out again on the next receiver bind.
    """

    id: int
    kind: str  # "receipt" | "mo"
    command: str  # "deliver_sm" | "data_sm"
    source_addr: str
    destination_addr: str
    esm_class: int
    data_coding: int
    text: str
    message_id: str | None = None  # receipt: the id issued for the submit it reports
    receipt_id: str | None = None  # receipt: the id as the receipt quotes it
    stat: str | None = None
    part: dict[str, int] | None = None
    session: int | None = None
    sequence: int | None = None
    attempts: int = 0
    resp_status: int | None = None
    acked: bool = False
    in_flight: bool = False
    fields: dict[str, Any] = field(default_factory=dict, repr=False)

    def json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["fields"]
        return out


@dataclass(eq=False)
class Submit:
    """One submit_sm or data_sm as received, decoded, and what was answered."""

    session: int
    sequence: int
    command: str
    service_type: str
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    udh: dict[str, int] | None
    sar: dict[str, int] | None
    payload: bool
    text: str
    valid: bool
    message_id: str | None = None
    status: int | None = None  # None: never answered (the connection was dropped)
    responded: bool = False

    def json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(eq=False)
class Session:
    id: int
    peer: str
    writer: asyncio.StreamWriter = field(repr=False)
    bind: str | None = None
    system_id: str = ""
    bind_status: int | None = None
    bound: bool = False
    open: bool = True
    unbinding: bool = False
    enquire_links: int = 0
    sequence: int = 0
    in_flight: dict[int, Delivery] = field(default_factory=dict, repr=False)

    @property
    def receives(self) -> bool:
        return self.bound and not self.unbinding and self.bind in ("receiver", "transceiver")

    @property
    def transmits(self) -> bool:
        return self.bound and self.bind in ("transmitter", "transceiver")

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence

    def send(self, data: bytes) -> bool:
        if not self.open or self.writer.is_closing():
            return False
        self.writer.write(data)
        return True

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "peer": self.peer,
            "bind": self.bind,
            "system_id": self.system_id,
            "bind_status": self.bind_status,
            "bound": self.bound,
            "open": self.open,
            "enquire_links": self.enquire_links,
        }


@dataclass(frozen=True, slots=True)
class _ReceiptPlan:
    """What a receipt will say, fixed when the submit is accepted."""

    stat: str
    err: int
    command: str
    tlvs: bool
    quoted_id: str
    submitted: datetime


def quote_id(message_id: str, issued_as: str, form: str) -> str:
    """The id as a receipt quotes it: as issued, zero-padded, or in the other base."""
    value = int(message_id, 16) if issued_as == "hex" else int(message_id)
    if form == "padded":
        return message_id.zfill(16)
    if form == "decimal":
        return str(value)
    if form == "hex":
        return f"{value:x}"
    return message_id


def receipt_text(
    quoted_id: str, stat: str, err: int, submitted: datetime, done: datetime, body: str
) -> str:
    """The receipt text of SMPP 3.4 Appendix B, as nearly every SMSC sends it."""
    dlvrd = "001" if stat == "DELIVRD" else "000"
    return (
        f"id:{quoted_id} sub:001 dlvrd:{dlvrd} submit date:{submitted:%y%m%d%H%M} "
        f"done date:{done:%y%m%d%H%M} stat:{stat} err:{err:03d} text:{body[:20]}"
    )


def address(number: str) -> tuple[str, int, int]:
    """(addr, ton, npi): ``+E.164`` international/ISDN, bare digits unknown/ISDN,
    anything else alphanumeric."""
    if number.startswith("+") and number[1:].isdigit():
        return number[1:], 1, 1
    if number.isdigit():
        return number, 0, 1
    return number, 5, 0


class Smsc:
    def __init__(
        self,
        behaviour: Behaviour,
        clock: Clock,
        *,
        system_id: str | None = None,
        password: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.initial = behaviour.copy()
        self.behaviour = behaviour
        self.clock = clock
        self.system_id = system_id
        self.password = password
        self.monotonic = monotonic
        self.sessions: dict[int, Session] = {}
        self.submits: list[Submit] = []
        self.deliveries: list[Delivery] = []
        self._session_ids = itertools.count(1)
        self._delivery_ids = itertools.count(1)
        self._message_ids = itertools.count(ID_BASE + 1)
        self._refs = itertools.count(1)
        self._accepted: deque[float] = deque()
        self._timers: set[asyncio.TimerHandle] = set()

    # -- connections --------------------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One ESME connection, from accept to close."""
        host, port = writer.get_extra_info("peername")[:2]
        session = Session(next(self._session_ids), f"{host}:{port}", writer)
        self.sessions[session.id] = session
        log.info("session %d: connected from %s", session.id, session.peer)
        try:
            while session.open:
                try:
                    data = await read_pdu(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                except PduError as exc:
                    log.warning("session %d: %s; closing", session.id, exc)
                    break
                try:
                    pdu = decode(data)
                except PduError as exc:
                    log.warning("session %d: %s", session.id, exc)
                    if exc.sequence is not None:
                        status = exc.status or ESME_RINVCMDID
                        session.send(encode("generic_nack", exc.sequence, status))
                    continue
                self._on_pdu(session, pdu)
                if session.open:
                    try:
                        await writer.drain()
                    except ConnectionError:
                        break
        finally:
            self._closed(session)
            writer.close()
            log.info("session %d: closed", session.id)

    def _closed(self, session: Session) -> None:
        session.open = False
        session.bound = False
        owed = bool(session.in_flight)
        for delivery in session.in_flight.values():
            delivery.in_flight = False
        session.in_flight.clear()
        if owed:  # what this session left unanswered goes to another receiver still bound
            for other in self.sessions.values():
                if other.open and other.bound and other.receives:
                    self._send_pending(other)
                    break

    def _close(self, session: Session, *, abort: bool) -> None:
        """Close from our side: ``abort`` drops the socket at once (no unbind, nothing
        flushed), otherwise what was written goes out first."""
        if not session.open:
            return
        self._closed(session)
        transport = session.writer.transport
        if abort:
            transport.abort()
        else:
            transport.close()

    # -- PDUs from the ESME ---------------------------------------------------------------

    def _on_pdu(self, session: Session, pdu: Pdu) -> None:
        command = pdu.command
        if command in BIND_KINDS:
            self._on_bind(session, pdu)
        elif command == "enquire_link":
            session.enquire_links += 1
            session.send(encode("enquire_link_resp", pdu.sequence))
        elif command == "unbind":
            session.send(encode("unbind_resp", pdu.sequence))
            self._close(session, abort=False)
        elif command == "unbind_resp" and session.unbinding:
            self._close(session, abort=False)
        elif command in ("submit_sm", "data_sm"):
            if session.transmits:
                self._on_submit(session, pdu)
            else:
                session.send(encode(command + "_resp", pdu.sequence, ESME_RINVBNDSTS))
        elif command in ("deliver_sm_resp", "data_sm_resp") or (
            command == "generic_nack" and pdu.sequence in session.in_flight
        ):
            self._on_delivery_resp(session, pdu)
        elif pdu.is_response or command in _IGNORED_RESPONSES:
            pass
        else:
            session.send(encode("generic_nack", pdu.sequence, ESME_RINVCMDID))

    def _on_bind(self, session: Session, pdu: Pdu) -> None:
        system_id = pdu.text("system_id")
        if session.bound:
            status = ESME_RALYBND
        elif self.behaviour.bind_status:
            status = self.behaviour.bind_status
        elif self.system_id is not None and system_id != self.system_id:
            status = ESME_RINVSYSID
        elif self.password is not None and pdu.text("password") != self.password:
            status = ESME_RINVPASWD
        else:
            status = ESME_ROK
        if not session.bound:
            session.bind, session.system_id, session.bind_status = (
                BIND_KINDS[pdu.command],
                system_id,
                status,
            )
        session.send(encode(pdu.command + "_resp", pdu.sequence, status, system_id=SMSC_SYSTEM_ID))
        log.info("session %d: %s %r -> status %#x", session.id, pdu.command, system_id, status)
        if status == ESME_ROK:
            session.bound = True
            if session.receives:
                self._send_pending(session)

    def _on_submit(self, session: Session, pdu: Pdu) -> None:
        submit = self._record_submit(session, pdu)
        self.submits.append(submit)
        b = self.behaviour
        if b.drop_after_submits:
            b.drop_after_submits -= 1
            if b.drop_after_submits == 0:
                log.info("session %d: dropping at submit seq %d", session.id, pdu.sequence)
                self._close(session, abort=True)
                return
        submit.status = self._verdict(submit)
        resp = pdu.command + "_resp"
        if submit.status != ESME_ROK:
            self._after(b.submit_resp_delay, lambda: self._respond(session, submit, resp))
            return
        submit.message_id = self._issue_id()
        plan = self._receipt_plan(submit)
        receipt_delay = b.receipt_delay

        def respond_then_receipt() -> None:
            self._respond(session, submit, resp)
            if plan is not None:
                self._after(receipt_delay, lambda: self._send_receipt(submit, plan))

        if plan is not None and b.receipt_before_resp:
            self._send_receipt(submit, plan)
            self._after(b.submit_resp_delay, lambda: self._respond(session, submit, resp))
        else:
            self._after(b.submit_resp_delay, respond_then_receipt)

    def _record_submit(self, session: Session, pdu: Pdu) -> Submit:
        esm_class = pdu.number("esm_class")
        data_coding = pdu.number("data_coding")
        short = pdu.field("short_message") or b""
        payload = pdu.field("message_payload")
        octets = short if short or not payload else payload
        concat: text.Concat | None = None
        well_formed = True
        if esm_class & text.UDHI:
            concat, octets, well_formed = text.split_udh(octets)
        sar = None
        if pdu.field("sar_msg_ref_num") is not None:
            sar = {
                "ref": pdu.number("sar_msg_ref_num"),
                "total": pdu.number("sar_total_segments"),
                "seq": pdu.number("sar_segment_seqnum"),
            }
        decoded = text.decode(octets, data_coding)
        return Submit(
            session=session.id,
            sequence=pdu.sequence,
            command=pdu.command,
            service_type=pdu.text("service_type"),
            source_addr=pdu.text("source_addr"),
            source_addr_ton=pdu.number("source_addr_ton"),
            source_addr_npi=pdu.number("source_addr_npi"),
            destination_addr=pdu.text("destination_addr"),
            dest_addr_ton=pdu.number("dest_addr_ton"),
            dest_addr_npi=pdu.number("dest_addr_npi"),
            esm_class=esm_class,
            data_coding=data_coding,
            registered_delivery=pdu.number("registered_delivery"),
            udh=concat.json() if concat else None,
            sar=sar,
            payload=bool(payload) and not short,
            text=decoded.text,
            valid=decoded.valid and well_formed,
        )

    def _verdict(self, submit: Submit) -> int:
        b = self.behaviour
        if b.throttle_next:
            b.throttle_next -= 1
            return ESME_RTHROTTLED
        now = self.monotonic()
        if b.throttle_mps:
            while self._accepted and self._accepted[0] <= now - 1.0:
                self._accepted.popleft()
            if len(self._accepted) >= b.throttle_mps:
                return ESME_RTHROTTLED
        if b.reject_status:
            dest = submit.destination_addr.lstrip("+")
            prefixes = [p.lstrip("+") for p in b.reject_prefixes]
            if not prefixes or any(dest.startswith(p) for p in prefixes):
                return b.reject_status
        self._accepted.append(now)
        return ESME_ROK

    def _issue_id(self) -> str:
        value = next(self._message_ids)
        return f"{value:x}" if self.behaviour.message_ids == "hex" else str(value)

    def _respond(self, session: Session, submit: Submit, command: str) -> None:
        fields = {"message_id": submit.message_id} if submit.message_id else {}
        status = submit.status if submit.status is not None else ESME_ROK
        if session.send(encode(command, submit.sequence, status, **fields)):
            submit.responded = True

    # -- receipts and MO ----------------------------------------------------------------

    def _receipt_plan(self, submit: Submit) -> _ReceiptPlan | None:
        b = self.behaviour
        wanted = submit.registered_delivery & 0x03
        final_ok = b.receipt_stat == "DELIVRD"
        if not b.receipts or wanted == 0 or (wanted == 2 and final_ok):
            return None
        if wanted == 3 and not final_ok:  # SMPP 5.0's "success only"; some ESMEs send it
            return None
        assert submit.message_id is not None
        return _ReceiptPlan(
            stat=b.receipt_stat,
            err=b.receipt_err,
            command=b.receipt_command,
            tlvs=b.receipt_tlvs,
            quoted_id=quote_id(submit.message_id, b.message_ids, b.receipt_id_form),
            submitted=self.clock.now(),
        )

    def _send_receipt(self, submit: Submit, plan: _ReceiptPlan) -> None:
        body = receipt_text(
            plan.quoted_id, plan.stat, plan.err, plan.submitted, self.clock.now(), submit.text
        )
        octets = text.encode(body, "gsm", replace="?")
        fields: dict[str, Any] = {
            "source_addr_ton": submit.dest_addr_ton,
            "source_addr_npi": submit.dest_addr_npi,
            "source_addr": submit.destination_addr,
            "dest_addr_ton": submit.source_addr_ton,
            "dest_addr_npi": submit.source_addr_npi,
            "destination_addr": submit.source_addr,
            "esm_class": ESM_RECEIPT,
            "data_coding": 0,
        }
        fields["short_message" if plan.command == "deliver_sm" else "message_payload"] = octets
        if plan.tlvs:
            fields["receipted_message_id"] = plan.quoted_id
            fields["message_state"] = RECEIPT_STATES[plan.stat]
        self._deliver(
            Delivery(
                id=next(self._delivery_ids),
                kind="receipt",
                command=plan.command,
                source_addr=submit.destination_addr,
                destination_addr=submit.source_addr,
                esm_class=ESM_RECEIPT,
                data_coding=0,
                text=body,
                message_id=submit.message_id,
                receipt_id=plan.quoted_id,
                stat=plan.stat,
                fields=fields,
            )
        )

    def inject_mo(
        self,
        source: str,
        destination: str,
        body: str,
        encoding: text.Encoding = "gsm",
        split: text.Split = "udh8",
        max_part_len: int | None = None,
    ) -> list[Delivery]:
        """A message from a phone: one deliver_sm per part. Raises text.TextError."""
        parts = text.make_parts(body, encoding, split, next(self._refs), max_part_len)
        src, src_ton, src_npi = address(source)
        dst, dst_ton, dst_npi = address(destination)
        out: list[Delivery] = []
        for part in parts:
            fields: dict[str, Any] = {
                "source_addr_ton": src_ton,
                "source_addr_npi": src_npi,
                "source_addr": src,
                "dest_addr_ton": dst_ton,
                "dest_addr_npi": dst_npi,
                "destination_addr": dst,
                "esm_class": part.esm_class,
                "data_coding": text.DATA_CODING[encoding],
                **part.sar(),
            }
            fields["message_payload" if part.payload else "short_message"] = part.octets
            delivery = Delivery(
                id=next(self._delivery_ids),
                kind="mo",
                command="deliver_sm",
                source_addr=src,
                destination_addr=dst,
                esm_class=part.esm_class,
                data_coding=text.DATA_CODING[encoding],
                text=part.text,
                part=part.concat.json() if part.concat else None,
                fields=fields,
            )
            self._deliver(delivery)
            out.append(delivery)
        return out

    def _deliver(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        session = self._receiver()
        if session is not None:
            self._send_delivery(delivery, session)

    def _receiver(self) -> Session | None:
        return next((s for s in self.sessions.values() if s.receives), None)

    def _send_delivery(self, delivery: Delivery, session: Session) -> None:
        sequence = session.next_sequence()
        data = encode(delivery.command, sequence, **delivery.fields)
        delivery.session, delivery.sequence = session.id, sequence
        delivery.attempts += 1
        delivery.in_flight = True
        session.in_flight[sequence] = delivery
        session.send(data)

    def _send_pending(self, session: Session) -> None:
        for delivery in self.deliveries:
            if not delivery.acked and not delivery.in_flight:
                self._send_delivery(delivery, session)

    def _on_delivery_resp(self, session: Session, pdu: Pdu) -> None:
        delivery = session.in_flight.pop(pdu.sequence, None)
        if delivery is None:
            log.warning("session %d: %s for unknown seq %d", session.id, pdu.command, pdu.sequence)
            return
        delivery.in_flight = False
        delivery.resp_status = pdu.status
        delivery.acked = pdu.status == ESME_ROK

    # -- control ------------------------------------------------------------------------

    def drop(self) -> int:
        """Close every connection at once, without unbind."""
        live = [s for s in self.sessions.values() if s.open]
        for session in live:
            self._close(session, abort=True)
        return len(live)

    def unbind(self) -> int:
        """Ask every bound ESME to unbind; the socket closes when it answers."""
        bound = [s for s in self.sessions.values() if s.bound and not s.unbinding]
        for session in bound:
            session.unbinding = True
            session.send(encode("unbind", session.next_sequence()))
        return len(bound)

    def reset(self) -> None:
        """Start values of every behaviour, and no records; connections stay up."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.behaviour = self.initial.copy()
        self.submits.clear()
        self.deliveries.clear()
        self._accepted.clear()
        for session_id in [i for i, s in self.sessions.items() if not s.open]:
            del self.sessions[session_id]
        for session in self.sessions.values():
            session.in_flight.clear()

    def _after(self, delay: float, action: Callable[[], None]) -> None:
        if delay <= 0:
            action()
            return

        def fire() -> None:
            self._timers.discard(handle)
            action()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)
