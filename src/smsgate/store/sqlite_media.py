"""Media and feedback on SQLite: each function runs inside one writer transaction.

Content files change only here, inside write transactions (smsgate.store.blobs): a file is
linked into place in the transaction that inserts its first reference, and removed only by
``collect`` after the transaction that dropped its last reference has committed, when it is
still unreferenced. Every step is idempotent, so a batch that is rolled back and run again
(smsgate.store.sqlite._run_apart) ends in the same state, and a crash at any point leaves at
worst an unreferenced file, which ``sweep`` removes at the next start.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from smsgate.domain.dates import from_us, to_us
from smsgate.domain.media import Feedback, Media, StagedFile
from smsgate.store.blobs import BlobDir

MEDIA_COLS = "sid, account_sid, message_sid, content_type, digest, size, date_created, date_updated"
SELECT_MEDIA = f"SELECT {MEDIA_COLS} FROM media"
FEEDBACK_COLS = "message_sid, account_sid, outcome, date_created, date_updated"


def media_from(r: Any) -> Media:
    return Media(r[0], r[1], r[2], r[3], r[4], r[5], from_us(r[6]), from_us(r[7]))


def feedback_from(r: Any) -> Feedback:
    return Feedback(r[1], r[0], r[2], from_us(r[3]), from_us(r[4]))


def insert_media(
    c: sqlite3.Connection, blobs: BlobDir, media: list[Media], staged: list[StagedFile]
) -> None:
    """Put the staged content in place and insert its Media rows."""
    for file in staged:
        blobs.place(file.path, file.digest)
    c.executemany(
        f"INSERT INTO media ({MEDIA_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                m.sid,
                m.account_sid,
                m.message_sid,
                m.content_type,
                m.digest,
                m.size,
                to_us(m.date_created),
                to_us(m.date_updated),
            )
            for m in media
        ],
    )
    # Referenced again: a pending collection must keep the file.
    c.executemany("DELETE FROM media_orphans WHERE digest = ?", [(m.digest,) for m in media])


def attach_outbound(
    c: sqlite3.Connection,
    blobs: BlobDir,
    message_sid: str,
    media: list[Media],
    staged: list[StagedFile],
    now_us: int,
) -> bool:
    """Store an outbound message's fetched media and put its job back in the queue, due now,
    without counting the attempt the fetch used. False (nothing written) when the message is
    gone, no longer waiting to be sent, or has its media already."""
    r = c.execute(
        "SELECT status, EXISTS (SELECT 1 FROM media WHERE message_sid = :sid) "
        "FROM messages WHERE sid = :sid",
        {"sid": message_sid},
    ).fetchone()
    if r is None or r[1] or r[0] not in ("queued", "sending"):
        return False
    insert_media(c, blobs, media, staged)
    c.execute(
        "UPDATE delivery_jobs SET ready_at = ?, lease_owner = NULL, attempt = attempt - 1 "
        "WHERE message_sid = ?",
        (now_us, message_sid),
    )
    return True


def has_media(c: sqlite3.Connection, message_sid: str) -> bool:
    r = c.execute("SELECT EXISTS (SELECT 1 FROM media WHERE message_sid = ?)", (message_sid,))
    return bool(r.fetchone()[0])


def _drop(c: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> int:
    """Delete Media rows; digests left with no reference become orphans (for ``collect``)."""
    digests = [r[0] for r in c.execute(f"DELETE FROM media WHERE {where} RETURNING digest", params)]
    c.executemany(
        "INSERT INTO media_orphans (digest) SELECT :d WHERE NOT EXISTS "
        "(SELECT 1 FROM media WHERE digest = :d) ON CONFLICT (digest) DO NOTHING",
        [{"d": d} for d in set(digests)],
    )
    return len(digests)


def delete_media(c: sqlite3.Connection, account_sid: str, message_sid: str, sid: str) -> bool:
    where = "sid = ? AND message_sid = ? AND account_sid = ?"
    return _drop(c, where, (sid, message_sid, account_sid)) > 0


def delete_message_media(c: sqlite3.Connection, message_sid: str) -> None:
    """A message is being deleted: its Media and its feedback go with it."""
    _drop(c, "message_sid = ?", (message_sid,))
    c.execute("DELETE FROM message_feedback WHERE message_sid = ?", (message_sid,))


def collect(c: sqlite3.Connection, blobs: BlobDir) -> int:
    """Remove the files of orphaned digests that are still unreferenced; how many."""
    orphans = [r[0] for r in c.execute("SELECT digest FROM media_orphans")]
    gone = 0
    for digest in orphans:
        if not c.execute("SELECT 1 FROM media WHERE digest = ? LIMIT 1", (digest,)).fetchone():
            blobs.remove(digest)
            gone += 1
        c.execute("DELETE FROM media_orphans WHERE digest = ?", (digest,))
    return gone


def sweep(c: sqlite3.Connection, blobs: BlobDir) -> int:
    """Remove every content file no Media row names (left by a crash before a commit)."""
    referenced = {r[0] for r in c.execute("SELECT DISTINCT digest FROM media")}
    gone = 0
    for digest in blobs.digests():
        if digest not in referenced:
            blobs.remove(digest)
            gone += 1
    c.execute("DELETE FROM media_orphans")
    return gone


def save_feedback(c: sqlite3.Connection, fb: Feedback) -> Feedback | None:
    """Record a message's feedback (created, or its outcome updated) and return it as
    stored; None when the account has no such message."""
    found = c.execute(
        "SELECT 1 FROM messages WHERE sid = ? AND account_sid = ?",
        (fb.message_sid, fb.account_sid),
    ).fetchone()
    if found is None:
        return None
    c.execute(
        f"INSERT INTO message_feedback ({FEEDBACK_COLS}) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (message_sid) DO UPDATE SET outcome = excluded.outcome, "
        "date_updated = excluded.date_updated",
        (
            fb.message_sid,
            fb.account_sid,
            fb.outcome,
            to_us(fb.date_created),
            to_us(fb.date_updated),
        ),
    )
    r = c.execute(
        f"SELECT {FEEDBACK_COLS} FROM message_feedback WHERE message_sid = ?", (fb.message_sid,)
    ).fetchone()
    return feedback_from(r)
