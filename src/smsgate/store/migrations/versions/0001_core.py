"""Core schema: accounts, API keys, incoming phone numbers, messages.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Instants are BIGINT microseconds since the epoch (UTC). ``messages.list_key`` is the value
lists sort by (date_sent, unsent last by creation; see smsgate.domain.messages.list_key):
every list index ends in (list_key, sid) so keyset paging is an index seek.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SID = sa.String(34)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("owner_account_sid", SID, nullable=False),
        sa.Column("friendly_name", sa.Text, nullable=False),
        sa.Column("auth_token", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("accounts_owner", "accounts", ["owner_account_sid", "sid"])

    op.create_table(
        "api_keys",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, sa.ForeignKey("accounts.sid"), nullable=False),
        sa.Column("friendly_name", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("api_keys_account", "api_keys", ["account_sid", "sid"])

    op.create_table(
        "phone_numbers",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, sa.ForeignKey("accounts.sid"), nullable=False),
        sa.Column("phone_number", sa.String(32), nullable=False, unique=True),
        sa.Column("friendly_name", sa.Text, nullable=False),
        sa.Column("sms_url", sa.Text),
        sa.Column("sms_method", sa.String(8), nullable=False),
        sa.Column("sms_fallback_url", sa.Text),
        sa.Column("sms_fallback_method", sa.String(8), nullable=False),
        sa.Column("status_callback", sa.Text),
        sa.Column("status_callback_method", sa.String(8), nullable=False),
        sa.Column("number_type", sa.String(16), nullable=False),
        sa.Column("extra", sa.Text, nullable=False),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("phone_numbers_account", "phone_numbers", ["account_sid", "sid"])

    op.create_table(
        "messages",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, sa.ForeignKey("accounts.sid"), nullable=False),
        sa.Column("to_number", sa.Text, nullable=False),
        sa.Column("from_number", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("num_segments", sa.Integer, nullable=False),
        sa.Column("num_media", sa.Integer, nullable=False),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
        sa.Column("date_sent", sa.BigInteger),
        sa.Column("list_key", sa.BigInteger, nullable=False),
        sa.Column("messaging_service_sid", SID),
        sa.Column("price", sa.String(16)),
        sa.Column("price_unit", sa.String(8)),
        sa.Column("error_code", sa.Integer),
        sa.Column("error_message", sa.Text),
        sa.Column("status_callback", sa.Text),
        sa.Column("validity_period", sa.Integer),
        sa.Column("send_at", sa.BigInteger),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("media_urls", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
    )
    op.create_index("messages_account_list", "messages", ["account_sid", "list_key", "sid"])
    op.create_index(
        "messages_account_to", "messages", ["account_sid", "to_number", "list_key", "sid"]
    )
    op.create_index(
        "messages_account_from", "messages", ["account_sid", "from_number", "list_key", "sid"]
    )

    # A deleted message leaves its list position behind, so that a client that deletes every
    # message of a page and then follows next_page_uri (PageToken=PA<deleted sid>) goes on.
    op.create_table(
        "message_tombstones",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("list_key", sa.BigInteger, nullable=False),
        sa.Column("date_deleted", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_tombstones")
    op.drop_table("messages")
    op.drop_table("phone_numbers")
    op.drop_table("api_keys")
    op.drop_table("accounts")
