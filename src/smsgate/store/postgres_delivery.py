"""The delivery writes that PostgreSQL needs in its own words.

Everything else PostgresStore runs is the SQLite adapter's transaction logic (see
smsgate.store.pg_sql). What is here differs for two reasons:

* **Claims take leases with ``FOR UPDATE SKIP LOCKED``** and run at READ COMMITTED, so any
  number of workers, in any number of processes, claim disjoint rows without waiting on each
  other or failing to serialize. SQLite gets the same from its single writer.
* **Status changes of a batch are one ``UPDATE … FROM unnest(…)``**: the SQLite version's
  ``FROM (VALUES …)`` leaves PostgreSQL to guess the type of a column that is NULL in every
  row; typed arrays say it.
"""

from __future__ import annotations

from typing import Any

import orjson

from smsgate.domain.delivery import Callback, ClaimedCallback, DeliveryJob, Transition
from smsgate.domain.messages import Message
from smsgate.store import rows
from smsgate.store import sqlite_delivery as shared
from smsgate.store.pg_sql import PgConn

_JOB_COLUMNS = "message_sid, account_sid, sender, segments, attempt, expires_at"


def _lease_jobs(c: PgConn, pick: str, params: dict[str, Any]) -> list[DeliveryJob]:
    found = c.conn.execute(
        "WITH picked AS ("
        f"  SELECT message_sid FROM delivery_jobs WHERE {pick} FOR UPDATE SKIP LOCKED"
        ") "
        "UPDATE delivery_jobs j SET ready_at = %(until)s, lease_owner = %(owner)s, "
        "attempt = j.attempt + 1 "
        "FROM picked WHERE j.message_sid = picked.message_sid "
        f"RETURNING j.message_sid, j.account_sid, j.sender, j.segments, j.attempt, j.expires_at",
        params,
    ).fetchall()
    return [DeliveryJob(r[0], r[1], r[2], r[3], r[4], r[5]) for r in found]


def claim_jobs(c: PgConn, owner: str, now_us: int, lease_us: int, limit: int) -> list[DeliveryJob]:
    """Lease up to ``limit`` due jobs that no other claimer is taking right now."""
    return _lease_jobs(
        c,
        "ready_at <= %(now)s ORDER BY ready_at LIMIT %(limit)s",
        {"now": now_us, "limit": limit, "until": now_us + lease_us, "owner": owner},
    )


def claim_expired_jobs(
    c: PgConn, owner: str, now_us: int, lease_us: int, limit: int
) -> list[DeliveryJob]:
    """Lease jobs past their validity that no live worker holds, due or not."""
    return _lease_jobs(
        c,
        "expires_at < %(now)s AND (lease_owner IS NULL OR ready_at <= %(now)s) "
        "ORDER BY expires_at LIMIT %(limit)s",
        {"now": now_us, "limit": limit, "until": now_us + lease_us, "owner": owner},
    )


# Only the oldest pending callback of a message may go out: callbacks keep their order. A
# callback another claimer is leasing right now is skipped, and so, by the NOT EXISTS, is
# every later one of its message.
_CLAIM_CALLBACKS = (
    "WITH picked AS ("
    "  SELECT id FROM webhook_outbox o "
    "  WHERE state = 'pending' AND ready_at <= %(now)s AND NOT EXISTS ("
    "    SELECT 1 FROM webhook_outbox p WHERE p.message_sid = o.message_sid "
    "    AND p.state = 'pending' AND p.id < o.id) "
    "  ORDER BY ready_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
    ") "
    "UPDATE webhook_outbox w SET ready_at = %(until)s, lease_owner = %(owner)s, "
    "attempt = w.attempt + 1 FROM picked WHERE w.id = picked.id "
    "RETURNING w.id, w.account_sid, w.message_sid, w.kind, w.url, w.method, w.params, "
    "w.fallback_url, w.fallback_method, w.attempt"
)


def claim_callbacks(
    c: PgConn, owner: str, now_us: int, lease_us: int, limit: int
) -> list[ClaimedCallback]:
    found = c.conn.execute(
        _CLAIM_CALLBACKS,
        {"now": now_us, "limit": limit, "until": now_us + lease_us, "owner": owner},
    ).fetchall()
    found.sort(key=lambda r: r[0])
    return [
        ClaimedCallback(
            r[0],
            Callback(r[1], r[2], r[3], r[4], r[5], _params(r[6]), r[7], r[8]),
            r[9],
        )
        for r in found
    ]


def _params(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in orjson.loads(text))


def claim_receipt_waits(c: PgConn, now_us: int, lease_us: int, limit: int) -> list[str]:
    found = c.conn.execute(
        "WITH picked AS ("
        "  SELECT message_sid FROM receipt_waits WHERE due_at <= %(now)s "
        "  ORDER BY due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
        ") "
        "UPDATE receipt_waits w SET due_at = %(until)s FROM picked "
        "WHERE w.message_sid = picked.message_sid RETURNING w.message_sid",
        {"now": now_us, "limit": limit, "until": now_us + lease_us},
    ).fetchall()
    return sorted(str(r[0]) for r in found)


def apply_transitions(
    c: PgConn, items: list[Transition]
) -> list[tuple[Message, int | None] | None]:
    """As smsgate.store.sqlite_delivery.apply_transition_rows (the same rounds, history rows
    and bookkeeping), with the messages' columns written by one UPDATE from typed arrays.
    Each result is the message after its change, and the id of its callback's outbox row
    if that was inserted leased."""
    _conflict_with_parking(c, [ref[0] for t in items for ref in shared._refs(t)])

    def select(sids: list[str]) -> dict[str, rows.Row]:
        # FOR UPDATE: a concurrent change of the same message waits, then sees this one's.
        if not sids:
            return {}
        found = c.conn.execute(
            f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ANY(%s) FOR UPDATE", (sids,)
        ).fetchall()
        return {r[0]: r for r in found}

    def update(values: list[tuple[Any, ...]]) -> None:
        c.conn.execute(
            _UPDATE_MESSAGES, tuple(list(column) for column in zip(*values, strict=True))
        )

    results = shared.run_transitions(c.as_sqlite(), items, select, update)
    return [None if r is None else (rows.message_from(r[0]), r[1]) for r in results]


def _conflict_with_parking(c: PgConn, carrier_ids: list[object]) -> None:
    """Read where a receipt for ``carrier_ids`` would be parked, in the transaction that
    records them. A receipt that overtook its submit is parked by a transaction that found
    no carrier reference; if it runs beside this one, each reads what the other writes,
    and SERIALIZABLE fails one of them, which runs again and then sees the other. Without
    this read both could commit, and the submit's later look at the parked receipts
    (DeliveryService.submitted) miss the receipt, which would then wait for the sweep.
    SQLite's single writer runs the two one after the other."""
    if carrier_ids:
        c.conn.execute(
            "SELECT 1 FROM parked_receipts WHERE carrier_id = ANY(%s)", (carrier_ids,)
        ).fetchall()


_UPDATE_MESSAGES = (
    "UPDATE messages m SET status = v.status, date_updated = v.now, "
    "date_sent = coalesce(v.date_sent, m.date_sent), "
    "list_key = coalesce(v.date_sent, m.list_key), "
    "error_code = CASE WHEN v.code IS NULL THEN m.error_code ELSE v.code END, "
    "error_message = CASE WHEN v.code IS NULL THEN m.error_message ELSE v.text END, "
    "price = CASE WHEN v.price IS NULL THEN m.price ELSE v.price END, "
    "price_unit = CASE WHEN v.price IS NULL THEN m.price_unit ELSE v.unit END, "
    "num_segments = coalesce(v.segments, m.num_segments) "
    "FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::int[], %s::text[], "
    "%s::text[], %s::text[], %s::int[]) "
    "AS v(sid, status, now, date_sent, code, text, price, unit, segments) "
    "WHERE m.sid = v.sid"
)
