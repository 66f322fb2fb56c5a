"""Bind slots on SQLite (see smsgate.services.binds): each function runs in one writer
transaction, so taking a slot and checking the others cannot interleave."""

from __future__ import annotations

import sqlite3


def hold_bind_slot(
    c: sqlite3.Connection, carrier: str, holder: str, limit: int, now_us: int, lease_us: int
) -> bool:
    """Renew ``holder``'s slot of ``carrier``, or take a free one (never held, or expired);
    False when all ``limit`` slots are held by others."""
    expires = now_us + lease_us
    mine = c.execute(
        "SELECT slot FROM bind_slots WHERE carrier = ? AND holder = ?", (carrier, holder)
    ).fetchone()
    if mine is not None:
        if int(mine[0]) < limit:
            c.execute(
                "UPDATE bind_slots SET expires_at = ? WHERE carrier = ? AND slot = ?",
                (expires, carrier, mine[0]),
            )
            return True
        # the limit was lowered below this slot: give it up and look for one within it
        c.execute("DELETE FROM bind_slots WHERE carrier = ? AND slot = ?", (carrier, mine[0]))
    taken = {
        int(r[0])
        for r in c.execute(
            "SELECT slot FROM bind_slots WHERE carrier = ? AND expires_at > ?", (carrier, now_us)
        )
    }
    free = next((slot for slot in range(limit) if slot not in taken), None)
    if free is None:
        return False
    c.execute(
        "INSERT OR REPLACE INTO bind_slots (carrier, slot, holder, expires_at) VALUES (?, ?, ?, ?)",
        (carrier, free, holder, expires),
    )
    return True


def release_bind_slot(c: sqlite3.Connection, carrier: str, holder: str) -> None:
    c.execute("DELETE FROM bind_slots WHERE carrier = ? AND holder = ?", (carrier, holder))
