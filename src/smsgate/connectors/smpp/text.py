"""Message text on SMPP: GSM 03.38, UCS-2 and Latin-1, and concatenated (long) messages.

Outbound bodies go as GSM 03.38 (data_coding 0, one septet per octet, extension characters
as ESC + code) when every character fits, else as UCS-2 (data_coding 8, UTF-16BE, astral
characters as surrogate pairs). A body too long for one SMS is split into parts that never
separate an escape from its character or a surrogate pair, and each part carries its place
in the whole: an 8-bit or 16-bit concatenation UDH (esm_class 0x40), SAR TLVs, or the
whole body in one ``message_payload`` TLV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from smsgate.domain.segments import (
    GSM7_ALPHABET,
    GSM7_ESCAPE,
    GSM7_EXTENSION,
    Encoding,
    analyze,
    split_gsm7,
    split_ucs2,
)

DC_DEFAULT: Final = 0x00  # SMSC default alphabet: GSM 03.38 here
DC_IA5: Final = 0x01
DC_LATIN1: Final = 0x03
DC_UCS2: Final = 0x08
ESM_UDHI: Final = 0x40

_GSM7_CODES: Final[dict[str, int]] = {
    char: code for code, char in enumerate(GSM7_ALPHABET) if code != GSM7_ESCAPE
}
_GSM7_EXTENSION_CHARS: Final[dict[int, str]] = {code: char for char, code in GSM7_EXTENSION.items()}

# capacity of one SMS, and of each part after its header, in septets (GSM) or units (UCS-2)
_SINGLE: Final = {Encoding.GSM7: 160, Encoding.UCS2: 70}
_PER_PART: Final = {
    "udh8": {Encoding.GSM7: 153, Encoding.UCS2: 67},
    "udh16": {Encoding.GSM7: 152, Encoding.UCS2: 66},
    "sar": {Encoding.GSM7: 153, Encoding.UCS2: 67},
}


class Concat(StrEnum):
    """How the parts of a long message say where they belong."""

    UDH8 = "udh8"
    UDH16 = "udh16"
    SAR = "sar"
    PAYLOAD = "payload"


@dataclass(frozen=True, slots=True)
class Part:
    """One submit_sm's worth of a message."""

    short_message: bytes
    data_coding: int
    esm_class: int = 0
    tlvs: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Concatenation:
    """Where a received part belongs: ``ref`` identifies the whole, ``seq`` is 1-based."""

    ref: int
    total: int
    seq: int


def encode_gsm7(text: str) -> bytes:
    """GSM 03.38, unpacked (one septet per octet). Raises ValueError for other characters."""
    out = bytearray()
    for char in text:
        code = _GSM7_CODES.get(char)
        if code is not None:
            out.append(code)
            continue
        ext = GSM7_EXTENSION.get(char)
        if ext is None:
            raise ValueError(f"{char!r} is not in the GSM 03.38 alphabet")
        out += bytes((GSM7_ESCAPE, ext))
    return bytes(out)


def decode_gsm7(data: bytes) -> str:
    """Unpacked GSM 03.38 to text. An unknown extension code reads as a space (03.38 §6.2.1.1)."""
    chars: list[str] = []
    escaped = False
    for byte in data:
        code = byte & 0x7F
        if escaped:
            chars.append(_GSM7_EXTENSION_CHARS.get(code, " "))
            escaped = False
        elif code == GSM7_ESCAPE:
            escaped = True
        else:
            chars.append(GSM7_ALPHABET[code])
    return "".join(chars)


def decode(data: bytes, data_coding: int) -> str:
    """A short message's text by its data_coding (SMPP 3.4 §5.2.19)."""
    coding = data_coding & 0xFF
    if coding == DC_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if coding == DC_DEFAULT:
        return decode_gsm7(data)
    if coding == DC_IA5:
        return data.decode("ascii", errors="replace")
    # Latin-1 (3), and for the octet codings (2, 4) the kindest reading of the bytes
    return data.decode("latin-1")


def split(body: str, concat: Concat, ref: int) -> list[Part]:
    """The submit_sm parts for ``body``; ``ref`` is the concatenation reference to use
    (8 or 16 bits as ``concat`` needs)."""
    info = analyze(body)
    ucs2 = info.encoding is Encoding.UCS2
    coding = DC_UCS2 if ucs2 else DC_DEFAULT
    encode = _encode_ucs2 if ucs2 else encode_gsm7
    if info.units <= _SINGLE[info.encoding]:
        return [Part(encode(body), coding)]
    if concat is Concat.PAYLOAD:
        return [Part(b"", coding, tlvs={"message_payload": encode(body)})]
    per_part = _PER_PART[concat.value][info.encoding]
    texts = split_ucs2(body, per_part) if ucs2 else split_gsm7(body, per_part)
    total = len(texts)
    parts: list[Part] = []
    for seq, text in enumerate(texts, start=1):
        data = encode(text)
        if concat is Concat.SAR:
            tlvs: dict[str, object] = {
                "sar_msg_ref_num": ref & 0xFFFF,
                "sar_total_segments": total,
                "sar_segment_seqnum": seq,
            }
            parts.append(Part(data, coding, tlvs=tlvs))
        elif concat is Concat.UDH16:
            udh = bytes((6, 0x08, 4, (ref >> 8) & 0xFF, ref & 0xFF, total, seq))
            parts.append(Part(udh + data, coding, ESM_UDHI))
        else:
            udh = bytes((5, 0x00, 3, ref & 0xFF, total, seq))
            parts.append(Part(udh + data, coding, ESM_UDHI))
    return parts


def split_udh(data: bytes) -> tuple[Concatenation | None, bytes]:
    """Take the user data header off a short message (esm_class UDHI set): the
    concatenation it announces, if any, and the text bytes after it."""
    if not data:
        return None, data
    length = data[0]
    header, rest = data[1 : 1 + length], data[1 + length :]
    found: Concatenation | None = None
    pos = 0
    while pos + 2 <= len(header):
        iei, size = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + size]
        if iei == 0x00 and size == 3 and len(value) == 3:
            found = Concatenation(value[0], value[1], value[2])
        elif iei == 0x08 and size == 4 and len(value) == 4:
            found = Concatenation((value[0] << 8) | value[1], value[2], value[3])
        pos += 2 + size
    return found, rest


def _encode_ucs2(text: str) -> bytes:
    return text.encode("utf-16-be")
