"""Multi-row statements for the SQLite writer's grouped operations.

A grouped operation (see smsgate.store.sqlite._Grouped) writes the rows of a whole batch of
requests with a few statements instead of one per request. Each statement carries at most
``ROWS_PER_STATEMENT`` rows, which keeps it under SQLite's oldest limit on bound parameters
(999) and bounds the number of distinct statements the writer keeps prepared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from smsgate.domain.messages import Message
from smsgate.store import rows

ROWS_PER_STATEMENT = 32
_MESSAGE_WIDTH = len(rows.MESSAGE_NAMES)


def insert_rows(
    c: sqlite3.Connection, head: str, width: int, values: Sequence[tuple[Any, ...]]
) -> None:
    """``INSERT … VALUES`` every row of ``values`` (each ``width`` long), in chunks."""
    for start in range(0, len(values), ROWS_PER_STATEMENT):
        chunk = values[start : start + ROWS_PER_STATEMENT]
        c.execute(
            rows.values_sql(head, width, len(chunk)), [value for row in chunk for value in row]
        )


def insert_messages(c: sqlite3.Connection, messages: list[Message]) -> list[None]:
    """Insert new messages (a grouped operation: one result per message)."""
    insert_rows(c, rows.INSERT_MESSAGES, _MESSAGE_WIDTH, [rows.message_values(m) for m in messages])
    return [None] * len(messages)
