"""studios: suspended_at, set while the Admin Service has a studio suspended (developer.suspended
and developer.reinstated, in the library's studio projection)

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

SCHEMA = "game_builds"


def upgrade() -> None:
    op.add_column("studios", sa.Column("suspended_at", sa.DateTime(timezone=True)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("studios", "suspended_at", schema=SCHEMA)
