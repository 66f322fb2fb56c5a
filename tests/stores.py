"""A store of either kind for integration tests: ``home.make()`` opens a Store on it and
``home.query(sql, …)`` reads or writes its tables directly (SQL in SQLite's dialect).

The ``store_home`` fixture (tests/conftest.py) gives one per test and per selected store
kind; a PostgreSQL home is a new database, dropped after the test.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
