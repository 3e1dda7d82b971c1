"""allocation attempts (orphan reconciliation), released keys of an allocation, delivered keys
by allocation

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "allocation_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("retailer_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column(
            "attempted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_keys", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_attempts")),
        schema="distribution",
    )
    op.create_index(
        "ix_allocation_attempts_pending",
        "allocation_attempts",
        ["attempted_at"],
        unique=False,
        schema="distribution",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.add_column(
        "allocations",
        sa.Column("released_keys", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema="distribution",
    )
    op.add_column(
        "allocations",
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        schema="distribution",
    )
    op.create_index(
        "ix_retailer_keys_allocation_id",
        "retailer_keys",
        ["allocation_id"],
        unique=False,
        schema="distribution",
    )


def downgrade() -> None:
    op.drop_index("ix_retailer_keys_allocation_id", table_name="retailer_keys", schema="distribution")
    op.drop_column("allocations", "released_at", schema="distribution")
    op.drop_column("allocations", "released_keys", schema="distribution")
    op.drop_index(
        "ix_allocation_attempts_pending",
        table_name="allocation_attempts",
        schema="distribution",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.drop_table("allocation_attempts", schema="distribution")
