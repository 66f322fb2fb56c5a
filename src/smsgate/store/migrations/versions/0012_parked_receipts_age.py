"""Parked receipts by age: the sweep that applies receipts a stopped worker left parked,
and drops those that matched nothing for a day, finds them by ``created_at``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

A receipt that came before its submit was recorded is parked; the worker that records the
submit applies it and only then removes it. A worker killed in between leaves it parked with
its submit recorded; the sweep (``DeliveryService.recover_parked_receipts``) finds such
receipts, oldest first, through this index.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("parked_receipts_created", "parked_receipts", ["created_at"])


def downgrade() -> None:
    op.drop_index("parked_receipts_created", table_name="parked_receipts")
