"""Inbound messages: the opt-out list (STOP / START keywords).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

One row per recipient that opted out of one scope. The scope is the sender number today;
for a number in a Messaging Service it will be the service SID (Twilio blocks the whole
service), so the column is text wide enough for either.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opt_outs",
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("scope", "address", name="opt_outs_pkey"),
    )


def downgrade() -> None:
    op.drop_table("opt_outs")
