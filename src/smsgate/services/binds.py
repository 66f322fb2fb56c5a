"""Bind slots in the store: the carrier's bind limit, kept across all processes.

A carrier allows one system_id only so many SMPP sessions. Each process's connector asks for
a slot (a leased row in the store) before each bind and renews it while the session lasts;
the slot of a process that died expires after the lease, and another process may then bind.

When the store cannot be reached, a held slot is still trusted until a third of the lease
before it would expire, then the session is given up, so that it is closed before any other
process can take the slot over (as long as the hosts' clocks agree to within that third).
"""

from __future__ import annotations

import logging

from smsgate.clock import Clock
from smsgate.domain.dates import to_us
from smsgate.store.base import Store, StoreError

logger = logging.getLogger(__name__)


class BindSlots:
    """smsgate.connectors.base.BindGate on the store."""

    def __init__(self, store: Store, clock: Clock, *, lease_seconds: float) -> None:
        self._store = store
        self._clock = clock
        self._lease_us = int(lease_seconds * 1_000_000)
        self._held_until: dict[tuple[str, str], int] = {}

    @property
    def renew_every(self) -> float:
        return self._lease_us / 3 / 1_000_000

    async def hold(self, carrier: str, holder: str, limit: int) -> bool:
        now = to_us(self._clock.now())
        key = (carrier, holder)
        try:
            held = await self._store.hold_bind_slot(carrier, holder, limit, now, self._lease_us)
        except StoreError as exc:
            trusted = now < self._held_until.get(key, 0) - self._lease_us // 3
            logger.warning(
                "bind slot of %s for %s not renewed (%s); %s",
                carrier,
                holder,
                exc,
                "still within its lease" if trusted else "giving it up",
            )
            if not trusted:
                self._held_until.pop(key, None)
            return trusted
        if held:
            self._held_until[key] = now + self._lease_us
        else:
            self._held_until.pop(key, None)
        return held

    async def release(self, carrier: str, holder: str) -> None:
        self._held_until.pop((carrier, holder), None)
        try:
            await self._store.release_bind_slot(carrier, holder)
        except StoreError as exc:
            logger.warning("bind slot of %s for %s not released (%s)", carrier, holder, exc)
