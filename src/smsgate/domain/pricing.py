"""What a message costs: a price per segment by destination prefix, Twilio-style strings.

The table is written ``+1=0.0079,+44=0.0400,*=0.0500`` (USD per segment); the longest
matching prefix wins, ``*`` is the default. Twilio reports prices as negative amounts with
five decimals (``"-0.00790"``) and ``price_unit`` ``"USD"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

DEFAULT_TABLE = "+1=0.0079,*=0.0500"
UNIT = "USD"
_PLACES = Decimal("0.00001")


class PriceTableError(ValueError):
    """The price table setting cannot be read."""


@dataclass(frozen=True, slots=True)
class PriceTable:
    prices: tuple[tuple[str, Decimal], ...]  # longest prefix first
    default: Decimal

    @classmethod
    def parse(cls, text: str) -> PriceTable:
        entries: dict[str, Decimal] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            prefix, sep, amount = item.partition("=")
            if not sep or not (prefix == "*" or prefix.startswith("+")):
                raise PriceTableError(f"price entry {item!r} must look like +44=0.04 or *=0.05")
            try:
                entries[prefix] = Decimal(amount)
            except InvalidOperation:
                raise PriceTableError(f"price {amount!r} is not a number") from None
        default = entries.pop("*", Decimal(0))
        ordered = tuple(sorted(entries.items(), key=lambda kv: -len(kv[0])))
        return cls(ordered, default)

    def price(self, to: str, segments: int) -> str:
        """Twilio's ``price`` for a message of ``segments`` to ``to``."""
        per = next((p for prefix, p in self.prices if to.startswith(prefix)), self.default)
        total = (per * max(segments, 1)).quantize(_PLACES)
        return f"-{total}" if total else "0.00000"
