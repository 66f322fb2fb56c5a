"""Inbound messages and opt-outs on SQLite: each function runs inside one writer batch."""

from __future__ import annotations

import dataclasses
import sqlite3

from smsgate.domain.dates import to_us
from smsgate.domain.delivery import CallbackResult, error_message
from smsgate.domain.inbound import InboundRecord, OptChange, OptOut, QueuedReply
from smsgate.domain.messages import Status
from smsgate.store import history, rows
from smsgate.store import sqlite_delivery as delivery
from smsgate.store import sqlite_media as media
from smsgate.store.blobs import BlobDir
from smsgate.store.sqlite_batch import record_statuses

QUEUE_OVERFLOW = 30001


def insert_inbound(c: sqlite3.Connection, record: InboundRecord, blobs: BlobDir) -> None:
    message = record.message
    now_us = to_us(message.date_created)
    c.execute(rows.INSERT_MESSAGE, rows.message_params(message))
    record_statuses(c, [history.current(message)])
    if record.media:
        media.insert_media(c, blobs, list(record.media), list(record.staged))
    if record.opt is not None:
        _apply_opt(c, record.opt, now_us)
    if record.callback is not None:
        delivery.add_callback(c, record.callback, now_us)
    _enqueue(c, record.replies)


def _apply_opt(c: sqlite3.Connection, opt: OptOut, now_us: int) -> None:
    if opt.change is OptChange.OPT_OUT:
        c.execute(
            "INSERT INTO opt_outs (scope, address, account_sid, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (scope, address) DO NOTHING",
            (opt.scope, opt.address, opt.account_sid, now_us),
        )
    else:
        c.execute("DELETE FROM opt_outs WHERE scope = ? AND address = ?", (opt.scope, opt.address))


def _enqueue(c: sqlite3.Connection, replies: tuple[QueuedReply, ...]) -> None:
    """Queue each reply at its sender's next slot; one that does not fit fails with 30001."""
    for reply in replies:
        if delivery.insert_outbound(c, reply.message, reply.mps):
            continue
        failed = dataclasses.replace(
            reply.message,
            status=Status.FAILED,
            error_code=QUEUE_OVERFLOW,
            error_message=error_message(QUEUE_OVERFLOW),
        )
        c.execute(rows.INSERT_MESSAGE, rows.message_params(failed))
        record_statuses(c, [history.current(failed)])


# The scope itself, or the service whose pool holds the number ``scope``: two index seeks.
_OPTED_OUT = (
    "SELECT EXISTS (SELECT 1 FROM opt_outs WHERE scope = :scope AND address = :address) "
    "OR EXISTS (SELECT 1 FROM phone_numbers p "
    "JOIN service_numbers s ON s.number_sid = p.sid "
    "JOIN opt_outs o ON o.scope = s.service_sid AND o.address = :address "
    "WHERE p.phone_number = :scope)"
)


def is_opted_out(c: sqlite3.Connection, scope: str, address: str) -> bool:
    found = c.execute(_OPTED_OUT, {"scope": scope, "address": address}).fetchone()
    return bool(found[0])


def finish_inbound_callback(
    c: sqlite3.Connection,
    result: CallbackResult,
    message_sid: str,
    date_sent_us: int,
    replies: tuple[QueuedReply, ...],
) -> None:
    delivery.finish_callback(c, result)
    r = c.execute("SELECT date_sent FROM messages WHERE sid = ?", (message_sid,)).fetchone()
    if r is not None and r[0] is None:
        c.execute(
            "UPDATE messages SET date_sent = :sent, list_key = :sent, date_updated = :sent "
            "WHERE sid = :sid",
            {"sent": date_sent_us, "sid": message_sid},
        )
    _enqueue(c, replies)
