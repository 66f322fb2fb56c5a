"""Index messages by creation time for the v2 Properties search.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

``GET /v2/Properties/{Sid}/Messages`` selects a creation-time window, oldest first, with
optional status, direction and Messaging Service filters. This index makes the window one
range seek in the index's own order, and holds the filtered columns so that rows that do not
match are rejected from the index entry without reading the table row. It is appended to at
its right end (creation times grow), so creates pay little for it.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "messages_account_created",
        "messages",
        ["account_sid", "date_created", "sid", "status", "direction", "messaging_service_sid"],
    )


def downgrade() -> None:
    op.drop_index("messages_account_created", table_name="messages")
