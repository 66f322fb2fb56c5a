"""The web console's live feed: messages by the time they last changed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

The console follows an account's changes by polling ``(date_updated, sid)`` past the last
position it showed (smsgate.store.rows.UPDATED_SINCE); this index makes each poll a seek,
whatever the number of messages.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("messages_account_updated", "messages", ["account_sid", "date_updated", "sid"])


def downgrade() -> None:
    op.drop_index("messages_account_updated", "messages")
