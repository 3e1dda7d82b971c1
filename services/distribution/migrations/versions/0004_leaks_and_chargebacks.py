"""leak response and chargebacks: the studio projection (studios, studio_members, games: who may
revoke their own games' stock at a retailer), stock_revocations (idempotent by request id, with
the report), chargebacks, and sale_keys charged back

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"

SCHEMA = "distribution"


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "studios",
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("company_name", sa.String(200), nullable=True),
        sa.Column("verification_status", sa.String(20), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
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
    op.create_table(
        "stock_revocations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("retailer_id", sa.Uuid(), nullable=False),
        sa.Column("game_id", sa.Uuid(), nullable=True),
        sa.Column("allocation_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("revoked_keys", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["distribution.retailers.id"],
            name=op.f("fk_stock_revocations_retailer_id_retailers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_revocations")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_stock_revocations_retailer_created",
        "stock_revocations",
        ["retailer_id", "created_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "chargebacks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("retailer_id", sa.Uuid(), nullable=False),
        sa.Column("sale_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("revoked_units", sa.Integer(), nullable=False),
        sa.Column("disputed_units", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["distribution.sales.id"], name=op.f("fk_chargebacks_sale_id_sales")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chargebacks")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_chargebacks_retailer_created", "chargebacks", ["retailer_id", "created_at"], schema=SCHEMA
    )
    op.create_index("ix_chargebacks_sale_id", "chargebacks", ["sale_id"], schema=SCHEMA)
    op.add_column("sale_keys", sa.Column("chargeback_id", sa.Uuid(), nullable=True), schema=SCHEMA)
    op.add_column("sale_keys", sa.Column("chargeback_outcome", sa.String(20), nullable=True), schema=SCHEMA)
    op.drop_constraint(op.f("ck_sale_keys_status"), "sale_keys", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sale_keys_status"),
        "sale_keys",
        "status IN ('sold', 'returned', 'charged_back')",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_sale_keys_chargeback_outcome"),
        "sale_keys",
        "chargeback_outcome IS NULL OR chargeback_outcome IN ('revoked', 'disputed')",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_sale_keys_chargeback_outcome"), "sale_keys", schema=SCHEMA)
    op.drop_constraint(op.f("ck_sale_keys_status"), "sale_keys", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sale_keys_status"), "sale_keys", "status IN ('sold', 'returned')", schema=SCHEMA
    )
    op.drop_column("sale_keys", "chargeback_outcome", schema=SCHEMA)
    op.drop_column("sale_keys", "chargeback_id", schema=SCHEMA)
    op.drop_table("chargebacks", schema=SCHEMA)
    op.drop_table("stock_revocations", schema=SCHEMA)
    op.drop_table("games", schema=SCHEMA)
    op.drop_table("studio_members", schema=SCHEMA)
    op.drop_table("studios", schema=SCHEMA)
