"""batches.free_from: where allocation resumes scanning a batch for free keys

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("batches", sa.Column("free_from", sa.Uuid()), schema="key_manager")


def downgrade() -> None:
    op.drop_column("batches", "free_from", schema="key_manager")
