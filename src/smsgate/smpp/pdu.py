"""SMPP 3.4 PDUs: framing on an asyncio stream, and smpplib's codec behind a typed face.

smpplib builds and parses every PDU generically from field tables (one per command, the
spec as data). Its objects are untyped and ask a "client" for sequence numbers; this module
gives both sides of a session three calls instead:

    encode(command, sequence, status=0, **fields) -> bytes
    decode(data) -> Pdu            (command name, status, sequence, fields by attribute)
    await read_pdu(reader) -> bytes

Unknown optional parameters (vendor TLVs) are skipped with a log line rather than failing
the PDU, because real SMSCs send them.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any, Final

import smpplib.command
import smpplib.command_codes
import smpplib.exceptions
import smpplib.smpp

HEADER: Final = struct.Struct(">LLLL")
MAX_PDU_LENGTH: Final = 64 * 1024  # far above any SMPP 3.4 PDU; guards against garbage

# command_status values we act on (SMPP 3.4 §5.1.3)
ESME_ROK: Final = 0x00
ESME_RINVMSGLEN: Final = 0x01
ESME_RINVCMDLEN: Final = 0x02
ESME_RINVCMDID: Final = 0x03
ESME_RINVBNDSTS: Final = 0x04
ESME_RALYBND: Final = 0x05
ESME_RSYSERR: Final = 0x08
ESME_RINVSRCADR: Final = 0x0A
ESME_RINVDSTADR: Final = 0x0B
ESME_RBINDFAIL: Final = 0x0D
ESME_RINVPASWD: Final = 0x0E
ESME_RINVSYSID: Final = 0x0F
ESME_RMSGQFUL: Final = 0x14
ESME_RTHROTTLED: Final = 0x58
ESME_RX_T_APPN: Final = 0x64
ESME_RX_P_APPN: Final = 0x65
ESME_RX_R_APPN: Final = 0x66
ESME_RDELIVERYFAILURE: Final = 0xFE
ESME_RUNKNOWNERR: Final = 0xFF


class PduError(Exception):
    """A PDU could not be framed or decoded. ``sequence`` is set when the header was read,
    so the peer can be answered with ``generic_nack``."""

    def __init__(self, message: str, *, sequence: int | None = None, status: int = 0) -> None:
        super().__init__(message)
        self.sequence = sequence
        self.status = status


class _NoSequence:
    """smpplib asks the PDU's "client" for sequence numbers; ours are set explicitly."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_CLIENT: Final = _NoSequence()


@dataclass(frozen=True, slots=True)
class Pdu:
    """One decoded PDU. ``body`` is smpplib's command object: fields are attributes named
    as in the spec (``short_message``, ``receipted_message_id`` …), bytes for strings."""

    command: str
    status: int
    sequence: int
    body: Any

    def field(self, name: str) -> Any:
        return getattr(self.body, name, None)

    def text(self, name: str) -> str:
        """A C-octet-string field as text ('' when absent)."""
        value = getattr(self.body, name, None)
        if value is None:
            return ""
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return str(value)

    def number(self, name: str, default: int = 0) -> int:
        value = getattr(self.body, name, None)
        return default if value is None else int(value)

    @property
    def is_response(self) -> bool:
        return self.command.endswith("_resp") or self.command == "generic_nack"


def command_id(command: str) -> int:
    return int(smpplib.command_codes.get_command_code(command))


def encode(command: str, sequence: int, status: int = ESME_ROK, **fields: Any) -> bytes:
    """One PDU on the wire. Fields not given take the spec's defaults (0 / empty)."""
    body = smpplib.smpp.make_pdu(command, client=_CLIENT, allow_unknown_opt_params=True, **fields)
    body.sequence = sequence
    body.status = status
    data: bytes = body.generate()
    return data


def header(data: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number)."""
    length, cid, status, sequence = HEADER.unpack_from(data)
    return length, cid, status, sequence


def decode(data: bytes) -> Pdu:
    if len(data) < HEADER.size:
        raise PduError("PDU shorter than its header")
    length, cid, status, sequence = header(data)
    if length != len(data):
        raise PduError("command_length does not match the PDU", sequence=sequence)
    try:
        name = smpplib.command_codes.get_command_name(cid)
    except smpplib.exceptions.UnknownCommandError as exc:
        raise PduError(str(exc), sequence=sequence, status=ESME_RINVCMDID) from exc
    try:
        body = smpplib.smpp.make_pdu(name, client=_CLIENT, allow_unknown_opt_params=True)
        body.parse(data)
    except smpplib.exceptions.UnknownCommandError as exc:
        raise PduError(str(exc), sequence=sequence, status=ESME_RINVCMDID) from exc
    except (struct.error, KeyError, IndexError, ValueError, TypeError) as exc:
        raise PduError(f"malformed {name}: {exc}", sequence=sequence, status=ESME_RSYSERR) from exc
    return Pdu(name, status, sequence, body)


async def read_pdu(reader: asyncio.StreamReader) -> bytes:
    """The next whole PDU from the stream. Raises asyncio.IncompleteReadError at EOF and
    PduError for a length no PDU can have (the session must then be dropped)."""
    head = await reader.readexactly(4)
    (length,) = struct.unpack(">L", head)
    if length < HEADER.size or length > MAX_PDU_LENGTH:
        raise PduError(f"impossible command_length {length}")
    return head + await reader.readexactly(length - 4)
