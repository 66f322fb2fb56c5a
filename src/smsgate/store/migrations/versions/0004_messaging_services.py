"""Messaging Services: the services, their sender pools, and sticky senders.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

A phone number is in at most one service's pool, so ``service_numbers`` is keyed by the
number; deleting a number or a service drops its pool rows (and a service's sticky senders)
by cascade. Messages sent through a service need no new column: ``messages`` has had
``messaging_service_sid`` and ``send_at`` since 0001, and a scheduled message's delivery job
is simply due at its ``SendAt``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SID = sa.String(34)


def upgrade() -> None:
    op.create_table(
        "messaging_services",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, sa.ForeignKey("accounts.sid"), nullable=False),
        sa.Column("friendly_name", sa.Text, nullable=False),
        sa.Column("inbound_request_url", sa.Text),
        sa.Column("inbound_method", sa.String(8), nullable=False),
        sa.Column("fallback_url", sa.Text),
        sa.Column("fallback_method", sa.String(8), nullable=False),
        sa.Column("status_callback", sa.Text),
        sa.Column("sticky_sender", sa.Boolean, nullable=False),
        sa.Column("smart_encoding", sa.Boolean, nullable=False),
        sa.Column("validity_period", sa.Integer, nullable=False),
        sa.Column("use_inbound_webhook_on_number", sa.Boolean, nullable=False),
        sa.Column("extra", sa.Text, nullable=False),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("messaging_services_account", "messaging_services", ["account_sid", "sid"])
    op.create_table(
        "service_numbers",
        sa.Column(
            "number_sid",
            SID,
            sa.ForeignKey("phone_numbers.sid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "service_sid",
            SID,
            sa.ForeignKey("messaging_services.sid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("service_numbers_service", "service_numbers", ["service_sid", "number_sid"])
    op.create_table(
        "sticky_senders",
        sa.Column(
            "service_sid",
            SID,
            sa.ForeignKey("messaging_services.sid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("to_number", sa.Text, primary_key=True),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("sticky_senders", "service_numbers", "messaging_services"):
        op.drop_table(table)
