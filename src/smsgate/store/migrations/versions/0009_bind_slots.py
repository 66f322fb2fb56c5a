"""Bind slots: how many SMPP sessions each carrier account has open, across all processes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

A carrier allows a system_id only so many binds. Every process that connects to a carrier
takes one row here (``slot`` 0 … limit-1) per session before it binds, and renews it while
the session lasts; a row whose ``expires_at`` passed belongs to a process that died and may be
taken by another (smsgate.services.binds).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bind_slots",
        sa.Column("carrier", sa.String(300), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("carrier", "slot"),
    )


def downgrade() -> None:
    op.drop_table("bind_slots")
