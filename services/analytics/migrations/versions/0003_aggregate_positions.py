"""aggregate_positions and the aggregate_versions sequence: where the aggregator's passes over
ClickHouse's change log have got to, and the versions of the rows they write

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

SCHEMA = "analytics"


def upgrade() -> None:
    op.create_table(
        "aggregate_positions",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("changes_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_aggregate_positions")),
        schema=SCHEMA,
    )
    op.execute(sa.schema.CreateSequence(sa.Sequence("aggregate_versions", schema=SCHEMA)))


def downgrade() -> None:
    op.execute(sa.schema.DropSequence(sa.Sequence("aggregate_versions", schema=SCHEMA)))
    op.drop_table("aggregate_positions", schema=SCHEMA)
