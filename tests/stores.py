"""A store of either kind for integration tests: ``home.make()`` opens a Store on it and
``home.query(sql, …)`` reads or writes its tables directly (SQL in SQLite's dialect).

The ``store_home`` fixture (tests/conftest.py) gives one per test and per selected store
kind; a PostgreSQL home is a new database, dropped after the test.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smsgate.clock import FakeClock
from smsgate.domain.accounts import Account, AccountStatus
from smsgate.ids import new_sid
from smsgate.store.base import Store
from tests import pgdb


@dataclass
class StoreHome:
    kind: str
    dir: Path  # the data dir: the SQLite file and the media dir live here
    url: str | None = None  # the PostgreSQL database

    @property
    def path(self) -> Path:
        return self.dir / "smsgate.db"

    def make(self, **options: Any) -> Store:
        """A new, unopened store on this home (several may share it, like processes)."""
        media_dir = options.pop("media_dir", self.dir / "media")
        if self.url is not None:
            from smsgate.store.postgres import PostgresStore

            return PostgresStore(self.url, media_dir=media_dir, **options)
        from smsgate.store.sqlite import SqliteStore

        return SqliteStore(self.path, media_dir=media_dir, **options)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.url is not None:
            return [tuple(r) for r in pgdb.query(self.url, sql, args)]
        with sqlite3.connect(self.path, timeout=10) as conn:
            return conn.execute(sql, args).fetchall()


@asynccontextmanager
async def worker_store(home: StoreHome) -> AsyncIterator[tuple[Store, FakeClock, str]]:
    """A store opened as a worker process opens it (SQLite: accounts, keys and numbers read
    fresh, not cached), a FakeClock, and the SID of an account with token ``"a" * 32``."""
    store = home.make(**({"cache_entities": False} if home.kind == "sqlite" else {}))
    await store.open()
    try:
        clock = FakeClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
        sid = new_sid("AC")
        now = clock.now()
        await store.create_account(Account(sid, sid, "t", "a" * 32, AccountStatus.ACTIVE, now, now))
        yield store, clock, sid
    finally:
        await store.close()
