"""The shared SQL (``?`` and ``:name`` parameters, SQLite's upserts) on a psycopg connection.

The SQLite adapter's transaction functions (smsgate.store.sqlite_delivery, sqlite_services,
sqlite_inbound, sqlite_media, sqlite_batch) are written against the few methods of a
``sqlite3.Connection`` they use: ``execute`` and ``executemany``. ``PgConn`` offers those
two over a psycopg connection, translating each statement once (then cached) into
PostgreSQL's dialect, so PostgresStore runs the very same transaction logic and cannot drift
from the SQLite store's behaviour. The translation is small and mechanical:

* ``?`` becomes ``%s`` and ``:name`` becomes ``%(name)s`` (outside string literals); a
  literal ``%`` is doubled;
* ``INSERT OR REPLACE INTO t (…)`` becomes ``INSERT INTO t (…) … ON CONFLICT (key) DO UPDATE
  SET`` every other column: the tables written that way have only a primary key, where
  SQLite's REPLACE and PostgreSQL's upsert do the same thing.

A statement whose meaning differs between the two (a ``VALUES`` list whose NULL columns
PostgreSQL cannot type) is written for PostgreSQL in smsgate.store.postgres_delivery.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, cast

import psycopg

# Primary keys of the tables the shared SQL writes with INSERT OR REPLACE.
CONFLICT_KEYS = {
    "bind_slots": ("carrier", "slot"),
    "carrier_refs": ("carrier_id",),
    "receipt_waits": ("message_sid",),
    "submit_progress": ("message_sid",),
    "mo_parts": ("carrier", "source", "destination", "ref", "total", "seq"),
}

_TOKEN = re.compile(r"'(?:[^']|'')*'|\?|(?<![:\w]):([A-Za-z_]\w*)|%")
_REPLACE = re.compile(r"^\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)", re.IGNORECASE)

Params = Sequence[Any] | dict[str, Any]


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``sql`` (SQLite's dialect, as the shared SQL writes it) in PostgreSQL's."""

    def sub(m: re.Match[str]) -> str:
        text = m.group(0)
        if text.startswith("'"):
            return text
        if m.group(1) is not None:
            return f"%({m.group(1)})s"
        return "%s" if text == "?" else "%%"

    out = _TOKEN.sub(sub, sql)
    replace = _REPLACE.match(out)
    if replace is not None:
        table, cols = replace.group(1), [c.strip() for c in replace.group(2).split(",")]
        keys = CONFLICT_KEYS[table]
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in keys)
        out = (
            f"INSERT INTO {table} ({', '.join(cols)})"
            + out[replace.end() :]
            + f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        )
    return out


class PgConn:
    """A psycopg connection through the ``sqlite3.Connection`` methods the shared SQL uses."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(translate(sql), params)

    def executemany(self, sql: str, seq: Iterable[Params]) -> psycopg.Cursor[Any]:
        cur = self.conn.cursor()
        items = list(seq)
        if items:
            cur.executemany(translate(sql), items)
        return cur

    def as_sqlite(self) -> sqlite3.Connection:
        """This object typed as what the shared transaction functions are annotated with
        (they use only ``execute`` and ``executemany``, which it provides)."""
        return cast(sqlite3.Connection, self)
