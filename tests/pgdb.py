"""Throwaway PostgreSQL databases for tests, on the server at 127.0.0.1:5432 (trust auth).

Each test database is created from template0 with the C collation (byte order, as SQLite
sorts) and dropped, with any connections still open to it, when the test is done.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HOST, PORT = "127.0.0.1", 5432


def reachable() -> bool:
    """Whether PostgreSQL answers at 127.0.0.1:5432 and psycopg is installed."""
    try:
        import psycopg
    except ImportError:
        return False
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            pass
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except (OSError, psycopg.Error):
        return False
    return True


def url_of(name: str, *, host: str = HOST, port: int = PORT) -> str:
    return f"postgresql://postgres@{host}:{port}/{name}"


def create_database() -> str:
    """A new empty database; its name."""
    import psycopg

    name = "smsgate_test_" + secrets.token_hex(6)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def database() -> Iterator[str]:
    """A new database's URL for the duration of the block."""
    name = create_database()
    try:
        yield url_of(name)
    finally:
        drop_database(name)


def query(url: str, sql: str, params: tuple[object, ...] | dict[str, object] = ()) -> list[tuple]:
    """Run one statement (SQLite's dialect, as the store's shared SQL) and commit."""
    import psycopg

    from smsgate.store.pg_sql import translate

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(translate(sql), params)
        return cur.fetchall() if cur.description is not None else []
