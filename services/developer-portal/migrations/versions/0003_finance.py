"""finance: the ledger, revenue lines and share counters, payouts and their settings

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"

SCHEMA = "developer_portal"
# The ledger is append-only, whoever connects: a correction is a new entry.
APPEND_ONLY = ("ledger_entries", "ledger_postings")


def upgrade() -> None:
    op.create_table(
        "ledger_balances",
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("account", "currency", name=op.f("pk_ledger_balances")),
        schema=SCHEMA,
    )
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("game_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "memo",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sale', 'return', 'revenue', 'reversal', 'release', 'payout', 'payout_completed', 'payout_failed', 'adjustment')",
            name=op.f("ck_ledger_entries_kind"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_ledger_entries_entry_id")),
        sa.UniqueConstraint("source_id", name=op.f("uq_ledger_entries_source_id")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_ledger_entries_developer_id_seq",
        "ledger_entries",
        ["developer_id", "seq"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "parked_reversals",
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("line_key", sa.String(length=200), nullable=False),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_parked_reversals")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_parked_reversals_line_key", "parked_reversals", ["line_key"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "payout_settings",
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("details_encrypted", sa.Text(), nullable=False),
        sa.Column("details_masked", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("threshold", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("schedule", sa.String(length=16), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("developer_id", name=op.f("pk_payout_settings")),
        schema=SCHEMA,
    )
    op.create_table(
        "payouts",
        sa.Column("payout_id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("scheduled_for", sa.String(length=32), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.CheckConstraint("status IN ('requested', 'completed', 'failed')", name=op.f("ck_payouts_status")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payouts_amount")),
        sa.PrimaryKeyConstraint("payout_id", name=op.f("pk_payouts")),
        sa.UniqueConstraint(
            "developer_id", "scheduled_for", name=op.f("uq_payouts_developer_id_scheduled_for")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_payouts_developer_id_requested_at",
        "payouts",
        ["developer_id", "requested_at", "payout_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "revenue_lines",
        sa.Column("line_key", sa.String(length=200), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source_account", sa.String(length=100), nullable=False),
        sa.Column("commission_account", sa.String(length=100), nullable=True),
        sa.Column("gross", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("commission", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("platform", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("studio", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("platform_exact", sa.Numeric(precision=36, scale=18), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("available_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("line_key", name=op.f("pk_revenue_lines")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_revenue_lines_available_on",
        "revenue_lines",
        ["available_on"],
        unique=False,
        schema=SCHEMA,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_table(
        "revenue_share_counters",
        sa.Column("game_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lifetime_gross", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("platform_exact", sa.Numeric(precision=36, scale=18), nullable=False),
        sa.Column("platform_posted", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.PrimaryKeyConstraint("game_id", "currency", name=op.f("pk_revenue_share_counters")),
        schema=SCHEMA,
    )
    op.create_table(
        "revenue_share_schedules",
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("tiers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("developer_id", name=op.f("pk_revenue_share_schedules")),
        schema=SCHEMA,
    )
    op.create_table(
        "ledger_postings",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_postings_amount")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["developer_portal.ledger_entries.entry_id"],
            name=op.f("fk_ledger_postings_entry_id_ledger_entries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("entry_id", "account", name=op.f("pk_ledger_postings")),
        schema=SCHEMA,
    )

    op.execute(
        f"""
        CREATE FUNCTION {SCHEMA}.ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the ledger is append-only: post a correcting entry instead';
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {SCHEMA}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.ledger_is_append_only()"
        )


def downgrade() -> None:
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_append_only ON {SCHEMA}.{table}")
    op.execute(f"DROP FUNCTION {SCHEMA}.ledger_is_append_only()")
    op.drop_table("ledger_postings", schema=SCHEMA)
    op.drop_table("revenue_share_schedules", schema=SCHEMA)
    op.drop_table("revenue_share_counters", schema=SCHEMA)
    op.drop_index(
        "ix_revenue_lines_available_on",
        table_name="revenue_lines",
        schema=SCHEMA,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.drop_table("revenue_lines", schema=SCHEMA)
    op.drop_index("ix_payouts_developer_id_requested_at", table_name="payouts", schema=SCHEMA)
    op.drop_table("payouts", schema=SCHEMA)
    op.drop_table("payout_settings", schema=SCHEMA)
    op.drop_index("ix_parked_reversals_line_key", table_name="parked_reversals", schema=SCHEMA)
    op.drop_table("parked_reversals", schema=SCHEMA)
    op.drop_index("ix_ledger_entries_developer_id_seq", table_name="ledger_entries", schema=SCHEMA)
    op.drop_table("ledger_entries", schema=SCHEMA)
    op.drop_table("ledger_balances", schema=SCHEMA)
