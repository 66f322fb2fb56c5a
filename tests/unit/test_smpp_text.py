"""The SMPP text codec: GSM 03.38 / UCS-2 encoding and splitting into concatenated parts."""

from __future__ import annotations

import pytest

from smsgate.connectors.smpp import text
from smsgate.connectors.smpp.text import Concat
from smsgate.domain.segments import analyze


def _udh_text(part: text.Part) -> tuple[text.Concatenation | None, str]:
    concat, data = text.split_udh(part.short_message)
    return concat, text.decode(data, part.data_coding)


def test_gsm7_round_trip_covers_basic_and_extension_tables() -> None:
    body = "@£$¥èé Hello {world} [1]~|\\^ €uro ÄÖÑÜ§¿äöñüà\n"
    data = text.encode_gsm7(body)
    assert data[0] == 0x00  # '@' is code 0
    assert data.count(0x1B) == 9  # every extension character is ESC + code
    assert text.decode_gsm7(data) == body


def test_gsm7_refuses_characters_outside_the_alphabet() -> None:
    with pytest.raises(ValueError, match=r"GSM 03\.38"):
        text.encode_gsm7("emoji 😀")


def test_unknown_extension_code_reads_as_space() -> None:
    assert text.decode_gsm7(bytes([0x41, 0x1B, 0x01, 0x42])) == "A B"


@pytest.mark.parametrize(
    ("data", "coding", "expected"),
    [
        (b"Hello", 0, "Hello"),
        ("Grüße 😀".encode("utf-16-be"), 8, "Grüße 😀"),
        ("café".encode("latin-1"), 3, "café"),
        (b"plain", 1, "plain"),
    ],
)
def test_decode_by_data_coding(data: bytes, coding: int, expected: str) -> None:
    assert text.decode(data, coding) == expected


def test_a_short_body_is_one_part_without_header() -> None:
    (part,) = text.split("Hi there", Concat.UDH8, 7)
    assert part == text.Part(b"Hi there", text.DC_DEFAULT)
    (ucs,) = text.split("Привет", Concat.UDH8, 7)
    assert ucs.data_coding == text.DC_UCS2
    assert ucs.short_message == "Привет".encode("utf-16-be")


def test_160_gsm_characters_fit_one_part_and_161_need_two() -> None:
    assert len(text.split("a" * 160, Concat.UDH8, 1)) == 1
    parts = text.split("a" * 161, Concat.UDH8, 1)
    assert len(parts) == 2
    assert all(p.esm_class == text.ESM_UDHI for p in parts)


@pytest.mark.parametrize("concat", [Concat.UDH8, Concat.UDH16])
def test_udh_parts_reassemble_and_never_split_an_escape(concat: Concat) -> None:
    body = "x" * 152 + "€" + "y" * 200  # the euro (ESC + e) would straddle parts 1 and 2
    parts = text.split(body, concat, 0x1234)
    decoded = [_udh_text(p) for p in parts]
    assert "".join(t for _, t in decoded) == body
    total = len(parts)
    for seq, (concatenation, _) in enumerate(decoded, start=1):
        assert concatenation is not None
        assert (concatenation.total, concatenation.seq) == (total, seq)
        assert concatenation.ref == (0x34 if concat is Concat.UDH8 else 0x1234)
    # unpacked septets: the SMSC packs header + text into 140 octets (160 septets), so an
    # 8-bit UDH (6 octets = 7 septets) leaves 153 septets, a 16-bit one (7 octets) 152
    per_part = 153 if concat is Concat.UDH8 else 152
    assert all(len(text.split_udh(p.short_message)[1]) <= per_part for p in parts)


def test_ucs2_parts_keep_surrogate_pairs_whole() -> None:
    body = "a" * 66 + "😀" + "b" * 100
    parts = text.split(body, Concat.UDH8, 9)
    texts = [_udh_text(p)[1] for p in parts]
    assert "".join(texts) == body
    assert texts[0] == "a" * 66  # the emoji moved whole into part 2
    assert all(p.data_coding == text.DC_UCS2 for p in parts)
    assert all(len(p.short_message) <= 140 for p in parts)


def test_part_count_matches_twilio_segments_for_udh8() -> None:
    for body in ["a" * 500, "€" * 120, "ж" * 300, "😀" * 50]:
        assert len(text.split(body, Concat.UDH8, 1)) == analyze(body).num_segments


def test_sar_parts_carry_tlvs_and_no_header() -> None:
    parts = text.split("z" * 400, Concat.SAR, 0xBEEF)
    assert [p.tlvs["sar_segment_seqnum"] for p in parts] == [1, 2, 3]
    assert {p.tlvs["sar_total_segments"] for p in parts} == {3}
    assert {p.tlvs["sar_msg_ref_num"] for p in parts} == {0xBEEF}
    assert all(p.esm_class == 0 for p in parts)
    assert b"".join(p.short_message for p in parts) == b"z" * 400


def test_payload_puts_the_whole_body_in_one_tlv() -> None:
    (part,) = text.split("q" * 400, Concat.PAYLOAD, 1)
    assert part.short_message == b""
    assert part.tlvs == {"message_payload": b"q" * 400}


def test_split_udh_ignores_other_information_elements() -> None:
    # a port-addressing IE (0x05) before the concatenation IE
    data = bytes([11, 0x05, 4, 0x0B, 0x84, 0x23, 0xF0, 0x00, 3, 0x42, 2, 1]) + b"hello"
    concatenation, rest = text.split_udh(data)
    assert concatenation == text.Concatenation(0x42, 2, 1)
    assert rest == b"hello"
