"""Messaging Services, sender pools and scheduled messages on SQLite.

Like smsgate.store.sqlite_delivery, each write function takes the writer's connection and is
called by SqliteStore through its group-commit writer, so it is atomic and serialised with
every other write.
"""

from __future__ import annotations

import sqlite3

from smsgate.domain.dates import to_us
from smsgate.domain.delivery import Callback
from smsgate.domain.messages import MAX_VALIDITY, Message, Status
from smsgate.domain.pools import Assignment, PoolNumber, choose_sender
from smsgate.domain.senders import SenderState
from smsgate.store import history, rows
from smsgate.store import rows_services as srows
from smsgate.store.base import Outcome, PoolAdd
from smsgate.store.sqlite_batch import record_statuses
from smsgate.store.sqlite_delivery import _finish_job, _save_sender, add_callback

# Messages that wait for a sender (and hold no slot in any sender's queue).
UNASSIGNED = frozenset({Status.ACCEPTED, Status.SCHEDULED})
_SELECT_MESSAGE = f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ?"


def add_pool_number(c: sqlite3.Connection, entry: PoolNumber, limit: int) -> PoolAdd:
    owner = c.execute(
        "SELECT 1 FROM phone_numbers WHERE sid = ? AND account_sid = ?",
        (entry.number_sid, entry.account_sid),
    ).fetchone()
    if owner is None:
        return PoolAdd.NO_NUMBER
    current = c.execute(
        "SELECT service_sid, account_sid FROM service_numbers WHERE number_sid = ?",
        (entry.number_sid,),
    ).fetchone()
    if current is not None:
        if current[1] == entry.account_sid:
            return PoolAdd.ALREADY_HERE if current[0] == entry.service_sid else PoolAdd.ELSEWHERE
        # The number changed accounts since: its old pool no longer counts.
        c.execute("DELETE FROM service_numbers WHERE number_sid = ?", (entry.number_sid,))
    size = c.execute(
        f"SELECT count(*) {srows.POOL_FROM} WHERE s.service_sid = ?", (entry.service_sid,)
    ).fetchone()[0]
    if size >= limit:
        return PoolAdd.POOL_FULL
    c.execute(
        "INSERT INTO service_numbers (number_sid, service_sid, account_sid, date_created, "
        "date_updated) VALUES (?, ?, ?, ?, ?)",
        (
            entry.number_sid,
            entry.service_sid,
            entry.account_sid,
            to_us(entry.date_created),
            to_us(entry.date_updated),
        ),
    )
    return PoolAdd.ADDED


def insert_unassigned(c: sqlite3.Connection, message: Message) -> None:
    c.execute(rows.INSERT_MESSAGE, rows.message_params(message))
    record_statuses(c, [history.current(message)])
    scheduled = message.status is Status.SCHEDULED and message.send_at is not None
    start = to_us(message.send_at if scheduled and message.send_at else message.date_created)
    validity = message.validity_period or MAX_VALIDITY
    # The job's sender is the service itself: no sender queue is ever kept under an MG SID,
    # so finishing this job (cancel, expiry) releases nothing until a sender is assigned.
    c.execute(
        "INSERT INTO delivery_jobs (message_sid, account_sid, sender, segments, attempt, "
        "ready_at, expires_at, lease_owner) VALUES (?, ?, ?, ?, 0, ?, ?, NULL)",
        (
            message.sid,
            message.account_sid,
            message.messaging_service_sid or "",
            max(message.num_segments, 1),
            start,
            start + validity * 1_000_000,
        ),
    )


def assign_sender(c: sqlite3.Connection, a: Assignment) -> Message | None:
    row = c.execute(_SELECT_MESSAGE, (a.message_sid,)).fetchone()
    if row is None or Status(row[5]) not in UNASSIGNED:
        return None
    if not c.execute(
        "SELECT 1 FROM delivery_jobs WHERE message_sid = ?", (a.message_sid,)
    ).fetchone():
        return None
    message = rows.message_from(row)
    states: dict[str, SenderState] = {}
    for option in a.options:
        q = c.execute(
            "SELECT queued_segments, next_slot_at FROM sender_queues WHERE sender = ?",
            (option.sender,),
        ).fetchone()
        if q is not None:
            states[option.sender] = SenderState(q[0], q[1])
    sticky = None
    if a.sticky_service is not None:
        r = c.execute(
            "SELECT sender FROM sticky_senders WHERE service_sid = ? AND to_number = ?",
            (a.sticky_service, message.to),
        ).fetchone()
        sticky = None if r is None else str(r[0])
    choice = choose_sender(a.options, states, sticky, a.now_us, message.num_segments)
    if choice is None:
        c.execute(
            "UPDATE messages SET status = ?, error_code = ?, error_message = ?, "
            "date_updated = ? WHERE sid = ?",
            (Status.FAILED.value, a.error_code, a.error_message, a.now_us, a.message_sid),
        )
        record_statuses(c, [history.changed(a.message_sid, Status.FAILED, a.now_us, a.error_code)])
        _finish_job(c, a.message_sid)
        if a.failed is not None:
            add_callback(c, a.failed, a.now_us)
        return rows.message_from(c.execute(_SELECT_MESSAGE, (a.message_sid,)).fetchone())
    sender, slot = choice
    c.execute(
        "UPDATE messages SET from_number = ?, status = ?, date_updated = ? WHERE sid = ?",
        (sender, Status.QUEUED.value, a.now_us, a.message_sid),
    )
    record_statuses(c, [history.changed(a.message_sid, Status.QUEUED, a.now_us)])
    # The job now waits in the chosen sender's queue, like a message sent from it directly.
    c.execute(
        "UPDATE delivery_jobs SET sender = ?, segments = ?, ready_at = ?, lease_owner = NULL, "
        "attempt = 0 WHERE message_sid = ?",
        (sender, max(message.num_segments, 1), slot.due_us, a.message_sid),
    )
    _save_sender(c, sender, slot.state)
    if a.sticky_service is not None:
        c.execute(
            "INSERT INTO sticky_senders (service_sid, to_number, sender, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (service_sid, to_number) DO UPDATE SET "
            "sender = excluded.sender, updated_at = excluded.updated_at",
            (a.sticky_service, message.to, sender, a.now_us),
        )
    after = rows.message_from(c.execute(_SELECT_MESSAGE, (a.message_sid,)).fetchone())
    callback = a.queued(after)
    if callback is not None:
        add_callback(c, callback, a.now_us)
    return after


def cancel_scheduled(
    c: sqlite3.Connection, account_sid: str, sid: str, now_us: int, callback: Callback | None
) -> tuple[Outcome, Message | None]:
    select = f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ? AND account_sid = ?"
    row = c.execute(select, (sid, account_sid)).fetchone()
    if row is None:
        return Outcome.NOT_FOUND, None
    if Status(row[5]) is not Status.SCHEDULED:
        return Outcome.REFUSED, rows.message_from(row)
    c.execute(
        "UPDATE messages SET status = ?, date_updated = ? WHERE sid = ?",
        (Status.CANCELED.value, now_us, sid),
    )
    record_statuses(c, [history.changed(sid, Status.CANCELED, now_us)])
    _finish_job(c, sid)
    if callback is not None:
        add_callback(c, callback, now_us)
    return Outcome.DONE, rows.message_from(c.execute(select, (sid, account_sid)).fetchone())
