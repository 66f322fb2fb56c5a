"""The price table."""

from __future__ import annotations

import pytest

from smsgate.domain.pricing import PriceTable, PriceTableError


def test_longest_prefix_wins_and_prices_are_twilio_strings() -> None:
    table = PriceTable.parse("+1=0.0079,+1809=0.05,*=0.04")
    assert table.price("+15558675310", 1) == "-0.00790"
    assert table.price("+15558675310", 3) == "-0.02370"
    assert table.price("+18095551234", 1) == "-0.05000"
    assert table.price("+447700900123", 2) == "-0.08000"


def test_free_default() -> None:
    assert PriceTable.parse("+1=0.0079").price("+44", 1) == "0.00000"


@pytest.mark.parametrize("text", ["1=0.1", "+1", "+1=abc", "x=1"])
def test_bad_tables(text: str) -> None:
    with pytest.raises(PriceTableError):
        PriceTable.parse(text)
