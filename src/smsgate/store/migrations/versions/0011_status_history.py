"""Status history: every status a message takes, with its time and error code.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

A message row holds only its current status and when it last changed. Each write that gives
a message a status (its create, and every later change) also adds a row here in the same
transaction (smsgate.store.history), so the console can show when a message was queued,
sending, sent and delivered even when no StatusCallback recorded it. ``at`` is the
message's ``date_updated`` of that change. Rows are read per message in insertion order
(``message_statuses_message``) and deleted with their message. Messages created before this
revision have no rows; the console falls back to what their stored times say.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# INTEGER PRIMARY KEY is SQLite's auto-increment rowid; 64-bit identities elsewhere.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_statuses",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("message_sid", sa.String(34), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("error_code", sa.Integer),
    )
    op.create_index("message_statuses_message", "message_statuses", ["message_sid", "id"])


def downgrade() -> None:
    op.drop_table("message_statuses")
