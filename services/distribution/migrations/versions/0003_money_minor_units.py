"""prices with three decimals: the minor units of KWD, BHD and the other 3-decimal currencies

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

SCHEMA = "distribution"
PRICES = (("allocations", "price_amount"), ("sales", "unit_price"))


def upgrade() -> None:
    for table, column in PRICES:
        op.alter_column(table, column, type_=sa.Numeric(13, 3), existing_nullable=False, schema=SCHEMA)


def downgrade() -> None:
    for table, column in PRICES:
        op.alter_column(table, column, type_=sa.Numeric(12, 2), existing_nullable=False, schema=SCHEMA)
