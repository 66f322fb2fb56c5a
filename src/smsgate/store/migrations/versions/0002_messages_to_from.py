"""Index the To + From message list (a conversation between two numbers).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

With only the To index and the From index, a list filtered on both reads one of them and
checks the other number on every table row it reaches: a page of a rare pair can read most
of the account. Like every list index this one ends in (list_key, sid), so the page is a seek.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "messages_account_to_from",
        "messages",
        ["account_sid", "to_number", "from_number", "list_key", "sid"],
    )


def downgrade() -> None:
    op.drop_index("messages_account_to_from", table_name="messages")
