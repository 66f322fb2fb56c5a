"""The SMSC simulator's own text code (smsgate.smsc.text): round trips and safe splits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsgate.smsc import text
from smsgate.smsc.core import quote_id, receipt_text

ALPHABET = "".join(c for c in text.GSM_BASIC if c != "\x1b") + "".join(text.GSM_EXTENSION.values())


def test_gsm_alphabet_round_trips_with_escapes_for_the_extension_table() -> None:
    encoded = text.encode(ALPHABET, "gsm")
    assert len(encoded) == 127 + 2 * 10
    assert text.encode("€[", "gsm") == b"\x1b\x65\x1b\x3c"
    assert text.decode(encoded, 0) == text.Decoded(ALPHABET, True)
    assert not text.decode(b"ab\x1b", 0).valid
    assert not text.decode(b"\x1b\x41", 0).valid  # ESC + a code outside the table
    with pytest.raises(text.TextError):
        text.encode("ж", "gsm")


@pytest.mark.parametrize("encoding", ["gsm", "ucs2"])
@pytest.mark.parametrize("per_part", [2, 3, 5, 7])
def test_parts_never_cut_a_character(encoding: text.Encoding, per_part: int) -> None:
    body = "a€b{c}" * 5 if encoding == "gsm" else "a😀bé🎉" * 5
    parts = text.make_parts(body, encoding, "udh16", 0x1234, per_part)
    assert "".join(p.text for p in parts) == body
    size = text.unit_size(encoding)
    for seq, part in enumerate(parts, start=1):
        concat, octets, ok = text.split_udh(part.octets)
        assert ok and concat == text.Concat(0x1234, len(parts), seq, 16)
        assert len(octets) // size <= per_part
        assert text.decode(octets, text.DATA_CODING[encoding]) == text.Decoded(part.text, True)


def test_a_text_that_fits_goes_whole_and_payload_always_whole() -> None:
    [single] = text.make_parts("x" * 160, "gsm", "udh8", 1)
    assert (single.esm_class, single.concat, single.octets) == (0, None, b"x" * 160)
    assert len(text.make_parts("x" * 161, "gsm", "udh8", 1)) == 2
    [payload] = text.make_parts("x" * 500, "gsm", "payload", 1)
    assert payload.payload and len(payload.octets) == 500


def test_receipt_ids_and_text() -> None:
    assert quote_id("5a000001", "hex", "decimal") == str(0x5A000001)
    assert quote_id("1509949441", "decimal", "hex") == "5a000001"
    assert quote_id("5a000001", "hex", "padded") == "000000005a000001"
    when = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert receipt_text("5a000001", "UNDELIV", 34, when, when, "x" * 30) == (
        "id:5a000001 sub:001 dlvrd:000 submit date:2603040506 done date:2603040506 "
        "stat:UNDELIV err:034 text:" + "x" * 20
    )
