"""The webhook sender's auth tokens: one store read for every request signing at the same
time, kept for TOKEN_TTL_US, then read again (a rotated token signs within a second)."""

from __future__ import annotations

import asyncio
from typing import Any

from smsgate.ids import new_sid
from smsgate.webhooks.sender import TOKEN_TTL_US, WebhookSender
from tests.stores import StoreHome, worker_store


def test_tokens_are_read_once_for_concurrent_requests_and_again_after_the_ttl(
    store_home: StoreHome,
) -> None:
    async def main() -> None:
        async with worker_store(store_home) as (store, clock, sid):
            reads: list[str] = []
            real = store.get_account

            async def counted(account_sid: str) -> Any:
                reads.append(account_sid)
                return await real(account_sid)

            store.get_account = counted  # type: ignore[method-assign]
            sender = WebhookSender(store, clock)
            tokens = await asyncio.gather(*(sender._auth_token(sid) for _ in range(50)))
            assert set(tokens) == {"a" * 32}
            assert len(reads) == 1
            store_home.query("UPDATE accounts SET auth_token = ? WHERE sid = ?", "b" * 32, sid)
            clock.advance(TOKEN_TTL_US / 2_000_000)
            assert await sender._auth_token(sid) == "a" * 32  # still the one read
            clock.advance(TOKEN_TTL_US / 1_000_000)
            assert await sender._auth_token(sid) == "b" * 32
            assert len(reads) == 2
            assert await sender._auth_token(new_sid("AC")) == ""  # no such account

    asyncio.run(main())
