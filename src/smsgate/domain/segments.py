"""SMS encoding and segment counting, the way Twilio bills a message body.

A body that uses only the GSM 03.38 default alphabet (plus its extension table) is sent
as GSM-7: 160 septets fit one SMS, and a concatenated message carries 153 septets per
segment (the 6-byte user data header eats the rest). Any other character switches the
whole body to UCS-2: 70 UTF-16 code units fit one SMS, 67 per concatenated segment.

Segments are counted by actually splitting the body, because a character never straddles
two segments: a 2-septet extension character or a 2-unit astral character (emoji) that
would overflow a segment moves wholly into the next one, so a segment may hold 152 septets
or 66 units and the count can exceed ``ceil(units / per_segment)``.

Pure and table-driven: no I/O, standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "GSM7_ALPHABET",
    "GSM7_ESCAPE",
    "GSM7_EXTENSION",
    "Encoding",
    "SegmentInfo",
    "analyze",
    "is_gsm7",
    "smart_encode",
    "split_gsm7",
    "split_ucs2",
]


class Encoding(StrEnum):
    """Wire encoding of an SMS body; ``str()`` and f-strings render the value (``"GSM-7"``)."""

    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How a body is encoded and how many billable segments it needs."""

    encoding: Encoding
    num_segments: int
    units: int
    per_segment: int
    non_gsm_chars: tuple[str, ...]


# --- GSM 03.38 tables -------------------------------------------------------------------

# The default alphabet in code-point order, 16 per row (0x00-0x7F). 0x1B is the escape to
# the extension table, not a character: the SMPP codec (connectors.smpp.text) encodes by
# index into this string.
GSM7_ALPHABET: Final[str] = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00-0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10-0x1F (0x1B: ESC)
    " !\"#¤%&'()*+,-./"  # 0x20-0x2F
    "0123456789:;<=>?"  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50-0x5F
    "¿abcdefghijklmno"  # 0x60-0x6F
    "pqrstuvwxyzäöñüà"  # 0x70-0x7F
)
GSM7_ESCAPE: Final = 0x1B

# Extension table: each is sent as ESC + code, so it costs 2 septets.
GSM7_EXTENSION: Final[dict[str, int]] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

_GSM7_BASIC: Final[frozenset[str]] = frozenset(GSM7_ALPHABET) - {chr(GSM7_ESCAPE)}
_GSM7_EXTENSION: Final[frozenset[str]] = frozenset(GSM7_EXTENSION)


@dataclass(frozen=True, slots=True)
class _Limits:
    single: int  # capacity of a lone SMS
    multi: int  # capacity of each part of a concatenated SMS


_LIMITS: Final[dict[Encoding, _Limits]] = {
    Encoding.GSM7: _Limits(single=160, multi=153),
    Encoding.UCS2: _Limits(single=70, multi=67),
}

_GSM7_SINGLE: Final = _LIMITS[Encoding.GSM7].single
_GSM7_MULTI: Final = _LIMITS[Encoding.GSM7].multi

_MAX_CHAR_COST: Final = 2  # widest character in either encoding, in units

# --- Smart encoding (Unicode look-alikes -> GSM-7) ------------------------------------

# replacement -> characters it stands in for. Written as escapes: most are invisible or
# indistinguishable from their replacement in an editor.
_LOOKALIKES: Final[tuple[tuple[str, str], ...]] = (
    # single quotes, primes, apostrophes, accents used as apostrophes
    ("'", "\u2018\u2019\u201a\u201b\u2032\u2035\u02b9\u02bb\u02bc\u02bd\u02c8\u02ca\u02cb"),
    ("'", "\u00b4\u0060\u275b\u275c"),
    # double quotes, double primes, guillemets
    ('"', "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u02ba\u02ee\u275d\u275e"),
    ('"', "\u301d\u301e"),
    # single angle quotes
    ("<", "\u2039"),
    (">", "\u203a"),
    # hyphens and dashes, minus sign, bullets
    ("-", "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\u2022\u2023\u2219"),
    # ellipsis and double exclamation
    ("...", "\u2026"),
    ("!!", "\u203c"),
    # spaces (no-break, typographic, ideographic) and line/paragraph separators
    (" ", "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"),
    (" ", "\u202f\u205f\u3000\u2028\u2029"),
    # zero-width and invisible formatting characters, soft hyphen: dropped
    ("", "\u200b\u200c\u200d\u2060\ufeff\u00ad"),
    # spacing modifier letters
    ("^", "\u02c6"),
    ("~", "\u02dc"),
    # slashes
    ("/", "\u2044\u2215"),
    # CJK punctuation
    (",", "\u3001"),
    (".", "\u3002"),
)

_LOOKALIKE_MAP: Final[dict[str, str]] = {
    char: replacement for replacement, chars in _LOOKALIKES for char in chars
}

# Fullwidth ASCII forms U+FF01-U+FF5E sit at a fixed offset from ASCII 0x21-0x7E. Their
# ASCII twin goes through the look-alike map too: ASCII ` is not GSM-7, so fullwidth ` -> '.
_FULLWIDTH_OFFSET: Final = 0xFF01 - 0x21
_FULLWIDTH: Final[dict[str, str]] = {
    chr(code + _FULLWIDTH_OFFSET): _LOOKALIKE_MAP.get(chr(code), chr(code))
    for code in range(0x21, 0x7F)
}

_SMART_ENCODING_MAP: Final[dict[str, str]] = {**_LOOKALIKE_MAP, **_FULLWIDTH}

_SMART_TRANSLATION: Final = str.maketrans(_SMART_ENCODING_MAP)


# --- Public API -------------------------------------------------------------------------


def is_gsm7(body: str) -> bool:
    """True when every character is in the GSM-7 default alphabet or extension table."""
    return all(_is_gsm7_char(char) for char in body)


def smart_encode(body: str) -> str:
    """Replace Unicode look-alikes (smart quotes, dashes, odd spaces...) with GSM-7 text.

    Characters without a look-alike (emoji, Cyrillic, CJK...) are kept as they are, so the
    result is GSM-7 only if every non-GSM character had a replacement.
    """
    return body.translate(_SMART_TRANSLATION)


def split_gsm7(body: str, per_part: int = 153) -> list[str]:
    """Split a GSM-7 body into parts of at most ``per_part`` septets.

    An extension character (2 septets) is never split from its escape: if it would
    overflow a part it starts the next one. Raises ValueError for non-GSM-7 text.
    """
    return _split(body, per_part, _gsm7_cost)


def split_ucs2(body: str, per_part: int = 67) -> list[str]:
    """Split a body into parts of at most ``per_part`` UTF-16 code units.

    An astral character (a surrogate pair, 2 units) is never split: if it would overflow
    a part it starts the next one.
    """
    return _split(body, per_part, _ucs2_cost)


def analyze(body: str) -> SegmentInfo:
    """Encoding, size and segment count of ``body`` as sent (no smart encoding applied)."""
    if _GSM7_BASIC.issuperset(body):
        # The common case, checked in C: one septet per character, so no character can
        # straddle two segments and the count is a plain division.
        units = len(body)
        if units <= _GSM7_SINGLE:
            return SegmentInfo(Encoding.GSM7, 1 if body else 0, units, _GSM7_SINGLE, ())
        return SegmentInfo(Encoding.GSM7, -(-units // _GSM7_MULTI), units, _GSM7_MULTI, ())
    non_gsm = _non_gsm_chars(body)
    if non_gsm:
        return _measure(body, Encoding.UCS2, _ucs2_cost, split_ucs2, non_gsm)
    return _measure(body, Encoding.GSM7, _gsm7_cost, split_gsm7, ())


# --- Helpers ----------------------------------------------------------------------------


def _is_gsm7_char(char: str) -> bool:
    return char in _GSM7_BASIC or char in _GSM7_EXTENSION


def _gsm7_cost(char: str) -> int:
    if char in _GSM7_BASIC:
        return 1
    if char in _GSM7_EXTENSION:
        return 2
    raise ValueError(f"{char!r} (U+{ord(char):04X}) is not a GSM-7 character")


def _ucs2_cost(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _non_gsm_chars(body: str) -> tuple[str, ...]:
    # dict keeps first-appearance order and drops repeats
    return tuple(dict.fromkeys(char for char in body if not _is_gsm7_char(char)))


def _measure(
    body: str,
    encoding: Encoding,
    cost: Callable[[str], int],
    split: Callable[[str, int], list[str]],
    non_gsm: tuple[str, ...],
) -> SegmentInfo:
    limits = _LIMITS[encoding]
    units = sum(cost(char) for char in body)
    if units <= limits.single:
        segments = 1 if body else 0
        return SegmentInfo(encoding, segments, units, limits.single, non_gsm)
    segments = len(split(body, limits.multi))
    return SegmentInfo(encoding, segments, units, limits.multi, non_gsm)


def _split(body: str, per_part: int, cost: Callable[[str], int]) -> list[str]:
    """Greedy split: fill each part until the next character would not fit."""
    if per_part < _MAX_CHAR_COST:
        raise ValueError(f"per_part must be at least {_MAX_CHAR_COST}, got {per_part}")
    parts: list[str] = []
    start = used = 0
    for index, char in enumerate(body):
        char_cost = cost(char)
        if used + char_cost > per_part:
            parts.append(body[start:index])
            start, used = index, 0
        used += char_cost
    if start < len(body):
        parts.append(body[start:])
    return parts
