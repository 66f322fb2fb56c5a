"""Carrier receipts: parts of split messages, receipts that came early, receipt deadlines,
and the parts of concatenated inbound messages.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

* ``carrier_refs`` gains the part a carrier id stands for and that part's receipt state,
  so a message split into several SMPP submits follows all of its parts.
* ``parked_receipts`` holds receipts that matched no carrier id yet (an SMSC may send the
  receipt before the submit_sm_resp has been recorded); they are applied when it is.
* ``receipt_waits`` is when a ``sent`` message stops waiting for its receipt.
* ``mo_parts`` keeps the parts of a concatenated inbound message until all have arrived.
* ``delivery_jobs_expires`` lets the worker find queued messages past their validity period
  while they are not due yet (or while no carrier bind is up).
* ``submit_progress`` records the parts of a split message the SMSC has confirmed, so an
  attempt cut short (crash, lost bind) resumes after them instead of sending them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SID = sa.String(34)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("carrier_refs") as batch:
        batch.add_column(sa.Column("part", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("parts", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="sent"))
    op.create_index("carrier_refs_message", "carrier_refs", ["message_sid"])
    op.create_table(
        "parked_receipts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("carrier_id", sa.Text, nullable=False),
        # one receipt is parked under every form of its id; they share ``receipt``
        sa.Column("receipt", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.Integer),
        sa.Column("done_date", sa.String(12)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("parked_receipts_carrier_id", "parked_receipts", ["carrier_id"])
    op.create_index("parked_receipts_receipt", "parked_receipts", ["receipt"])
    op.create_table(
        "receipt_waits",
        sa.Column("message_sid", SID, primary_key=True),
        sa.Column("due_at", sa.BigInteger, nullable=False),
    )
    op.create_index("receipt_waits_due", "receipt_waits", ["due_at"])
    op.create_table(
        "mo_parts",
        sa.Column("carrier", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("ref", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "carrier", "source", "destination", "ref", "total", "seq", name="mo_parts_pkey"
        ),
    )
    # the worker fails queued messages past their validity even while they are not due
    op.create_index("delivery_jobs_expires", "delivery_jobs", ["expires_at"])
    op.create_table(
        "submit_progress",
        sa.Column("message_sid", SID, primary_key=True),
        sa.Column("ref", sa.Integer, nullable=False),
        sa.Column("part_ids", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("submit_progress")
    op.drop_index("delivery_jobs_expires", "delivery_jobs")
    op.drop_table("mo_parts")
    op.drop_table("receipt_waits")
    op.drop_table("parked_receipts")
    op.drop_index("carrier_refs_message", "carrier_refs")
    with op.batch_alter_table("carrier_refs") as batch:
        batch.drop_column("state")
        batch.drop_column("parts")
        batch.drop_column("part")
