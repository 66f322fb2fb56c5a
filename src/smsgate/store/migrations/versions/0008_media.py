"""MMS media, their content's references, and message feedback.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

``media`` holds one row per Media resource (``ME…``). Content lives in files under the
data dir's ``media/`` named by the SHA-256 of their bytes (``digest``), so identical files
are stored once; a file is removed only when no ``media`` row names its digest any more.
``media_orphans`` lists digests whose last reference was deleted: a later transaction
removes their file if they are still unreferenced (smsgate.store.sqlite_media).
``message_feedback`` is a message's MessageFeedback.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SID = sa.String(34)


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("message_sid", SID, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("media_message", "media", ["message_sid", "sid"])
    op.create_index("media_digest", "media", ["digest"])
    op.create_table("media_orphans", sa.Column("digest", sa.Text, primary_key=True))
    op.create_table(
        "message_feedback",
        sa.Column("message_sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("date_created", sa.BigInteger, nullable=False),
        sa.Column("date_updated", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_feedback")
    op.drop_table("media_orphans")
    op.drop_index("media_digest", table_name="media")
    op.drop_index("media_message", table_name="media")
    op.drop_table("media")
