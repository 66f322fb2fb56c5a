"""Injected time: production code asks a Clock, tests advance a FakeClock and never sleep.

Also ``TtlCache``: values read from the store and kept for a while by that clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

K = TypeVar("K")
V = TypeVar("V")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def now_us(self) -> int:
        """The current time in microseconds since the epoch: what the store keeps, without
        a datetime to make and take apart (the delivery pipeline asks many times a
        message)."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time(), tz=UTC)

    def now_us(self) -> int:
        return time.time_ns() // 1000


class FakeClock:
    """A clock that only moves when a test tells it to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def now_us(self) -> int:
        return (self._now - _EPOCH) // _ONE_US  # exactly smsgate.domain.dates.to_us(now())

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        self._now = when


class TtlCache(Generic[K, V]):
    """Values by key, each used for ``ttl_us`` after it was read, absent ones (None) too;
    concurrent misses of one key share one read. For data that a busy loop reads again and
    again and that may change elsewhere (another process), where a change may take effect
    up to ``ttl_us`` late."""

    MAX_ITEMS = 10_000

    def __init__(self, clock: Clock, ttl_us: int) -> None:
        self._clock = clock
        self._ttl_us = ttl_us
        self._items: dict[K, tuple[V | None, int]] = {}
        self._reads: dict[K, asyncio.Future[V | None]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V | None]]) -> V | None:
        now = self._clock.now_us()
        cached = self._items.get(key)
        if cached is not None and now - cached[1] < self._ttl_us:
            return cached[0]
        pending = self._reads.get(key)
        if pending is None:
            pending = asyncio.ensure_future(read())
            self._reads[key] = pending
            pending.add_done_callback(lambda _: self._reads.pop(key, None))
        value = await asyncio.shield(pending)
        if len(self._items) >= self.MAX_ITEMS:
            self._items.clear()
        self._items[key] = (value, now)
        return value


def _us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)
