"""Phone-number normalisation (including the NANP fast path) and SID minting."""

from __future__ import annotations

import os
import random
import re

import phonenumbers
import pytest

from smsgate.domain.numbers import friendly_format, number_type, region_of, to_e164
from smsgate.ids import is_sid, new_secret, new_sid


def slow_e164(raw: str) -> str | None:
    parsed = phonenumbers.parse(raw, "US")
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def test_nanp_fast_path_agrees_with_libphonenumber() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        raw = "+1" + "".join(rng.choice("0123456789") for _ in range(10))
        to_e164.cache_clear()
        assert to_e164(raw) == slow_e164(raw), raw


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+15017122661", "US", "+15017122661"),
        ("(501) 712-2661", "US", "+15017122661"),
        ("+44 20 7946 0018", "US", "+442079460018"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+1555", "US", None),
        ("hello", "US", None),
        ("", "US", None),
    ],
)
def test_to_e164(raw: str, region: str, expected: str | None) -> None:
    assert to_e164(raw, region) == expected


def test_number_facts() -> None:
    assert region_of("+442079460018") == "GB"
    assert number_type("+18005550100") == "toll-free"
    assert friendly_format("+15017122661") == "(501) 712-2661"


def test_sids_are_time_ordered_and_unguessable() -> None:
    a = new_sid("SM", now_ms=1_000)
    b = new_sid("SM", now_ms=1_001)
    assert re.fullmatch(r"SM[0-9a-f]{32}", a)
    assert a < b
    assert new_sid("SM", now_ms=5) != new_sid("SM", now_ms=5)
    assert is_sid(a, "SM", "MM")
    assert not is_sid(a, "MM")
    assert not is_sid(a[:-1], "SM")
    assert len(new_secret()) == 32


def test_sid_random_bits_are_never_handed_out_twice() -> None:
    # The 80 random bits come from a buffer of os.urandom output, 400 draws at a time.
    tails = {new_sid("SM", now_ms=7)[14:] for _ in range(5_000)}
    assert len(tails) == 5_000


def test_a_forked_child_does_not_reuse_its_parents_random_bits() -> None:
    new_sid("SM")  # the buffer now holds unused bytes the child would otherwise inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_sid("SM", now_ms=7).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert child != new_sid("SM", now_ms=7)
