"""Short-message text as an SMSC sees it: data_coding, user data headers, SAR, splitting.

Deliberately its own small code, not shared with the connector: the simulator decodes what
the connector encodes, so a mistake on one side shows up instead of cancelling out.

* GSM 03.38 (data_coding 0), unpacked: one septet per octet, extension-table characters
  as ESC (0x1B) followed by their code.
* UCS-2 (data_coding 8): UTF-16 big-endian, astral characters as surrogate pairs.
* Latin-1 (data_coding 3).

Long texts are split into parts that never cut an extension character or a surrogate pair,
and carried with an 8-bit or 16-bit concatenation UDH, SAR TLVs, or one message_payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Encoding = Literal["gsm", "ucs2", "latin1"]
Split = Literal["udh8", "udh16", "sar", "payload"]

ENCODINGS: Final[tuple[Encoding, ...]] = ("gsm", "ucs2", "latin1")
SPLITS: Final[tuple[Split, ...]] = ("udh8", "udh16", "sar", "payload")
DATA_CODING: Final[dict[Encoding, int]] = {"gsm": 0, "ucs2": 8, "latin1": 3}

ESC: Final = 0x1B
UDHI: Final = 0x40  # esm_class bit: short_message starts with a user data header

# GSM 03.38 default alphabet, code points 0x00-0x7F in order (0x1B is the escape).
GSM_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: ESC followed by these codes.
GSM_EXTENSION: Final[dict[int, str]] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_GSM_ENCODE: Final[dict[str, bytes]] = {
    **{ch: bytes([code]) for code, ch in enumerate(GSM_BASIC) if code != ESC},
    **{ch: bytes([ESC, code]) for code, ch in GSM_EXTENSION.items()},
}

# Units per part: (single message, with an 8-bit UDH, with a 16-bit UDH). Units are
# septets for GSM, UTF-16 code units for UCS-2, octets for Latin-1.
_LIMITS: Final[dict[Encoding, tuple[int, int, int]]] = {
    "gsm": (160, 153, 152),
    "ucs2": (70, 67, 66),
    "latin1": (140, 134, 133),
}


class TextError(ValueError):
    """A text cannot be encoded as asked."""


def gsm_encodable(text: str) -> bool:
    return all(ch in _GSM_ENCODE for ch in text)


def encode_chars(text: str, encoding: Encoding, *, replace: str | None = None) -> list[bytes]:
    """Each character's encoded octets, so a split can keep characters whole."""
    if encoding == "gsm":
        out: list[bytes] = []
        for ch in text:
            code = _GSM_ENCODE.get(ch)
            if code is None:
                if replace is None:
                    raise TextError(f"{ch!r} is not in the GSM 03.38 alphabet")
                code = _GSM_ENCODE[replace]
            out.append(code)
        return out
    if encoding == "ucs2":
        return [ch.encode("utf-16-be") for ch in text]
    try:
        return [ch.encode("latin-1") for ch in text]
    except UnicodeEncodeError as exc:
        raise TextError(f"{exc.object[exc.start]!r} is not in Latin-1") from None


def encode(text: str, encoding: Encoding, *, replace: str | None = None) -> bytes:
    return b"".join(encode_chars(text, encoding, replace=replace))


def unit_size(encoding: Encoding) -> int:
    return 2 if encoding == "ucs2" else 1


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    valid: bool  # False: the octets are not well-formed in that coding (cut char, bad code)


def decode(data: bytes, data_coding: int) -> Decoded:
    """Decode short-message octets by data_coding (0 GSM, 1 ASCII, 3 Latin-1, 8 UCS-2)."""
    if data_coding == 0:
        return decode_gsm(data)
    if data_coding == 8:
        if len(data) % 2:
            return Decoded(data[:-1].decode("utf-16-be", "replace") + "\ufffd", False)
        try:
            return Decoded(data.decode("utf-16-be"), True)
        except UnicodeDecodeError:
            return Decoded(data.decode("utf-16-be", "replace"), False)
    if data_coding == 1:
        return Decoded(data.decode("ascii", "replace"), data.isascii())
    return Decoded(data.decode("latin-1"), data_coding == 3)


def decode_gsm(data: bytes) -> Decoded:
    chars: list[str] = []
    valid = True
    i = 0
    while i < len(data):
        code = data[i]
        i += 1
        if code >= 0x80:
            chars.append("\ufffd")
            valid = False
        elif code == ESC:
            if i >= len(data):
                chars.append("\ufffd")  # an extension character cut in two
                valid = False
                break
            ext = GSM_EXTENSION.get(data[i])
            if ext is None:
                chars.append("\ufffd")
                valid = False
            else:
                chars.append(ext)
            i += 1
        else:
            chars.append(GSM_BASIC[code])
    return Decoded("".join(chars), valid)


@dataclass(frozen=True, slots=True)
class Concat:
    """Where a part sits in a concatenated message."""

    ref: int
    total: int
    seq: int
    bits: int  # 8 or 16 for a UDH, 0 for SAR TLVs

    def json(self) -> dict[str, int]:
        return {"ref": self.ref, "total": self.total, "seq": self.seq, "bits": self.bits}


def split_udh(data: bytes) -> tuple[Concat | None, bytes, bool]:
    """(concatenation info, text octets, well-formed) of a short_message with UDHI set."""
    if not data:
        return None, b"", False
    length = data[0]
    header, rest = data[1 : 1 + length], data[1 + length :]
    if len(header) != length:
        return None, b"", False
    concat: Concat | None = None
    i = 0
    while i + 2 <= len(header):
        iei, iel = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + iel]
        if len(value) != iel:
            return concat, rest, False
        if iei == 0x00 and iel == 3:
            concat = Concat(value[0], value[1], value[2], 8)
        elif iei == 0x08 and iel == 4:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3], 16)
        i += 2 + iel
    return concat, rest, i == len(header)


def udh(concat: Concat) -> bytes:
    if concat.bits == 16:
        return bytes([6, 0x08, 4, concat.ref >> 8, concat.ref & 0xFF, concat.total, concat.seq])
    return bytes([5, 0x00, 3, concat.ref & 0xFF, concat.total, concat.seq])


@dataclass(frozen=True, slots=True)
class Part:
    """One deliver_sm's worth of a message."""

    text: str
    octets: bytes  # short_message (UDH included) or message_payload
    esm_class: int
    concat: Concat | None
    payload: bool  # carried in message_payload instead of short_message

    def sar(self) -> dict[str, int]:
        if self.concat is None or self.concat.bits:
            return {}
        return {
            "sar_msg_ref_num": self.concat.ref,
            "sar_total_segments": self.concat.total,
            "sar_segment_seqnum": self.concat.seq,
        }


def make_parts(
    text: str, encoding: Encoding, split: Split, ref: int, max_part_len: int | None = None
) -> list[Part]:
    """Split ``text`` for delivery. ``max_part_len`` (units per part) forces smaller parts;
    by default a text that fits one message is sent whole, without UDH or SAR."""
    chars = encode_chars(text, encoding)
    if split == "payload":
        return [Part(text, b"".join(chars), 0, None, True)]
    single, with_udh8, with_udh16 = _LIMITS[encoding]
    per_part = {"udh8": with_udh8, "udh16": with_udh16, "sar": single}[split]
    size = unit_size(encoding)
    total_units = sum(len(c) for c in chars) // size
    if max_part_len is None:
        if total_units <= single:
            return [Part(text, b"".join(chars), 0, None, False)]
    else:
        if max_part_len < 2:
            raise TextError("max_part_len must be at least 2")
        per_part = max_part_len
    groups: list[tuple[str, bytes]] = []
    chunk: list[bytes] = []
    chunk_text: list[str] = []
    used = 0
    for ch, octets in zip(text, chars, strict=True):
        units = len(octets) // size
        if used + units > per_part:
            groups.append(("".join(chunk_text), b"".join(chunk)))
            chunk, chunk_text, used = [], [], 0
        chunk.append(octets)
        chunk_text.append(ch)
        used += units
    groups.append(("".join(chunk_text), b"".join(chunk)))
    if len(groups) == 1:
        return [Part(text, groups[0][1], 0, None, False)]
    if len(groups) > 255:
        raise TextError("text needs more than 255 parts")
    bits = {"udh8": 8, "udh16": 16, "sar": 0}[split]
    ref &= 0xFF if bits == 8 else 0xFFFF
    parts: list[Part] = []
    for seq, (part_text, octets) in enumerate(groups, start=1):
        concat = Concat(ref, len(groups), seq, bits)
        if bits:
            parts.append(Part(part_text, udh(concat) + octets, UDHI, concat, False))
        else:
            parts.append(Part(part_text, octets, 0, concat, False))
    return parts
