"""Delivery pipeline: jobs, sender queues, carrier references, the webhook outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

``ready_at`` is when a row may next be claimed: its due time, or the end of the lease a
worker holds on it (so a crashed worker's rows come back by themselves).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SID = sa.String(34)
# INTEGER PRIMARY KEY is SQLite's auto-increment rowid; 64-bit identities elsewhere.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delivery_jobs",
        sa.Column("message_sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("segments", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("ready_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.Text),
    )
    op.create_index("delivery_jobs_ready", "delivery_jobs", ["ready_at"])
    op.create_table(
        "sender_queues",
        sa.Column("sender", sa.Text, primary_key=True),
        sa.Column("queued_segments", sa.BigInteger, nullable=False),
        sa.Column("next_slot_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "carrier_refs",
        sa.Column("carrier_id", sa.Text, primary_key=True),
        sa.Column("message_sid", SID, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("message_sid", SID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("fallback_url", sa.Text),
        sa.Column("fallback_method", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("ready_at", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("webhook_outbox_ready", "webhook_outbox", ["state", "ready_at"])
    op.create_index("webhook_outbox_message", "webhook_outbox", ["message_sid", "state", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("callback_id", sa.BigInteger, nullable=False),
        sa.Column("message_sid", SID, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("response_head", sa.Text, nullable=False),
    )
    op.create_index("webhook_attempts_message", "webhook_attempts", ["message_sid", "id"])


def downgrade() -> None:
    for table in (
        "webhook_attempts",
        "webhook_outbox",
        "carrier_refs",
        "sender_queues",
        "delivery_jobs",
    ):
        op.drop_table(table)
