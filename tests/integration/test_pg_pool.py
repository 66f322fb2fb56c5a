"""The PostgreSQL store's connection pool: a connection the server closed is not handed out.

The pool checks a connection at checkout without a round trip (``_check_idle``): a socket
with something to read while idle means the server said goodbye. These run on PostgreSQL
only: SQLite has no connections to lose.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from smsgate.store.postgres import PostgresStore, _check_idle
from tests.conftest import wait_until


def _terminate_others(url: str, database: str) -> None:
    """End every session on ``database`` but this one, and wait until they are gone."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )

        def gone() -> bool:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
            return row is not None and row[0] == 0

        wait_until(gone)


def test_the_check_passes_a_live_connection_and_fails_one_the_server_closed(
    pg_url: str,
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        _check_idle(conn)
        conn.execute("SELECT 1").fetchall()
        _check_idle(conn)  # still idle, nothing left to read
        _terminate_others(pg_url, conn.info.dbname)

        def refused() -> bool:
            try:
                _check_idle(conn)
            except psycopg.OperationalError:
                return True
            return False

        wait_until(refused)


def test_the_store_replaces_connections_the_server_ended_without_failing_a_call(
    pg_url: str, tmp_path: Path
) -> None:
    async def main() -> None:
        store = PostgresStore(pg_url, media_dir=tmp_path / "media", pool_size=2)
        await store.open()
        try:
            assert await store.get_account("AC" + "0" * 32) is None
            database = psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
            assert isinstance(database, str)
            await asyncio.to_thread(_terminate_others, pg_url, database)
            # every pooled connection is dead now; the next calls get new ones
            for _ in range(3):
                assert await store.get_account("AC" + "0" * 32) is None
        finally:
            await store.close()

    asyncio.run(main())


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    from tests import pgdb

    if not pgdb.reachable():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
