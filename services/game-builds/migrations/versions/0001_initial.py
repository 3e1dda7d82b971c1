"""builds, developer projection (studios, studio_members, games)

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gamekeys_platform.migrations import create_platform_tables

revision = "0001"
down_revision = None

SCHEMA = "game_builds"


def upgrade() -> None:
    create_platform_tables(SCHEMA)
    now = sa.text("now()")
    op.create_table(
        "builds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("changelog", sa.String(10000), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("object_key", sa.String(200), nullable=False),
        sa.Column("upload_id", sa.String(1024), nullable=False),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("bytes_verified", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("upload_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('uploading', 'uploaded', 'processing', 'ready', 'failed')",
            name=op.f("ck_builds_status"),
        ),
        sa.CheckConstraint("platform IN ('windows', 'macos', 'linux')", name=op.f("ck_builds_platform")),
        sa.CheckConstraint("file_size > 0", name=op.f("ck_builds_file_size")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_builds")),
        sa.UniqueConstraint("game_id", "platform", "version", name="uq_builds_game_platform_version"),
        schema=SCHEMA,
    )
    op.create_index("ix_builds_game_created", "builds", ["game_id", "created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_builds_to_process",
        "builds",
        ["status", "lease_until"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('uploaded', 'processing')"),
    )
    op.create_index(
        "ix_builds_uploading",
        "builds",
        ["upload_expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'uploading'"),
    )
    op.create_table(
        "studios",
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("company_name", sa.String(500), nullable=True),
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
        sa.Column("title", sa.String(500), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("game_id", name=op.f("pk_games")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("games", "studio_members", "studios", "builds"):
        op.drop_table(table, schema=SCHEMA)
