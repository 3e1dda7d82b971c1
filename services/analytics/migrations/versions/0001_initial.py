"""platform tables, developer projection (studios, studio_members, games)

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from gamekeys_platform.migrations import create_platform_tables

revision = "0001"
down_revision = None

SCHEMA = "analytics"


def upgrade() -> None:
    create_platform_tables(SCHEMA)
    now = sa.text("now()")
    op.create_table(
        "studios",
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("company_name", sa.String(200), nullable=True),
        sa.Column("verification_status", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("developer_id", name=op.f("pk_studios")),
        schema=SCHEMA,
    )
    op.create_table(
        "studio_members",
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("developer_id", "user_id", name=op.f("pk_studio_members")),
        schema=SCHEMA,
    )
    op.create_index("ix_studio_members_user", "studio_members", ["user_id"], schema=SCHEMA)
    op.create_table(
        "games",
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("status", sa.String(30), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("game_id", name=op.f("pk_games")),
        schema=SCHEMA,
    )
    op.create_index("ix_games_developer", "games", ["developer_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("games", schema=SCHEMA)
    op.drop_table("studio_members", schema=SCHEMA)
    op.drop_table("studios", schema=SCHEMA)
    for table in ("idempotency_keys", "inbox", "outbox"):
        op.drop_table(table, schema=SCHEMA)
