"""Media content and rows on a real SQLite schema: stored once, removed only when no Media
names it, and consistent after a rolled-back or crashed transaction."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smsgate.domain.media import Media, StagedFile
from smsgate.ids import new_sid
from smsgate.store import sqlite as store
from smsgate.store import sqlite_media as media
from smsgate.store.blobs import STALE_STAGED_SECONDS, BlobDir
from smsgate.store.schema import upgrade
from tests.stores import StoreHome

ACCOUNT = "AC" + "0" * 32
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = tmp_path / "smsgate.db"
    upgrade(f"sqlite:///{db}")
    c = store._connect(db, writer=True)
    yield c
    c.close()


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


def attach(c: sqlite3.Connection, blobs: BlobDir, message_sid: str, f: StagedFile) -> Media:
    m = row(message_sid, f)
    c.execute("BEGIN IMMEDIATE")
    media.insert_media(c, blobs, [m], [f])
    c.execute("COMMIT")
    return m


def delete_message(c: sqlite3.Connection, blobs: BlobDir, message_sid: str) -> None:
    c.execute("BEGIN IMMEDIATE")
    media.delete_message_media(c, message_sid)
    c.execute("COMMIT")
    c.execute("BEGIN IMMEDIATE")
    media.collect(c, blobs)
    c.execute("COMMIT")


def test_identical_content_is_one_file_until_its_last_media_goes(
    conn: sqlite3.Connection, blobs: BlobDir
) -> None:
    a, b = staged(blobs, b"same"), staged(blobs, b"same")
    attach(conn, blobs, "MM1", a)
    attach(conn, blobs, "MM2", b)
    path = blobs.path_of(a.digest)
    assert blobs.digests() == [a.digest]
    delete_message(conn, blobs, "MM1")
    assert path.read_bytes() == b"same"
    delete_message(conn, blobs, "MM2")
    assert not path.exists()
    assert conn.execute("SELECT count(*) FROM media_orphans").fetchone()[0] == 0


def test_content_referenced_again_before_collection_is_kept(
    conn: sqlite3.Connection, blobs: BlobDir
) -> None:
    first = staged(blobs, b"again")
    attach(conn, blobs, "MM1", first)
    conn.execute("BEGIN IMMEDIATE")
    media.delete_message_media(conn, "MM1")  # orphaned...
    conn.execute("COMMIT")
    attach(conn, blobs, "MM2", staged(blobs, b"again"))  # ...then named again
    conn.execute("BEGIN IMMEDIATE")
    media.collect(conn, blobs)
    conn.execute("COMMIT")
    assert blobs.path_of(first.digest).read_bytes() == b"again"


def test_a_rolled_back_attach_can_run_again_and_its_leftover_is_swept(
    conn: sqlite3.Connection, blobs: BlobDir
) -> None:
    f = staged(blobs, b"retry me")
    conn.execute("BEGIN IMMEDIATE")
    media.insert_media(conn, blobs, [row("MM1", f)], [f])
    conn.execute("ROLLBACK")
    assert blobs.path_of(f.digest).exists()  # linked, but no row names it
    attach(conn, blobs, "MM1", f)  # the staged copy is still there to link again
    f.path.unlink()
    assert blobs.path_of(f.digest).read_bytes() == b"retry me"

    g = staged(blobs, b"crashed before commit")
    conn.execute("BEGIN IMMEDIATE")
    media.insert_media(conn, blobs, [row("MM2", g)], [g])
    conn.execute("ROLLBACK")
    conn.execute("BEGIN IMMEDIATE")
    assert media.sweep(conn, blobs) == 1
    conn.execute("COMMIT")
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
