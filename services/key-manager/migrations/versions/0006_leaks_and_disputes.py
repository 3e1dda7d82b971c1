"""leak response and chargebacks: stock_revocations (a retailer's unsold keys revoked in one
operation, idempotent by request id), key_disputes (activated keys whose purchase was charged
back or refunded), key_lookups (support's look-ups of a key by its plaintext, audited), and
allocations by retailer

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"

SCHEMA = "key_manager"


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "stock_revocations",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("retailer_id", sa.Uuid(), nullable=False),
        sa.Column("game_ids", postgresql.ARRAY(sa.Uuid()), nullable=True),
        sa.Column("allocation_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("revoked_keys", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_stock_revocations")),
        schema=SCHEMA,
    )
    op.create_table(
        "key_disputes",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("activation_id", sa.String(128), nullable=True),
        sa.Column("activated_by", sa.String(128), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("retailer_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint("source IN ('chargeback', 'store_refund')", name=op.f("ck_key_disputes_source")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_key_disputes")),
        schema=SCHEMA,
    )
    op.create_table(
        "key_lookups",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_lookups")),
        schema=SCHEMA,
    )
    op.create_index("ix_key_lookups_actor", "key_lookups", ["actor", "created_at"], schema=SCHEMA)
    op.create_index("ix_allocations_retailer", "allocations", ["retailer_id", "game_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_allocations_retailer", table_name="allocations", schema=SCHEMA)
    op.drop_table("key_lookups", schema=SCHEMA)
    op.drop_table("key_disputes", schema=SCHEMA)
    op.drop_table("stock_revocations", schema=SCHEMA)
