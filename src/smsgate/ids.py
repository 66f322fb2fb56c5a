"""SID minting and validation.

A SID is a two-letter prefix and 32 lowercase hex digits, as Twilio's. The first 48 bits
are the creation time in milliseconds so that B-tree inserts stay local and SIDs sort in
creation order; the other 80 bits come from the operating system's CSPRNG (``os.urandom``,
what ``secrets`` uses) so SIDs remain unguessable.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time

PREFIXES = frozenset({"AC", "SK", "PN", "SM", "MM", "MG", "ME"})
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class _RandomBits:
    """80-bit draws from ``os.urandom``, read 4,000 bytes at a time.

    ``secrets.randbits`` makes one system call per draw, a measurable share of a message
    create on a virtual machine; the bytes are the same CSPRNG output either way. A draw is
    never handed out twice: draws take a lock, and a forked child drops its parent's bytes.
    """

    _SIZE = 4000  # 400 draws of 10 bytes

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def draw(self) -> int:
        with self._lock:
            at = self._at
            if at >= len(self._pool):
                self._pool = os.urandom(self._SIZE)
                at = 0
            self._at = at + 10
            return int.from_bytes(self._pool[at : at + 10], "big")


_random80 = _RandomBits().draw


def new_sid(prefix: str, *, now_ms: int | None = None) -> str:
    """A new time-ordered SID with the given two-letter prefix."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{prefix}{ms & 0xFFFFFFFFFFFF:012x}{_random80():020x}"


def is_sid(value: str, *prefixes: str) -> bool:
    """True when ``value`` is a well-formed SID with one of ``prefixes``."""
    return len(value) == 34 and value[:2] in prefixes and _HEX32.fullmatch(value, 2) is not None


def new_secret() -> str:
    """A 32-character secret (auth tokens and API key secrets)."""
    return secrets.token_hex(16)
