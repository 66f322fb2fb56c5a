"""Media content and rows on a real schema of either store: stored once, removed only when no
Media names it, and consistent after a rolled-back or crashed transaction. The transaction
functions (smsgate.store.sqlite_media) are the ones both stores run; here they run on a
SQLite connection and on a PostgreSQL one through the PgConn adapter."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from smsgate.domain.media import Media, StagedFile
from smsgate.ids import new_sid
from smsgate.store import sqlite as store
from smsgate.store import sqlite_media as media
from smsgate.store.blobs import STALE_STAGED_SECONDS, BlobDir
from smsgate.store.pg_sql import PgConn
from smsgate.store.postgres import sqlalchemy_url
from smsgate.store.schema import upgrade
from tests import pgdb
from tests.stores import StoreHome

ACCOUNT = "AC" + "0" * 32
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Db:
    """A connection to a migrated store of either kind, with its transaction verbs."""

    c: sqlite3.Connection  # on PostgreSQL, PgConn typed as what the functions take
    begin: Callable[[], None]
    commit: Callable[[], None]
    rollback: Callable[[], None]


@pytest.fixture
def db(tmp_path: Path, store_kind: str) -> Iterator[Db]:
    if store_kind == "sqlite":
        path = tmp_path / "smsgate.db"
        upgrade(f"sqlite:///{path}")
        c = store._connect(path, writer=True)

        def verb(sql: str) -> Callable[[], None]:
            def run() -> None:
                c.execute(sql)

            return run

        try:
            yield Db(c, verb("BEGIN IMMEDIATE"), verb("COMMIT"), verb("ROLLBACK"))
        finally:
            c.close()
        return
    with pgdb.database() as url:
        upgrade(sqlalchemy_url(url))
        with psycopg.connect(url) as pc:  # a transaction starts with the first statement
            yield Db(PgConn(pc).as_sqlite(), lambda: None, pc.commit, pc.rollback)


@pytest.fixture
def blobs(tmp_path: Path) -> BlobDir:
    b = BlobDir(tmp_path / "media")
    b.ensure()
    return b


def staged(blobs: BlobDir, content: bytes) -> StagedFile:
    path = blobs.staging / hashlib.md5(content + os.urandom(4)).hexdigest()  # noqa: S324
    path.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    return StagedFile("http://h/x.png", path, digest, len(content), "image/png")


def row(message_sid: str, f: StagedFile) -> Media:
    return Media(new_sid("ME"), ACCOUNT, message_sid, f.content_type, f.digest, f.size, T0, T0)


def attach(db: Db, blobs: BlobDir, message_sid: str, f: StagedFile) -> Media:
    m = row(message_sid, f)
    db.begin()
    media.insert_media(db.c, blobs, [m], [f])
    db.commit()
    return m


def delete_message(db: Db, blobs: BlobDir, message_sid: str) -> None:
    db.begin()
    media.delete_message_media(db.c, message_sid)
    db.commit()
    db.begin()
    media.collect(db.c, blobs)
    db.commit()


def test_identical_content_is_one_file_until_its_last_media_goes(db: Db, blobs: BlobDir) -> None:
    a, b = staged(blobs, b"same"), staged(blobs, b"same")
    attach(db, blobs, "MM1", a)
    attach(db, blobs, "MM2", b)
    path = blobs.path_of(a.digest)
    assert blobs.digests() == [a.digest]
    delete_message(db, blobs, "MM1")
    assert path.read_bytes() == b"same"
    delete_message(db, blobs, "MM2")
    assert not path.exists()
    assert db.c.execute("SELECT count(*) FROM media_orphans").fetchone()[0] == 0


def test_content_referenced_again_before_collection_is_kept(db: Db, blobs: BlobDir) -> None:
    first = staged(blobs, b"again")
    attach(db, blobs, "MM1", first)
    db.begin()
    media.delete_message_media(db.c, "MM1")  # orphaned...
    db.commit()
    attach(db, blobs, "MM2", staged(blobs, b"again"))  # ...then named again
    db.begin()
    media.collect(db.c, blobs)
    db.commit()
    assert blobs.path_of(first.digest).read_bytes() == b"again"


def test_a_rolled_back_attach_can_run_again_and_its_leftover_is_swept(
    db: Db, blobs: BlobDir
) -> None:
    f = staged(blobs, b"retry me")
    db.begin()
    media.insert_media(db.c, blobs, [row("MM1", f)], [f])
    db.rollback()
    assert blobs.path_of(f.digest).exists()  # linked, but no row names it
    attach(db, blobs, "MM1", f)  # the staged copy is still there to link again
    f.path.unlink()
    assert blobs.path_of(f.digest).read_bytes() == b"retry me"

    g = staged(blobs, b"crashed before commit")
    db.begin()
    media.insert_media(db.c, blobs, [row("MM2", g)], [g])
    db.rollback()
    db.begin()
    assert media.sweep(db.c, blobs) == 1
    db.commit()
    assert not blobs.path_of(g.digest).exists()
    assert blobs.path_of(f.digest).exists()


def test_the_store_sweeps_at_open(store_home: StoreHome) -> None:
    blobs = BlobDir(store_home.dir / "media")
    blobs.ensure()
    orphan = blobs.path_of("ab" + "0" * 62)
    orphan.parent.mkdir()
    orphan.write_bytes(b"left by a crash")
    old, fresh = blobs.staging / "old", blobs.staging / "fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    then = old.stat().st_mtime - STALE_STAGED_SECONDS - 10
    os.utime(old, (then, then))

    async def open_and_close() -> None:
        s = store_home.make()
        await s.open()
        await s.close()

    asyncio.run(open_and_close())
    assert not orphan.exists()
    assert not old.exists()
    assert fresh.exists()  # may belong to a fetch in another process
