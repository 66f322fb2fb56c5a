"""Segment counting and smart encoding, checked against hand-computed examples.

Expected values are worked out by hand (comments show the arithmetic) and written as
literals; the property tests use helpers defined here, independent of the module.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Callable

import pytest

from smsgate.domain.segments import (
    Encoding,
    SegmentInfo,
    analyze,
    is_gsm7,
    smart_encode,
    split_gsm7,
    split_ucs2,
)

GSM7 = Encoding.GSM7
UCS2 = Encoding.UCS2

ZHE = "\u0436"  # Cyrillic small zhe: BMP, not GSM-7
BE = "\u0431"  # Cyrillic small be
GRIN = "\U0001f600"  # grinning face: astral, a surrogate pair in UTF-16
ROCKET = "\U0001f680"
EURO = "\u20ac"  # GSM-7 extension table: 2 septets

# GSM 03.38 default alphabet written independently of the module, non-ASCII as escapes.
GSM_BASIC_LITERAL = (
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9"
    " !\"#\u00a4%&'()*+,-./0123456789:;<=>?"
    "\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"
    "\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"
)
GSM_EXTENSION_LITERAL = "\f^{}\\[~]|\u20ac"


def septets(text: str) -> int:
    return sum(2 if char in GSM_EXTENSION_LITERAL else 1 for char in text)


def utf16_units(text: str) -> int:
    # strict encoding: a lone surrogate would raise here
    return len(text.encode("utf-16-le")) // 2


# --- analyze ---------------------------------------------------------------------------

# (body, encoding, num_segments, units, per_segment)
ANALYZE_CASES = [
    pytest.param("", GSM7, 0, 0, 160, id="empty"),
    pytest.param("a", GSM7, 1, 1, 160, id="one-char"),
    pytest.param("a" * 160, GSM7, 1, 160, 160, id="gsm-160"),
    pytest.param("a" * 161, GSM7, 2, 161, 153, id="gsm-161"),
    pytest.param("a" * 306, GSM7, 2, 306, 153, id="gsm-306=2x153"),
    pytest.param("a" * 307, GSM7, 3, 307, 153, id="gsm-307"),
    pytest.param("\u00e9" * 160, GSM7, 1, 160, 160, id="e-acute-is-gsm"),
    pytest.param("a" * 158 + EURO, GSM7, 1, 160, 160, id="158+euro=160-septets"),
    pytest.param("a" * 159 + EURO, GSM7, 2, 161, 153, id="159+euro=161-septets"),
    pytest.param(EURO * 80, GSM7, 1, 160, 160, id="80-euro"),
    # 81 euro = 162 septets; 76 euro (152 septets) per part -> 76 + 5
    pytest.param(EURO * 81, GSM7, 2, 162, 153, id="81-euro"),
    # 306 septets would be 2x153, but the euro at index 152 cannot straddle:
    # 152 | euro + 151 (153) | 1 -> 3 parts
    pytest.param("a" * 152 + EURO + "a" * 152, GSM7, 3, 306, 153, id="euro-straddle-costs-1"),
    # 1600 / 153 -> 10 full parts (1530) + 70
    pytest.param("a" * 1600, GSM7, 11, 1600, 153, id="gsm-1600"),
    # 3200 septets; 76 euro per part: 21 parts (1596) + 4 euro -> 22 (naive 3200/153 -> 21)
    pytest.param(EURO * 1600, GSM7, 22, 3200, 153, id="euro-1600"),
    pytest.param(ZHE * 70, UCS2, 1, 70, 70, id="ucs2-70"),
    pytest.param(ZHE * 71, UCS2, 2, 71, 67, id="ucs2-71"),
    pytest.param(ZHE * 134, UCS2, 2, 134, 67, id="ucs2-134=2x67"),
    pytest.param(ZHE * 135, UCS2, 3, 135, 67, id="ucs2-135"),
    pytest.param("a" * 69 + ZHE, UCS2, 1, 70, 70, id="one-non-gsm-switches-all"),
    pytest.param(GRIN * 35, UCS2, 1, 70, 70, id="35-emoji=70-units"),
    pytest.param(GRIN * 36, UCS2, 2, 72, 67, id="36-emoji=72-units"),
    # 66 + 2 + 3 = 71 units; the emoji would end at unit 68 > 67 -> 66 | emoji+3
    pytest.param("a" * 66 + GRIN + "aaa", UCS2, 2, 71, 67, id="emoji-straddle"),
    # 134 units would be 2x67, but 33 emoji (66 units) per part -> 33 + 33 + 1
    pytest.param(GRIN * 67, UCS2, 3, 134, 67, id="67-emoji-needs-3"),
    # 1600 / 67 -> 23 full parts (1541) + 59
    pytest.param(ZHE * 1600, UCS2, 24, 1600, 67, id="ucs2-1600"),
    # 1600 units; 33 emoji per part -> 24 parts (792) + 8 emoji -> 25 (naive 24)
    pytest.param(GRIN * 800, UCS2, 25, 1600, 67, id="emoji-1600-units"),
]


@pytest.mark.parametrize(("body", "encoding", "segments", "units", "per_segment"), ANALYZE_CASES)
def test_analyze(
    body: str, encoding: Encoding, segments: int, units: int, per_segment: int
) -> None:
    info = analyze(body)

    assert (info.encoding, info.num_segments, info.units, info.per_segment) == (
        encoding,
        segments,
        units,
        per_segment,
    )


@pytest.mark.parametrize(("body", "encoding", "segments", "units", "per_segment"), ANALYZE_CASES)
def test_num_segments_matches_actual_split(
    body: str, encoding: Encoding, segments: int, units: int, per_segment: int
) -> None:
    split = split_gsm7 if encoding is GSM7 else split_ucs2
    parts = split(body, per_segment)

    assert len(parts) == segments


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("hello", ()),
        ("hello \u20ac[x]", ()),
        ("hello " + ZHE, (ZHE,)),
        (ZHE + "a" + ZHE + BE + ZHE + GRIN, (ZHE, BE, GRIN)),
        ("caf\u00e9 \u00e7a", ("\u00e7",)),  # e-acute is GSM-7, c-cedilla (lower) is not
        ("\u201cHi\u201d", ("\u201c", "\u201d")),
        (GRIN + ROCKET + GRIN, (GRIN, ROCKET)),
    ],
)
def test_non_gsm_chars_distinct_in_first_appearance_order(
    body: str, expected: tuple[str, ...]
) -> None:
    assert analyze(body).non_gsm_chars == expected


def test_analyze_full_result_for_mixed_body() -> None:
    assert analyze("hello " + ZHE) == SegmentInfo(UCS2, 1, 7, 70, (ZHE,))


def test_segment_info_is_frozen() -> None:
    info = analyze("hi")

    with pytest.raises(dataclasses.FrozenInstanceError):
        info.units = 3  # type: ignore[misc]


def test_encoding_values_render_as_twilio_strings() -> None:
    assert Encoding.GSM7.value == "GSM-7"
    assert Encoding("UCS-2") is Encoding.UCS2
    assert f"{Encoding.GSM7}" == "GSM-7"
    assert isinstance(Encoding.UCS2, str)
    assert str(Encoding.UCS2) == "UCS-2"


# --- is_gsm7 ---------------------------------------------------------------------------


def test_gsm_literal_tables_have_spec_sizes() -> None:
    # 128 code points minus ESC (0x1B); 10 extension characters
    assert (len(GSM_BASIC_LITERAL), len(set(GSM_BASIC_LITERAL))) == (127, 127)
    assert len(GSM_EXTENSION_LITERAL) == 10


def test_whole_basic_alphabet_is_one_septet_each() -> None:
    assert analyze(GSM_BASIC_LITERAL) == SegmentInfo(GSM7, 1, 127, 160, ())


def test_whole_extension_table_is_two_septets_each() -> None:
    assert analyze(GSM_EXTENSION_LITERAL) == SegmentInfo(GSM7, 1, 20, 160, ())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", True),
        ("Hello, world!", True),
        ("\u00c7a co\u00fbte", False),  # u-circumflex is not GSM-7
        ("\u00c7", True),  # capital C-cedilla is in the default alphabet
        ("\u00e7", False),  # small c-cedilla is not
        ("\u00e1", False),
        ("\u00ea", False),
        ("\u00c3", False),
        ("`", False),
        ("\t", False),
        ("\x1b", False),  # the escape code itself is not a character
        ("\x00", False),
        ("\u2126", False),  # OHM SIGN, not GREEK CAPITAL OMEGA
        ("\u03a9", True),
        ("\u03c9", False),  # small omega
        (EURO + "[]{}", True),
        ("line\r\nbreak", True),
        ("\f", True),
        (ZHE, False),
        (GRIN, False),
    ],
)
def test_is_gsm7(body: str, expected: bool) -> None:
    assert is_gsm7(body) is expected


def test_is_gsm7_accepts_exactly_the_two_tables_in_the_bmp() -> None:
    gsm = set(GSM_BASIC_LITERAL) | set(GSM_EXTENSION_LITERAL)
    mismatches = [
        f"U+{code:04X}"
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF and is_gsm7(chr(code)) != (chr(code) in gsm)
    ]

    assert mismatches == []


# --- split -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "per_part", "expected"),
    [
        ("", 153, []),
        ("abc", 153, ["abc"]),
        ("abc", 2, ["ab", "c"]),
        ("a" + EURO + "b", 2, ["a", EURO, "b"]),
        ("a" * 159 + EURO, 153, ["a" * 153, "a" * 6 + EURO]),
        ("a" * 153 + EURO, 153, ["a" * 153, EURO]),
        # extension char at position 153 would need septets 153-154: moves wholly on
        ("a" * 152 + EURO + "a" * 10, 153, ["a" * 152, EURO + "a" * 10]),
        ("a" * 152 + "\\" + "b", 153, ["a" * 152, "\\b"]),
        ("a" * 307, 153, ["a" * 153, "a" * 153, "a"]),
    ],
)
def test_split_gsm7(body: str, per_part: int, expected: list[str]) -> None:
    assert split_gsm7(body, per_part) == expected


@pytest.mark.parametrize(
    ("body", "per_part", "expected"),
    [
        ("", 67, []),
        (ZHE * 135, 67, [ZHE * 67, ZHE * 67, ZHE]),
        ("a" + GRIN + "b", 2, ["a", GRIN, "b"]),
        (GRIN * 36, 67, [GRIN * 33, GRIN * 3]),
        # the emoji would occupy units 67-68: moves wholly to the next part
        ("a" * 66 + GRIN + "aaa", 67, ["a" * 66, GRIN + "aaa"]),
        ("a" * 65 + GRIN + "aaa", 67, ["a" * 65 + GRIN, "aaa"]),
        (ZHE * 67 + GRIN * 34, 67, [ZHE * 67, GRIN * 33, GRIN]),
    ],
)
def test_split_ucs2(body: str, per_part: int, expected: list[str]) -> None:
    assert split_ucs2(body, per_part) == expected


@pytest.mark.parametrize(
    "body",
    [
        "a" * 66 + GRIN + "aaa",
        ZHE * 66 + GRIN + ZHE * 66 + GRIN + ZHE * 66 + GRIN,
        GRIN * 800,
    ],
)
def test_split_ucs2_never_breaks_a_surrogate_pair(body: str) -> None:
    parts = split_ucs2(body)

    # strict UTF-16 round trip fails on a lone surrogate
    assert [p.encode("utf-16-le").decode("utf-16-le") for p in parts] == parts
    assert all(utf16_units(p) <= 67 for p in parts)
    assert "".join(parts) == body
    assert analyze(body).num_segments == len(parts)


def test_split_gsm7_rejects_non_gsm_text() -> None:
    with pytest.raises(ValueError, match="not a GSM-7 character"):
        split_gsm7("hello " + ZHE)


@pytest.mark.parametrize("per_part", [-1, 0, 1])
@pytest.mark.parametrize("split", [split_gsm7, split_ucs2])
def test_split_rejects_parts_too_small_for_a_two_unit_char(
    split: Callable[[str, int], list[str]], per_part: int
) -> None:
    with pytest.raises(ValueError, match="per_part"):
        split("abc", per_part)


# --- smart_encode ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("\u201cHi\u201d \u2013 it\u2019s\u2026", '"Hi" - it\'s...'),
        ("\u2018a\u2019 \u201ab\u201b \u2032", "'a' 'b' '"),
        ("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"""""""'),
        ("\u2010\u2011\u2012\u2013\u2014\u2015", "------"),
        ("wait\u2026", "wait..."),
        ("a\u00a0b\u2000c\u200ad\u202fe\u205ff\u3000g", "a b c d e f g"),
        ("a\u200bb\u200cc\u200dd\u2060e\ufefff", "abcdef"),
        ("co\u00adop", "coop"),
        ("\u2022 one", "- one"),
        ("\uff28\uff45\uff4c\uff4c\uff4f\uff01", "Hello!"),
        ("\uff01\uff5e", "!~"),  # both ends of the fullwidth block
        ("\u02c6\u02dc", "^~"),
        ("plain text", "plain text"),
        ("caf\u00e9", "caf\u00e9"),  # already GSM-7
        (ZHE, ZHE),  # no look-alike
        (GRIN + " \u201cok\u201d", GRIN + ' "ok"'),  # emoji kept, quotes replaced
        ("", ""),
    ],
)
def test_smart_encode(body: str, expected: str) -> None:
    assert smart_encode(body) == expected


def test_smart_encode_turns_typographic_text_into_one_gsm_segment() -> None:
    body = "\u201cHi\u201d \u2013 it\u2019s\u2026"

    assert analyze(body) == SegmentInfo(
        UCS2, 1, 12, 70, ("\u201c", "\u201d", "\u2013", "\u2019", "\u2026")
    )
    # '"Hi" - it\'s...' is 4 + 1 + 1 + 1 + 4 + 3 = 14 septets
    assert analyze(smart_encode(body)) == SegmentInfo(GSM7, 1, 14, 160, ())


def test_smart_encode_leaves_emoji_message_in_ucs2() -> None:
    info = analyze(smart_encode("Great \u2014 " + GRIN))

    assert (info.encoding, info.non_gsm_chars) == (UCS2, (GRIN,))


BRIEF_LOOKALIKES = [
    # quotes
    0x2018, 0x2019, 0x201A, 0x201B, 0x2032, 0x201C, 0x201D, 0x201E, 0x201F, 0x2033,
    0x00AB, 0x00BB,
    # dashes, bullet, ellipsis, modifiers
    0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2022, 0x2026, 0x02C6, 0x02DC,
    # spaces
    0x00A0, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
    0x2009, 0x200A, 0x202F, 0x205F, 0x3000,
    # zero-width and soft hyphen
    0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD,
    # fullwidth forms
    *range(0xFF01, 0xFF5F),
]  # fmt: skip


@pytest.mark.parametrize("code", BRIEF_LOOKALIKES, ids=lambda code: f"U+{code:04X}")
def test_every_listed_lookalike_is_replaced_by_gsm_text(code: int) -> None:
    replaced = smart_encode(chr(code))

    assert replaced != chr(code)
    assert is_gsm7(replaced)


def test_smart_encode_output_per_bmp_char_is_unchanged_or_gsm() -> None:
    bad = [
        f"U+{code:04X}"
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF
        and smart_encode(chr(code)) != chr(code)
        and not is_gsm7(smart_encode(chr(code)))
    ]

    assert bad == []


# --- properties over pseudo-random bodies ---------------------------------------------

GSM_POOL = "abcxyzABC019 .,!?@\u00a3\u00e9\u00c7\u0394\n"
EXT_POOL = GSM_EXTENSION_LITERAL
BMP_POOL = ZHE + BE + "\u4e2d\u00e7\u2013\u201c"
ASTRAL_POOL = GRIN + ROCKET + "\U0001d11e\U0001f44d"


def random_bodies(rng: random.Random, pools: list[str], count: int) -> list[str]:
    bodies = []
    for _ in range(count):
        length = rng.randint(0, 500)
        bodies.append("".join(rng.choice(rng.choice(pools)) for _ in range(length)))
    return bodies


_RNG = random.Random(1234)
GSM_BODIES = random_bodies(_RNG, [GSM_POOL, GSM_POOL, EXT_POOL], 300)
MIXED_BODIES = random_bodies(_RNG, [GSM_POOL, EXT_POOL, BMP_POOL, ASTRAL_POOL], 300)


def assert_greedy_partition(
    parts: list[str], body: str, per_part: int, units: Callable[[str], int]
) -> None:
    assert "".join(parts) == body
    assert all(0 < units(p) <= per_part for p in parts)
    # each part stops only because the next character would not fit
    for part, nxt in itertools.pairwise(parts):
        assert units(part) + units(nxt[0]) > per_part


@pytest.mark.parametrize("per_part", [2, 3, 152, 153, 160])
def test_split_gsm7_partitions_random_gsm_bodies(per_part: int) -> None:
    for body in GSM_BODIES:
        assert_greedy_partition(split_gsm7(body, per_part), body, per_part, septets)


@pytest.mark.parametrize("per_part", [2, 3, 66, 67, 70])
def test_split_ucs2_partitions_random_mixed_bodies(per_part: int) -> None:
    for body in MIXED_BODIES:
        assert_greedy_partition(split_ucs2(body, per_part), body, per_part, utf16_units)


@pytest.mark.parametrize("bodies", [GSM_BODIES, MIXED_BODIES], ids=["gsm", "mixed"])
def test_analyze_agrees_with_split_on_random_bodies(bodies: list[str]) -> None:
    for body in bodies:
        info = analyze(body)
        gsm = is_gsm7(body)
        units = septets(body) if gsm else utf16_units(body)
        split = split_gsm7 if gsm else split_ucs2
        single = 160 if gsm else 70

        assert info.encoding is (GSM7 if gsm else UCS2)
        assert info.units == units
        if units > single:
            assert info.num_segments == len(split(body, info.per_segment))
        else:
            assert info.num_segments == (1 if body else 0)


def test_random_corpus_exercises_both_regimes() -> None:
    # guard against a generator that never produces multi-part or UCS-2 bodies
    assert sum(analyze(b).num_segments > 1 for b in GSM_BODIES) > 100
    assert sum(analyze(b).encoding is UCS2 for b in MIXED_BODIES) > 250
    assert sum(any(c in ASTRAL_POOL for c in b) for b in MIXED_BODIES) > 250


@pytest.mark.parametrize("length", [0, 1, 159, 160, 161, 306, 307, 459, 460, 1530, 1600])
def test_plain_gsm_bodies_count_as_the_greedy_split_does(length: int) -> None:
    # analyze() takes a shortcut for bodies of the basic alphabet only; check it against
    # splitting the body for real (every character is one septet there).
    body = ("Hello @£$ Δ world 123 " * 80)[:length]
    info = analyze(body)
    expected = 0 if not body else (1 if length <= 160 else len(split_gsm7(body, 153)))
    assert info == SegmentInfo(GSM7, expected, length, 160 if length <= 160 else 153, ())
