"""payouts: the processing status (the Payment Service has taken the payout on)

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"

SCHEMA = "developer_portal"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_payouts_status"), "payouts", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        op.f("ck_payouts_status"),
        "payouts",
        "status IN ('requested', 'processing', 'completed', 'failed')",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.execute("UPDATE developer_portal.payouts SET status = 'requested' WHERE status = 'processing'")
    op.drop_constraint(op.f("ck_payouts_status"), "payouts", schema=SCHEMA, type_="check")
    op.create_check_constraint(
        op.f("ck_payouts_status"), "payouts", "status IN ('requested', 'completed', 'failed')", schema=SCHEMA
    )
