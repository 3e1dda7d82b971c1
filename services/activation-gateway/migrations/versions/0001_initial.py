"""activations

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gamekeys_platform.migrations import create_platform_tables

revision = "0001"
down_revision = None
SCHEMA = "activation_gateway"


def upgrade() -> None:
    create_platform_tables(SCHEMA)
    op.create_table(
        "activations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("game_id", sa.Uuid(), nullable=True),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("developer_id", sa.Uuid(), nullable=True),
        sa.Column("key_type", sa.String(length=32), nullable=True),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("user_region", sa.String(length=2), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("ip_country", sa.String(length=2), nullable=True),
        sa.Column("device_fingerprint", sa.String(length=256), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=True),
        sa.Column("assessment_id", sa.Uuid(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("risk_score", sa.Integer(), nullable=True),
        sa.Column("review_reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('activated', 'pending_review', 'failed', 'blocked', 'rejected')",
            name=op.f("ck_activations_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activations")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_activations_user_id_created_at_id", "activations", ["user_id", "created_at", "id"], schema=SCHEMA
    )
    op.create_index(
        "ix_activations_key_id_created_at", "activations", ["key_id", "created_at"], schema=SCHEMA
    )
    op.create_index(
        "uq_activations_key_id_activated",
        "activations",
        ["key_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'activated'"),
    )
    op.create_index(
        "uq_activations_key_id_pending",
        "activations",
        ["key_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending_review'"),
    )
    op.create_index(
        "ix_activations_pending",
        "activations",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending_review'"),
    )


def downgrade() -> None:
    op.drop_table("activations", schema=SCHEMA)
