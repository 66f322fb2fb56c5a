"""The delivery pipeline's writes on SQLite: each function runs inside one writer batch.

They take the writer's connection and are called by SqliteStore through its group-commit
writer, so each is atomic and serialised with every other write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import orjson

from smsgate.domain.dates import to_us
from smsgate.domain.delivery import (
    RECEIPT_SETTLED,
    Callback,
    CallbackAttempt,
    CallbackLease,
    CallbackResult,
    CarrierRef,
    ClaimedCallback,
    DeliveryJob,
    JobAction,
    MoPart,
    ParkedReceipt,
    Transition,
)
from smsgate.domain.messages import MAX_VALIDITY, Message, Status
from smsgate.domain.senders import SenderState, release, take_slot
from smsgate.store import history, rows
from smsgate.store.sqlite_batch import (
    ROWS_PER_STATEMENT,
    in_chunks,
    in_list,
    insert_rows,
    record_statuses,
    rounds,
    value_chunks,
)

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
    multi-row statement per table (messages, jobs, their first status). An item whose
    sender's queue is full gets False and writes nothing.
    """
    senders: dict[str, SenderState] = {}
    accepted: list[bool] = []
    messages: list[tuple[object, ...]] = []
    jobs: list[tuple[object, ...]] = []
    statuses: list[history.Row] = []
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
        statuses.append(history.current(message))
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
    record_statuses(c, statuses)
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


_JOB_COLUMNS = "message_sid, account_sid, sender, segments, attempt, expires_at"


def claim_jobs(
    c: sqlite3.Connection, owner: str, now_us: int, lease_us: int, limit: int
) -> list[DeliveryJob]:
    found = c.execute(
        f"SELECT {_JOB_COLUMNS} FROM delivery_jobs WHERE ready_at <= ? ORDER BY ready_at LIMIT ?",
        (now_us, limit),
    ).fetchall()
    return _lease(c, found, owner, now_us + lease_us)


def claim_expired_jobs(
    c: sqlite3.Connection, owner: str, now_us: int, lease_us: int, limit: int
) -> list[DeliveryJob]:
    """Lease jobs past their validity that no live worker holds, due or not."""
    found = c.execute(
        f"SELECT {_JOB_COLUMNS} FROM delivery_jobs "
        "WHERE expires_at < ? AND (lease_owner IS NULL OR ready_at <= ?) "
        "ORDER BY expires_at LIMIT ?",
        (now_us, now_us, limit),
    ).fetchall()
    return _lease(c, found, owner, now_us + lease_us)


def _lease(
    c: sqlite3.Connection, found: list[tuple[Any, ...]], owner: str, until_us: int
) -> list[DeliveryJob]:
    """Hold the jobs ``found`` (rows of _JOB_COLUMNS) for ``owner``, as a new attempt."""
    for keys in in_chunks([r[0] for r in found]):
        c.execute(
            "UPDATE delivery_jobs SET ready_at = ?, lease_owner = ?, attempt = attempt + 1 "
            f"WHERE message_sid IN ({in_list(len(keys))})",
            (until_us, owner, *keys),
        )
    return [DeliveryJob(r[0], r[1], r[2], r[3], r[4] + 1, r[5]) for r in found]


def drop_job(c: sqlite3.Connection, message_sid: str) -> None:
    _finish_job(c, message_sid)


def _finish_job(c: sqlite3.Connection, message_sid: str) -> None:
    _finish_jobs(c, [message_sid])


def apply_transition(c: sqlite3.Connection, t: Transition) -> Message | None:
    return apply_transitions(c, [t])[0]


def apply_transitions(c: sqlite3.Connection, items: list[Transition]) -> list[Message | None]:
    """Apply status changes, each atomically and exactly as if one after the other (a grouped
    operation: the writer runs a whole batch's changes with a few set-based statements).

    A change applies only if the message's status is one of ``allowed_from``; it then writes
    the message's columns, its status history row, the carrier reference, the callback owed,
    and the job's fate. The result is the message after the change, or None where it did not
    apply. Changes of one message in one batch run in separate rounds, in order.
    """
    return [None if r is None else rows.message_from(r[0]) for r in apply_transition_rows(c, items)]


# A change's result: the message's row after it, and the id of its callback's outbox row
# when that was inserted leased (Transition.lease).
Applied = tuple[rows.Row, int | None]
# Reads the rows of messages a batch has not changed yet (by SID); writes the messages'
# columns once, after every round: one VALUES row per message (``merged_values``).
SelectRows = Callable[[list[str]], dict[str, rows.Row]]
UpdateRows = Callable[[list[tuple[Any, ...]]], None]


def apply_transition_rows(c: sqlite3.Connection, items: list[Transition]) -> list[Applied | None]:
    """``apply_transitions`` with each message after its change as its row, and the id of
    a callback inserted leased: the store's writer runs this under the cross-process write
    lock and builds the Messages after it."""

    def update(values: list[tuple[Any, ...]]) -> None:
        # Only a change that sets date_sent moves the message in the list indexes; the
        # others are written by a statement that does not name date_sent and list_key
        # (see _UPDATE_SETS_UNSENT).
        for sets, group in (
            (_UPDATE_SETS, [v for v in values if v[3] is not None]),
            (_UPDATE_SETS_UNSENT, [v for v in values if v[3] is None]),
        ):
            for chunk in value_chunks(group, 9):
                sql = rows.values_sql(_UPDATE_HEAD + sets, 9, len(chunk)) + _UPDATE_TAIL
                c.execute(sql, [v for row in chunk for v in row])

    return run_transitions(c, items, lambda sids: _select_messages(c, sids), update)


def run_transitions(
    c: sqlite3.Connection, items: list[Transition], select: SelectRows, update: UpdateRows
) -> list[Applied | None]:
    """Apply a batch's status changes in order, in rounds in which each message appears
    once (a message's second change sees its first). Everything but the messages' own
    columns is written round by round; those are written once at the end, one row per
    message, because a message often changes twice in one batch (``sending`` queued
    before the carrier was asked, ``sent`` right behind it), and each UPDATE moves the row
    in several indexes. Later rounds see a message as the earlier ones left it, in
    memory: nothing here reads the messages table after the first round that saw it."""
    results: list[Applied | None] = [None] * len(items)
    current: dict[str, rows.Row] = {}
    chains: dict[str, list[Transition]] = {}
    for round_ in rounds([t.message_sid for t in items]):
        changes = [items[i] for i in round_]
        before = select([t.message_sid for t in changes if t.message_sid not in current])
        before.update(
            (t.message_sid, current[t.message_sid]) for t in changes if t.message_sid in current
        )
        applied = [
            t
            for t in changes
            if (row := before.get(t.message_sid)) is not None and Status(row[5]) in t.allowed_from
        ]
        if not applied:
            continue
        leased = _record_round(c, applied, before)
        for t in applied:
            current[t.message_sid] = _changed_row(before[t.message_sid], t)
            chains.setdefault(t.message_sid, []).append(t)
        done = {id(t) for t in applied}
        for i, t in zip(round_, changes, strict=True):
            if id(t) in done:
                results[i] = (current[t.message_sid], leased.get(t.message_sid))
    if chains:
        update([merged_values(chain) for chain in chains.values()])
    return results


def merged_values(chain: list[Transition]) -> tuple[Any, ...]:
    """The UPDATE's VALUES row (sid, status, now, date_sent, code, text, price, unit,
    segments) that leaves a message as ``chain``, applied in order, would: the last change
    sets status and time, and each other column takes the last value a change gave it."""
    date_sent = code = text = price = unit = segments = None
    for t in chain:
        if t.date_sent_us is not None:
            date_sent = t.date_sent_us
        if t.error_code is not None:
            code, text = t.error_code, t.error_message
        if t.price is not None:
            price, unit = t.price, t.price_unit
        if t.num_segments is not None:
            segments = t.num_segments
    last = chain[-1]
    return (
        last.message_sid,
        last.status.value,
        last.now_us,
        date_sent,
        code,
        text,
        price,
        unit,
        segments,
    )


# One row of VALUES per message: sid, status, now, date_sent, code, text, price, unit, segments.
_UPDATE_HEAD = "UPDATE messages SET status = v.column2, date_updated = v.column3, "
# The columns besides status and time, for messages whose date_sent (column4) is unchanged.
# SQLite rewrites the entries of every index on a column the SET clause names, whatever the
# row's new value: naming list_key (coalesced to itself) moved each message in its four list
# indexes, two of them at random pages (To, To + From), on every change of status. Leaving
# it out made that UPDATE about 5 times cheaper per row (measured on a copy of the schema).
_UPDATE_SETS_UNSENT = (
    "error_code = CASE WHEN v.column5 IS NULL THEN messages.error_code ELSE v.column5 END, "
    "error_message = CASE WHEN v.column5 IS NULL THEN messages.error_message "
    "ELSE v.column6 END, "
    "price = CASE WHEN v.column7 IS NULL THEN messages.price ELSE v.column7 END, "
    "price_unit = CASE WHEN v.column7 IS NULL THEN messages.price_unit ELSE v.column8 END, "
    "num_segments = coalesce(v.column9, messages.num_segments) "
    "FROM (VALUES "
)
# ... and for messages a change gives a date_sent, which is also where they sort in lists.
_UPDATE_SETS = (
    "date_sent = coalesce(v.column4, messages.date_sent), "
    "list_key = coalesce(v.column4, messages.list_key), " + _UPDATE_SETS_UNSENT
)
_UPDATE_TAIL = ") AS v WHERE messages.sid = v.column1"
_INSERT_REFS = (
    "INSERT OR REPLACE INTO carrier_refs (carrier_id, message_sid, created_at, part, parts, "
    "state) VALUES "
)
_INSERT_OUTBOX = (
    "INSERT INTO webhook_outbox (account_sid, message_sid, kind, url, method, params, "
    "fallback_url, fallback_method, state, attempt, ready_at, lease_owner, created_at) VALUES "
)


def _record_round(
    c: sqlite3.Connection, applied: list[Transition], before: dict[str, rows.Row]
) -> dict[str, int]:
    """What a round writes besides the messages' columns (shared with PostgreSQL's round):
    history rows, carrier references, receipt bookkeeping, callbacks owed, jobs' fates.
    Returns the outbox ids of the callbacks inserted leased, by message."""
    # A retry keeps the status (only the job moves): the history holds changes of status.
    record_statuses(
        c,
        [
            _history_row(t)
            for t in applied
            if before[t.message_sid][_COL["status"]] != t.status.value
        ],
    )
    insert_rows(c, _INSERT_REFS, 6, [ref for t in applied for ref in _refs(t)])
    _receipt_bookkeeping(c, applied, before)
    leased = _insert_callbacks(c, [t for t in applied if t.callback is not None])
    _finish_jobs(c, [t.message_sid for t in applied if t.job is JobAction.DONE])
    for t in applied:
        if t.job is JobAction.RETRY:
            c.execute(
                "UPDATE delivery_jobs SET ready_at = ?, lease_owner = NULL, "
                "attempt = coalesce(?, attempt) WHERE message_sid = ?",
                (
                    t.retry_at_us if t.retry_at_us is not None else t.now_us,
                    t.attempt,
                    t.message_sid,
                ),
            )
    return leased


def _insert_callbacks(c: sqlite3.Connection, owed: list[Transition]) -> dict[str, int]:
    """Insert the callbacks of a round's changes (one per message). A callback asked to be
    leased is, if every earlier callback of its message still in the outbox is leased to
    the same owner and its lease has not run out: with none, it is the one a claim would
    hand out first anyway; behind that owner's own, the owner sends it after them, in
    order (the webhook sender's ``take``). Its id is returned by message; the rest wait
    to be claimed."""
    leasing = {t.message_sid: t for t in owed if t.lease is not None}
    blocked: set[str] = set()
    for keys in in_chunks(list(leasing)):
        sql = (
            "SELECT message_sid, lease_owner, ready_at FROM webhook_outbox "
            f"WHERE message_sid IN ({in_list(len(keys))})"
        )
        for sid, owner, until in c.execute(sql, keys):
            t = leasing[sid]
            assert t.lease is not None
            if owner != t.lease.owner or until <= t.now_us:
                blocked.add(sid)
    now = [t for t in leasing.values() if t.message_sid not in blocked]
    later = [t for t in owed if t.lease is None or t.message_sid in blocked]
    insert_rows(c, _INSERT_OUTBOX, 13, [_outbox_values(t.callback, t.now_us) for t in later])
    leased: dict[str, int] = {}
    for start in range(0, len(now), ROWS_PER_STATEMENT):
        chunk = now[start : start + ROWS_PER_STATEMENT]
        sql = rows.values_sql(_INSERT_OUTBOX, 13, len(chunk)) + " RETURNING id, message_sid"
        values = [v for t in chunk for v in _outbox_values(t.callback, t.now_us, t.lease)]
        leased.update((sid, outbox_id) for outbox_id, sid in c.execute(sql, values).fetchall())
    return leased


def _history_row(t: Transition) -> history.Row:
    return history.changed(t.message_sid, t.status, t.now_us, t.error_code)


def _refs(t: Transition) -> list[tuple[object, ...]]:
    """carrier_refs rows: one per part the carrier confirmed."""
    part_ids = t.part_ids or ((t.carrier_id,) if t.carrier_id is not None else ())
    return [
        (carrier_id, t.message_sid, t.now_us, part, len(part_ids), "sent")
        for part, carrier_id in enumerate(part_ids, start=1)
    ]


def _receipt_bookkeeping(
    c: sqlite3.Connection, applied: list[Transition], before: dict[str, rows.Row]
) -> None:
    """Receipt deadlines of ``sent`` messages, and the progress of split submits: only a
    split message can have recorded progress, only a sent one a receipt deadline. Set-based,
    like the rest of the round: every message appears once in a round, and the three
    statements touch different rows of different tables."""
    progress_done: list[str] = []
    waits: list[tuple[str, int]] = []
    waits_done: list[str] = []
    for t in applied:
        row = before[t.message_sid]
        settled = t.status in RECEIPT_SETTLED
        if row[_COL["num_segments"]] > 1 and (t.part_ids or t.carrier_id or settled):
            progress_done.append(t.message_sid)
        if t.receipt_due_us is not None:
            waits.append((t.message_sid, t.receipt_due_us))
        elif settled and row[_COL["status"]] == Status.SENT.value:
            waits_done.append(t.message_sid)
    _delete_in(c, "DELETE FROM submit_progress WHERE message_sid IN ", progress_done)
    insert_rows(c, "INSERT OR REPLACE INTO receipt_waits (message_sid, due_at) VALUES ", 2, waits)
    _delete_in(c, "DELETE FROM receipt_waits WHERE message_sid IN ", waits_done)


def _delete_in(c: sqlite3.Connection, head: str, keys: list[str]) -> None:
    for chunk in in_chunks(keys):
        c.execute(f"{head}({in_list(len(chunk))})", chunk)


_COL = {name: i for i, name in enumerate(rows.MESSAGE_NAMES)}


def _changed_row(row: rows.Row, t: Transition) -> tuple[object, ...]:
    """The message's row after ``t``: what the UPDATE above wrote, without reading it."""
    after = list(row)
    after[_COL["status"]] = t.status.value
    after[_COL["date_updated"]] = t.now_us
    if t.date_sent_us is not None:
        after[_COL["date_sent"]] = after[_COL["list_key"]] = t.date_sent_us
    if t.error_code is not None:
        after[_COL["error_code"]] = t.error_code
        after[_COL["error_message"]] = t.error_message
    if t.price is not None:
        after[_COL["price"]] = t.price
        after[_COL["price_unit"]] = t.price_unit
    if t.num_segments is not None:
        after[_COL["num_segments"]] = t.num_segments
    return tuple(after)


def messages_by_sid(c: sqlite3.Connection, sids: list[str]) -> dict[str, Message]:
    """The messages of ``sids`` that exist, by SID, with one SELECT per chunk of keys."""
    return {sid: rows.message_from(r) for sid, r in _select_messages(c, sids).items()}


def _select_messages(c: sqlite3.Connection, sids: list[str]) -> dict[str, rows.Row]:
    found: dict[str, rows.Row] = {}
    for keys in in_chunks(sids):
        sql = f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid IN ({in_list(len(keys))})"
        for r in c.execute(sql, keys):
            found[r[0]] = r
    return found


def _finish_jobs(c: sqlite3.Connection, message_sids: list[str]) -> None:
    """Remove the jobs of ``message_sids`` and release their segments from their senders."""
    released: dict[str, list[int]] = {}
    for keys in in_chunks(message_sids):
        sql = (
            f"DELETE FROM delivery_jobs WHERE message_sid IN ({in_list(len(keys))}) "
            "RETURNING sender, segments"
        )
        for sender, segments in c.execute(sql, keys).fetchall():
            released.setdefault(sender, []).append(segments)
    for sender, segments in released.items():
        q = c.execute(
            "SELECT queued_segments, next_slot_at FROM sender_queues WHERE sender = ?", (sender,)
        ).fetchone()
        if q is None:
            continue
        state = SenderState(q[0], q[1])
        for n in segments:
            state = release(state, n)
        _save_sender(c, sender, state)


def add_callback(c: sqlite3.Connection, cb: Callback, now_us: int) -> None:
    insert_rows(c, _INSERT_OUTBOX, 13, [_outbox_values(cb, now_us)])


def _outbox_values(
    cb: Callback | None, now_us: int, lease: CallbackLease | None = None
) -> tuple[object, ...]:
    """An outbox row: due now, or (``lease``) claimed already, as its first attempt."""
    assert cb is not None
    return (
        cb.account_sid,
        cb.message_sid,
        cb.kind,
        cb.url,
        cb.method,
        orjson.dumps(cb.params).decode(),
        cb.fallback_url,
        cb.fallback_method,
        "pending",
        0 if lease is None else 1,
        now_us if lease is None else lease.until_us,
        None if lease is None else lease.owner,
        now_us,
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
    return claimed_callbacks(claim_callback_rows(c, owner, now_us, lease_us, limit))


def claim_callback_rows(
    c: sqlite3.Connection, owner: str, now_us: int, lease_us: int, limit: int
) -> list[rows.Row]:
    """Lease the callbacks that may go out now; their rows (``claimed_callbacks`` builds
    them, outside the writer's lock)."""
    found = c.execute(_CLAIMABLE, (now_us, limit)).fetchall()
    for keys in in_chunks([r[0] for r in found]):
        c.execute(
            "UPDATE webhook_outbox SET ready_at = ?, lease_owner = ?, attempt = attempt + 1 "
            f"WHERE id IN ({in_list(len(keys))})",
            (now_us + lease_us, owner, *keys),
        )
    return found


def claimed_callbacks(found: list[rows.Row]) -> list[ClaimedCallback]:
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


def release_callbacks(c: sqlite3.Connection, ids: list[int], owner: str, now_us: int) -> None:
    """Give back callbacks ``owner`` holds but will not send (see Store.release_callbacks):
    due now, unleased, their attempt not counted."""
    for keys in in_chunks(ids):
        c.execute(
            "UPDATE webhook_outbox SET ready_at = ?, lease_owner = NULL, attempt = attempt - 1 "
            f"WHERE id IN ({in_list(len(keys))}) AND lease_owner = ?",
            (now_us, *keys, owner),
        )


def finish_callback(c: sqlite3.Connection, result: CallbackResult) -> None:
    finish_callbacks(c, [result])


def finish_callbacks(c: sqlite3.Connection, results: list[CallbackResult]) -> list[None]:
    """Log finished webhook attempts; retry the callback later or let it leave the outbox
    (a grouped operation: one result per item, finishes of one callback in order)."""
    for round_ in rounds([r.attempt.callback_id for r in results]):
        _finish_round(c, [results[i] for i in round_])
    return [None] * len(results)


_INSERT_ATTEMPTS = (
    "INSERT INTO webhook_attempts (callback_id, message_sid, attempt, url, started_at, "
    "duration_ms, status_code, error, response_head) VALUES "
)


def _finish_round(c: sqlite3.Connection, results: list[CallbackResult]) -> None:
    # Each row leaves the outbox or is due again, and says whose message it was: the
    # attempts log keeps the story (finished rows leave, so the outbox stays small).
    sids: dict[int, str] = {}
    done = [r.attempt.callback_id for r in results if r.retry_at_us is None]
    for keys in in_chunks(done):
        sql = (
            f"DELETE FROM webhook_outbox WHERE id IN ({in_list(len(keys))}) "
            "RETURNING id, message_sid"
        )
        sids.update(c.execute(sql, keys).fetchall())
    for r in results:
        if r.retry_at_us is not None:
            sids.update(
                c.execute(
                    "UPDATE webhook_outbox SET ready_at = ?, lease_owner = NULL WHERE id = ? "
                    "RETURNING id, message_sid",
                    (r.retry_at_us, r.attempt.callback_id),
                ).fetchall()
            )
    logged = [
        _attempt_values(sids.get(r.attempt.callback_id, ""), a)
        for r in results
        for a in (r.attempt, r.fallback)
        if a is not None
    ]
    insert_rows(c, _INSERT_ATTEMPTS, 9, logged)


def _attempt_values(message_sid: str, a: CallbackAttempt) -> tuple[object, ...]:
    return (
        a.callback_id,
        message_sid,
        a.attempt,
        a.url,
        a.started_us,
        a.duration_ms,
        a.status_code,
        a.error,
        a.response_head,
    )


def callback_attempts(c: sqlite3.Connection, message_sid: str) -> list[CallbackAttempt]:
    found = c.execute(
        "SELECT callback_id, attempt, url, started_at, duration_ms, status_code, error, "
        "response_head FROM webhook_attempts WHERE message_sid = ? ORDER BY id",
        (message_sid,),
    ).fetchall()
    return [CallbackAttempt(*r) for r in found]


# --- carrier receipts -----------------------------------------------------------------------


def find_carrier_ref(c: sqlite3.Connection, carrier_ids: tuple[str, ...]) -> CarrierRef | None:
    """The first of ``carrier_ids`` that a submit recorded."""
    for carrier_id in carrier_ids:
        r = c.execute(
            "SELECT carrier_id, message_sid, part, parts FROM carrier_refs WHERE carrier_id = ?",
            (carrier_id,),
        ).fetchone()
        if r is not None:
            return CarrierRef(r[0], r[1], r[2], r[3])
    return None


def find_carrier_refs_many(
    c: sqlite3.Connection, items: list[tuple[str, ...]]
) -> list[CarrierRef | None]:
    """``find_carrier_ref`` for each item, with one SELECT for the whole batch."""
    found: dict[str, CarrierRef] = {}
    for chunk in in_chunks(list(dict.fromkeys(i for ids in items for i in ids))):
        for r in c.execute(
            "SELECT carrier_id, message_sid, part, parts FROM carrier_refs "
            f"WHERE carrier_id IN ({in_list(len(chunk))})",
            chunk,
        ):
            found[r[0]] = CarrierRef(r[0], r[1], r[2], r[3])
    return [next((found[i] for i in ids if i in found), None) for ids in items]


def park_receipt(c: sqlite3.Connection, receipt: ParkedReceipt) -> CarrierRef | None:
    """Keep a receipt for a later match, unless a submit recorded its id meanwhile (then
    that reference is returned and nothing is written). Runs in the writer, so it is
    serialised with the submit that records the id: the receipt is never lost between."""
    found = find_carrier_ref(c, receipt.carrier_ids)
    if found is not None:
        return found
    c.executemany(
        "INSERT INTO parked_receipts (carrier_id, receipt, status, error_code, done_date, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                carrier_id,
                receipt.carrier_ids[0],
                receipt.status,
                receipt.error_code,
                receipt.done_date,
                receipt.received_us,
            )
            for carrier_id in receipt.carrier_ids
        ],
    )
    return None


def parked_receipts(
    c: sqlite3.Connection, carrier_ids: tuple[str, ...]
) -> list[tuple[str, ParkedReceipt]]:
    """The parked receipts for these carrier ids (with the id each matched)."""
    return parked_receipts_many(c, [carrier_ids])[0]


def parked_receipts_many(
    c: sqlite3.Connection, items: list[tuple[str, ...]]
) -> list[list[tuple[str, ParkedReceipt]]]:
    """``parked_receipts`` for each item (one SELECT for the whole batch; almost always
    nothing is parked). Nothing is removed: a receipt leaves the table only once it has
    been applied (``drop_parked_receipts``), so a crash in between cannot lose it."""
    by_id: dict[str, list[tuple[Any, ...]]] = {}
    for chunk in in_chunks([carrier_id for ids in items for carrier_id in ids]):
        for r in c.execute(
            "SELECT carrier_id, receipt, status, error_code, done_date, created_at "
            f"FROM parked_receipts WHERE carrier_id IN ({in_list(len(chunk))}) ORDER BY id",
            chunk,
        ):
            by_id.setdefault(r[0], []).append(r[1:])
    if not by_id:
        return [[] for _ in items]
    out: list[list[tuple[str, ParkedReceipt]]] = []
    for carrier_ids in items:
        found: dict[str, tuple[str, ParkedReceipt]] = {}
        for carrier_id in dict.fromkeys(carrier_ids):
            for r in by_id.get(carrier_id, ()):
                found.setdefault(r[0], (carrier_id, ParkedReceipt((carrier_id,), *r[1:])))
        out.append(list(found.values()))
    return out


def drop_parked_receipts(c: sqlite3.Connection, carrier_ids: tuple[str, ...]) -> None:
    """Remove the receipts parked under these ids, under every form of their id."""
    for chunk in in_chunks(list(carrier_ids)):
        c.execute(
            "DELETE FROM parked_receipts WHERE receipt IN (SELECT receipt FROM parked_receipts "
            f"WHERE carrier_id IN ({in_list(len(chunk))}))",
            chunk,
        )


def orphaned_receipts(
    c: sqlite3.Connection, parked_before_us: int, limit: int
) -> list[tuple[CarrierRef, ParkedReceipt]]:
    """Parked receipts, older than ``parked_before_us``, whose carrier id a submit has
    recorded since: the worker that recorded it stopped before it applied them."""
    found = c.execute(
        "SELECT r.carrier_id, r.message_sid, r.part, r.parts, p.receipt, p.status, "
        "p.error_code, p.done_date, p.created_at FROM parked_receipts p "
        "JOIN carrier_refs r ON r.carrier_id = p.carrier_id "
        "WHERE p.created_at < ? ORDER BY p.created_at LIMIT ?",
        (parked_before_us, limit),
    ).fetchall()
    out: dict[str, tuple[CarrierRef, ParkedReceipt]] = {}
    for r in found:
        ref = CarrierRef(r[0], r[1], r[2], r[3])
        out.setdefault(r[4], (ref, ParkedReceipt((r[0],), *r[5:])))
    return list(out.values())


def forget_parked_receipts(c: sqlite3.Connection, parked_before_us: int, limit: int) -> int:
    """Remove up to ``limit`` parked receipts older than ``parked_before_us`` that match no
    submit (their message was never recorded as sent here); how many receipts went."""
    keys = [
        r[0]
        for r in c.execute(
            "SELECT p.receipt FROM parked_receipts p "
            "LEFT JOIN carrier_refs r ON r.carrier_id = p.carrier_id "
            "WHERE p.created_at < ? GROUP BY p.receipt HAVING COUNT(r.carrier_id) = 0 LIMIT ?",
            (parked_before_us, limit),
        )
    ]
    c.executemany("DELETE FROM parked_receipts WHERE receipt = ?", [(k,) for k in keys])
    return len(keys)


def mark_part(c: sqlite3.Connection, carrier_id: str, state: str) -> list[str]:
    """Record one part's receipt; the states of all parts of its message, in part order."""
    r = c.execute(
        "UPDATE carrier_refs SET state = ? WHERE carrier_id = ? RETURNING message_sid",
        (state, carrier_id),
    ).fetchone()
    if r is None:
        return []
    return [
        row[0]
        for row in c.execute(
            "SELECT state FROM carrier_refs WHERE message_sid = ? ORDER BY part", (r[0],)
        ).fetchall()
    ]


def claim_receipt_waits(c: sqlite3.Connection, now_us: int, lease_us: int, limit: int) -> list[str]:
    """SIDs whose receipt deadline passed, leased for ``lease_us`` (the transition that
    settles a message deletes its row; a crashed claimer's rows come back)."""
    found = c.execute(
        "SELECT message_sid FROM receipt_waits WHERE due_at <= ? ORDER BY due_at LIMIT ?",
        (now_us, limit),
    ).fetchall()
    c.executemany(
        "UPDATE receipt_waits SET due_at = ? WHERE message_sid = ?",
        [(now_us + lease_us, r[0]) for r in found],
    )
    return [str(r[0]) for r in found]


def add_mo_part(c: sqlite3.Connection, part: MoPart) -> list[str] | None:
    """Keep one part of a concatenated inbound message; all bodies in order once every
    part is here (they stay until ``drop_mo_parts``), else None. A repeated part (the
    SMSC delivering it again) replaces itself."""
    key = (part.carrier, part.source, part.destination, part.ref, part.total)
    c.execute(
        "INSERT OR REPLACE INTO mo_parts (carrier, source, destination, ref, total, seq, body, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (*key, part.seq, part.body, part.received_us),
    )
    bodies = c.execute(
        "SELECT seq, body FROM mo_parts WHERE carrier = ? AND source = ? AND destination = ? "
        "AND ref = ? AND total = ? ORDER BY seq",
        key,
    ).fetchall()
    if len(bodies) < part.total:
        return None
    return [body for _, body in bodies]


def drop_mo_parts(c: sqlite3.Connection, part: MoPart) -> None:
    c.execute(
        "DELETE FROM mo_parts WHERE carrier = ? AND source = ? AND destination = ? "
        "AND ref = ? AND total = ?",
        (part.carrier, part.source, part.destination, part.ref, part.total),
    )
