"""disputed activations: an activation whose purchase was charged back or refunded after the
key was redeemed (status ``disputed``, with when, why and what)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

SCHEMA = "activation_gateway"


def upgrade() -> None:
    op.add_column("activations", sa.Column("disputed_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("activations", sa.Column("dispute_source", sa.String(20)), schema=SCHEMA)
    op.add_column("activations", sa.Column("dispute_reference", sa.String(128)), schema=SCHEMA)
    op.add_column("activations", sa.Column("dispute_reason", sa.String(500)), schema=SCHEMA)
    op.drop_constraint(op.f("ck_activations_status"), "activations", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_activations_status"),
        "activations",
        "status IN ('activated', 'pending_review', 'failed', 'blocked', 'rejected', 'disputed')",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.execute("UPDATE activation_gateway.activations SET status = 'activated' WHERE status = 'disputed'")
    op.drop_constraint(op.f("ck_activations_status"), "activations", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_activations_status"),
        "activations",
        "status IN ('activated', 'pending_review', 'failed', 'blocked', 'rejected')",
        schema=SCHEMA,
    )
    for column in ("dispute_reason", "dispute_reference", "dispute_source", "disputed_at"):
        op.drop_column("activations", column, schema=SCHEMA)
