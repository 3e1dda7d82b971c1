"""store_orders: keys issued to the store's buyers (Payment Service), idempotent by order id;
key_exports.order_id: disclosures of an order's keys are audited like every export

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "store_orders",
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("key_type", sa.String(20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(2), nullable=False),
        sa.Column("key_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("refunded_at", sa.DateTime(timezone=True)),
        sa.Column("refunded_by", sa.String(128)),
        sa.Column("refund_reason", sa.String(500)),
        sa.CheckConstraint("quantity BETWEEN 1 AND 100", name=op.f("ck_store_orders_quantity")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_store_orders")),
        schema="key_manager",
    )
    op.add_column("key_exports", sa.Column("order_id", sa.String(128)), schema="key_manager")


def downgrade() -> None:
    op.drop_column("key_exports", "order_id", schema="key_manager")
    op.drop_table("store_orders", schema="key_manager")
