"""The delivery pipeline's writes on SQLite: each function runs inside one writer batch.

They take the writer's connection and are called by SqliteStore through its group-commit
writer, so each is atomic and serialised with every other write.
"""

from __future__ import annotations

import sqlite3

import orjson

from smsgate.domain.dates import to_us
from smsgate.domain.delivery import (
    Callback,
    CallbackAttempt,
    CallbackResult,
    ClaimedCallback,
    DeliveryJob,
    JobAction,
    Transition,
)
from smsgate.domain.messages import MAX_VALIDITY, Message, Status
from smsgate.domain.senders import SenderState, release, take_slot
from smsgate.store import rows
from smsgate.store.sqlite_batch import insert_rows

_INSERT_JOBS = (
    "INSERT INTO delivery_jobs (message_sid, account_sid, sender, segments, attempt, "
    "ready_at, expires_at, lease_owner) VALUES "
)


def insert_outbound(c: sqlite3.Connection, message: Message, mps: float) -> bool:
    return insert_outbound_many(c, [(message, mps)])[0]


def insert_outbound_many(c: sqlite3.Connection, items: list[tuple[Message, float]]) -> list[bool]:
    """Insert messages and their delivery jobs, each at its sender's next slot.

    A grouped operation: the items of a whole writer batch, in order, take their senders'
    slots one after the other, exactly as they would one at a time, and are written with one
    multi-row statement per table. An item whose sender's queue is full gets False and
    writes nothing.
    """
    senders: dict[str, SenderState] = {}
    accepted: list[bool] = []
    messages: list[tuple[object, ...]] = []
    jobs: list[tuple[object, ...]] = []
    for message, mps in items:
        sender = message.from_ or message.messaging_service_sid or ""
        state = senders.get(sender)
        if state is None:
            state = _sender_state(c, sender)
        created = to_us(message.date_created)
        slot = take_slot(state, created, message.num_segments, mps)
        if slot is None:
            senders[sender] = state
            accepted.append(False)
            continue
        senders[sender] = slot.state
        validity = message.validity_period or MAX_VALIDITY
        messages.append(rows.message_values(message))
        jobs.append(
            (
                message.sid,
                message.account_sid,
                sender,
                max(message.num_segments, 1),
                0,
                slot.due_us,
                created + validity * 1_000_000,
                None,
            )
        )
        accepted.append(True)
    insert_rows(c, rows.INSERT_MESSAGES, len(rows.MESSAGE_NAMES), messages)
    insert_rows(c, _INSERT_JOBS, 8, jobs)
    for sender, state in senders.items():
        _save_sender(c, sender, state)
    return accepted


def _sender_state(c: sqlite3.Connection, sender: str) -> SenderState:
    r = c.execute(
        "SELECT queued_segments, next_slot_at FROM sender_queues WHERE sender = ?", (sender,)
    ).fetchone()
    return SenderState() if r is None else SenderState(r[0], r[1])


def _save_sender(c: sqlite3.Connection, sender: str, state: SenderState) -> None:
    c.execute(
        "INSERT INTO sender_queues (sender, queued_segments, next_slot_at) VALUES (?, ?, ?) "
        "ON CONFLICT (sender) DO UPDATE SET queued_segments = excluded.queued_segments, "
        "next_slot_at = excluded.next_slot_at",
        (sender, state.queued_segments, state.next_slot_us),
    )


def claim_jobs(
    c: sqlite3.Connection, owner: str, now_us: int, lease_us: int, limit: int
) -> list[DeliveryJob]:
    found = c.execute(
        "SELECT message_sid, account_sid, sender, segments, attempt, expires_at "
        "FROM delivery_jobs WHERE ready_at <= ? ORDER BY ready_at LIMIT ?",
        (now_us, limit),
    ).fetchall()
    c.executemany(
        "UPDATE delivery_jobs SET ready_at = ?, lease_owner = ?, attempt = attempt + 1 "
        "WHERE message_sid = ?",
        [(now_us + lease_us, owner, r[0]) for r in found],
    )
    return [DeliveryJob(r[0], r[1], r[2], r[3], r[4] + 1, r[5]) for r in found]


def drop_job(c: sqlite3.Connection, message_sid: str) -> None:
    _finish_job(c, message_sid)


def _finish_job(c: sqlite3.Connection, message_sid: str) -> None:
    r = c.execute(
        "DELETE FROM delivery_jobs WHERE message_sid = ? RETURNING sender, segments", (message_sid,)
    ).fetchone()
    if r is None:
        return
    q = c.execute(
        "SELECT queued_segments, next_slot_at FROM sender_queues WHERE sender = ?", (r[0],)
    ).fetchone()
    if q is not None:
        _save_sender(c, r[0], release(SenderState(q[0], q[1]), r[1]))


def apply_transition(c: sqlite3.Connection, t: Transition) -> Message | None:
    select = f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ?"
    row = c.execute(select, (t.message_sid,)).fetchone()
    if row is None or Status(row[5]) not in t.allowed_from:
        return None
    sets = ["status = :status", "date_updated = :now"]
    params: dict[str, object] = {"status": t.status.value, "now": t.now_us, "sid": t.message_sid}
    if t.date_sent_us is not None:
        sets += ["date_sent = :sent", "list_key = :sent"]
        params["sent"] = t.date_sent_us
    if t.error_code is not None:
        sets += ["error_code = :code", "error_message = :text"]
        params["code"], params["text"] = t.error_code, t.error_message
    if t.price is not None:
        sets += ["price = :price", "price_unit = :unit"]
        params["price"], params["unit"] = t.price, t.price_unit
    c.execute(f"UPDATE messages SET {', '.join(sets)} WHERE sid = :sid", params)
    if t.carrier_id is not None:
        c.execute(
            "INSERT OR REPLACE INTO carrier_refs (carrier_id, message_sid, created_at) "
            "VALUES (?, ?, ?)",
            (t.carrier_id, t.message_sid, t.now_us),
        )
    if t.callback is not None:
        add_callback(c, t.callback, t.now_us)
    if t.job is JobAction.DONE:
        _finish_job(c, t.message_sid)
    elif t.job is JobAction.RETRY:
        c.execute(
            "UPDATE delivery_jobs SET ready_at = ?, lease_owner = NULL WHERE message_sid = ?",
            (t.retry_at_us if t.retry_at_us is not None else t.now_us, t.message_sid),
        )
    return rows.message_from(c.execute(select, (t.message_sid,)).fetchone())


def add_callback(c: sqlite3.Connection, cb: Callback, now_us: int) -> None:
    c.execute(
        "INSERT INTO webhook_outbox (account_sid, message_sid, kind, url, method, params, "
        "fallback_url, fallback_method, state, attempt, ready_at, lease_owner, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, NULL, ?)",
        (
            cb.account_sid,
            cb.message_sid,
            cb.kind,
            cb.url,
            cb.method,
            orjson.dumps(cb.params).decode(),
            cb.fallback_url,
            cb.fallback_method,
            now_us,
            now_us,
        ),
    )


# Only the oldest pending callback of a message may go out: callbacks keep their order.
_CLAIMABLE = (
    "SELECT id, account_sid, message_sid, kind, url, method, params, fallback_url, "
    "fallback_method, attempt FROM webhook_outbox o "
    "WHERE state = 'pending' AND ready_at <= ? AND NOT EXISTS ("
    "  SELECT 1 FROM webhook_outbox p WHERE p.message_sid = o.message_sid "
    "  AND p.state = 'pending' AND p.id < o.id) "
    "ORDER BY ready_at LIMIT ?"
)


def claim_callbacks(
    c: sqlite3.Connection, owner: str, now_us: int, lease_us: int, limit: int
) -> list[ClaimedCallback]:
    found = c.execute(_CLAIMABLE, (now_us, limit)).fetchall()
    c.executemany(
        "UPDATE webhook_outbox SET ready_at = ?, lease_owner = ?, attempt = attempt + 1 "
        "WHERE id = ?",
        [(now_us + lease_us, owner, r[0]) for r in found],
    )
    return [
        ClaimedCallback(
            r[0],
            Callback(
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                tuple(tuple(p) for p in orjson.loads(r[6])),
                r[7],
                r[8],
            ),
            r[9] + 1,
        )
        for r in found
    ]


def finish_callback(c: sqlite3.Connection, result: CallbackResult) -> None:
    a = result.attempt
    sid = c.execute(
        "SELECT message_sid FROM webhook_outbox WHERE id = ?", (a.callback_id,)
    ).fetchone()
    for logged in (a, result.fallback):
        if logged is not None:
            _log_attempt(c, "" if sid is None else sid[0], logged)
    if result.retry_at_us is not None:
        c.execute(
            "UPDATE webhook_outbox SET ready_at = ?, lease_owner = NULL WHERE id = ?",
            (result.retry_at_us, a.callback_id),
        )
    else:
        # Finished, well or badly: the attempts log keeps the story, the outbox stays small.
        c.execute("DELETE FROM webhook_outbox WHERE id = ?", (a.callback_id,))


def _log_attempt(c: sqlite3.Connection, message_sid: str, a: CallbackAttempt) -> None:
    c.execute(
        "INSERT INTO webhook_attempts (callback_id, message_sid, attempt, url, started_at, "
        "duration_ms, status_code, error, response_head) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            a.callback_id,
            message_sid,
            a.attempt,
            a.url,
            a.started_us,
            a.duration_ms,
            a.status_code,
            a.error,
            a.response_head,
        ),
    )


def callback_attempts(c: sqlite3.Connection, message_sid: str) -> list[CallbackAttempt]:
    found = c.execute(
        "SELECT callback_id, attempt, url, started_at, duration_ms, status_code, error, "
        "response_head FROM webhook_attempts WHERE message_sid = ? ORDER BY id",
        (message_sid,),
    ).fetchall()
    return [CallbackAttempt(*r) for r in found]
