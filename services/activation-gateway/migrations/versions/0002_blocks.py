"""blocks: the projection of antifraud's blocks in force

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
SCHEMA = "activation_gateway"


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("entity_type IN ('user', 'ip', 'device')", name=op.f("ck_blocks_entity_type")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        schema=SCHEMA,
    )
    op.create_index("ix_blocks_entity_type_value", "blocks", ["entity_type", "value"], schema=SCHEMA)
    op.create_index(
        "ix_blocks_expires_at",
        "blocks",
        ["expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("blocks", schema=SCHEMA)
