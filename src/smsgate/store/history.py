"""Every status a message takes (``message_statuses``, migration 0011), shared by both stores.

Each write that gives a message a status adds its rows here in its own transaction: creates
(one multi-row INSERT per writer batch, beside the messages), the grouped status changes
(one per round), sender assignment, cancel, the failed keyword reply and ``save_message``.
A row's time is the message's ``date_updated`` of that change; ``error_code`` is the code
the change set. The rows go with their message (``delete``).
"""

from __future__ import annotations

import sqlite3

from smsgate.domain.dates import to_us
from smsgate.domain.delivery import StatusChange
from smsgate.domain.messages import Message, Status
from smsgate.store import rows

Row = tuple[str, str, int, int | None]

# Rows are added with smsgate.store.sqlite_batch.record_statuses (multi-row INSERTs).
INSERT = "INSERT INTO message_statuses (message_sid, status, at, error_code) VALUES "
WIDTH = 4
# An index seek on message_statuses_message (tests/integration/test_query_plans.py).
SELECT = "SELECT status, at, error_code FROM message_statuses WHERE message_sid = ? ORDER BY id"


def current(message: Message) -> Row:
    """The row of a message's status as it stands (a new message's first status)."""
    return (message.sid, message.status.value, to_us(message.date_updated), message.error_code)


def changed(sid: str, status: Status, now_us: int, error_code: int | None = None) -> Row:
    return (sid, status.value, now_us, error_code)


def save_message(c: sqlite3.Connection, message: Message) -> None:
    """Write every mutable field of ``message``, and its status to the history if that
    changed (Store.save_message)."""
    r = c.execute("SELECT status FROM messages WHERE sid = ?", (message.sid,)).fetchone()
    c.execute(rows.UPDATE_MESSAGE, rows.message_params(message))
    if r is not None and r[0] != message.status.value:
        c.execute(INSERT + "(?, ?, ?, ?)", current(message))


def delete(c: sqlite3.Connection, message_sid: str) -> None:
    c.execute("DELETE FROM message_statuses WHERE message_sid = ?", (message_sid,))


def read(c: sqlite3.Connection, message_sid: str) -> list[StatusChange]:
    return [
        StatusChange(Status(r[0]), r[1], r[2]) for r in c.execute(SELECT, (message_sid,)).fetchall()
    ]
