"""store_quotas: a studio's cap on the keys of a game and key type the store may sell;
store_orders by game and key type (counting a quota's sales);
studios.suspended_at: the Admin Service's suspension (the library's studio projection); the
support access log (the Admin Service's look-ups of keys)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from gamekeys_platform.migrations import create_support_log, drop_support_log

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "store_quotas",
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("key_type", sa.String(20), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("quota >= 0", name=op.f("ck_store_quotas_quota")),
        sa.CheckConstraint("sold >= 0", name=op.f("ck_store_quotas_sold")),
        sa.PrimaryKeyConstraint("game_id", "key_type", name=op.f("pk_store_quotas")),
        schema="key_manager",
    )
    op.create_index(
        "ix_store_orders_game_key_type", "store_orders", ["game_id", "key_type"], schema="key_manager"
    )
    op.add_column("studios", sa.Column("suspended_at", sa.DateTime(timezone=True)), schema="key_manager")
    create_support_log("key_manager")


def downgrade() -> None:
    drop_support_log("key_manager")
    op.drop_column("studios", "suspended_at", schema="key_manager")
    op.drop_index("ix_store_orders_game_key_type", "store_orders", schema="key_manager")
    op.drop_table("store_quotas", schema="key_manager")
