"""widgets and the platform tables

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from gamekeys_platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_platform_tables("sample_service")
    op.create_table(
        "widgets",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False, unique=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="sample_service",
    )
    op.create_table(
        "applied_events",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("times", sa.Integer, nullable=False),
        schema="sample_service",
    )


def downgrade() -> None:
    op.drop_table("applied_events", schema="sample_service")
    op.drop_table("widgets", schema="sample_service")
