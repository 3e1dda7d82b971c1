"""media assets of games (screenshots, capsules, trailers)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"

SCHEMA = "game_builds"


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "media",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("object_key", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("upload_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('uploading', 'ready', 'rejected')", name=op.f("ck_media_status")),
        sa.CheckConstraint("kind IN ('screenshot', 'capsule', 'trailer')", name=op.f("ck_media_kind")),
        sa.CheckConstraint("size > 0", name=op.f("ck_media_size")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        schema=SCHEMA,
    )
    op.create_index("ix_media_game_created", "media", ["game_id", "created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_media_uploading",
        "media",
        ["upload_expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'uploading'"),
    )


def downgrade() -> None:
    op.drop_table("media", schema=SCHEMA)
