"""SID minting and validation.

A SID is a two-letter prefix and 32 lowercase hex digits, as Twilio's. The first 48 bits
are the creation time in milliseconds so that B-tree inserts stay local and SIDs sort in
creation order; the other 80 bits come from ``secrets`` so SIDs remain unguessable.
"""

from __future__ import annotations

import re
import secrets
import time

PREFIXES = frozenset({"AC", "SK", "PN", "SM", "MM", "MG", "ME"})
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


def new_sid(prefix: str, *, now_ms: int | None = None) -> str:
    """A new time-ordered SID with the given two-letter prefix."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{prefix}{ms & 0xFFFFFFFFFFFF:012x}{secrets.randbits(80):020x}"


def is_sid(value: str, *prefixes: str) -> bool:
    """True when ``value`` is a well-formed SID with one of ``prefixes``."""
    return len(value) == 34 and value[:2] in prefixes and _HEX32.fullmatch(value, 2) is not None


def new_secret() -> str:
    """A 32-character secret (auth tokens and API key secrets)."""
    return secrets.token_hex(16)
