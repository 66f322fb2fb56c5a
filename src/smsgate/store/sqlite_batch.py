"""Multi-row statements for the SQLite writer's grouped operations.

A grouped operation (see smsgate.store.sqlite._Grouped) writes the rows of a whole batch of
requests with a few statements instead of one per request. Each statement carries at most
``ROWS_PER_STATEMENT`` rows, which keeps it under SQLite's oldest limit on bound parameters
(999) and bounds the number of distinct statements the writer keeps prepared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Hashable, Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from smsgate.domain.messages import Message
from smsgate.store import history, rows

ROWS_PER_STATEMENT = 32
# Keys in one ``IN (…)`` list. Lists are padded to a power of two (repeating a key changes
# nothing in an IN list), so the writer prepares at most eight statements of each kind.
KEYS_PER_STATEMENT = 128
_MESSAGE_WIDTH = len(rows.MESSAGE_NAMES)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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
    """Insert new messages with their first status (a grouped operation: one result per
    message)."""
    insert_rows(c, rows.INSERT_MESSAGES, _MESSAGE_WIDTH, [rows.message_values(m) for m in messages])
    record_statuses(c, [history.current(m) for m in messages])
    return [None] * len(messages)


def record_statuses(c: sqlite3.Connection, changes: Sequence[history.Row]) -> None:
    """Add rows to the status history (see smsgate.store.history), ROWS_PER_STATEMENT a
    statement: a writer batch's changes cost one statement, not one per message."""
    insert_rows(c, history.INSERT, history.WIDTH, changes)


def in_chunks(keys: Sequence[K]) -> Iterator[list[K]]:
    """``keys`` in chunks of at most KEYS_PER_STATEMENT, each padded to a power of two."""
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        chunk = list(keys[start : start + KEYS_PER_STATEMENT])
        size = 1 << (len(chunk) - 1).bit_length()
        yield chunk + [chunk[0]] * (size - len(chunk))


@lru_cache(maxsize=16)
def in_list(n: int) -> str:
    """``?, ?, …`` with ``n`` placeholders."""
    return ", ".join("?" * n)


def value_chunks(values: Sequence[V], width: int) -> Iterator[Sequence[V]]:
    """Rows for multi-row statements: at most ROWS_PER_STATEMENT a statement (and under 999
    parameters), in chunks whose sizes are powers of two (few distinct statements)."""
    fits = min(ROWS_PER_STATEMENT, 999 // width)
    most = 1 << (fits.bit_length() - 1)
    start = 0
    while start < len(values):
        left = len(values) - start
        size = most if left >= most else 1 << (left.bit_length() - 1)
        yield values[start : start + size]
        start += size


def rounds(keys: Sequence[Hashable]) -> list[list[int]]:
    """Positions of ``keys`` in rounds in which each key appears once, in order: the first
    occurrence of every key in the first round, the second in the second, and so on."""
    out: list[list[int]] = []
    seen: dict[Hashable, int] = {}
    for i, key in enumerate(keys):
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(out):
            out.append([])
        out[n].append(i)
    return out
