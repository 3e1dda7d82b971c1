"""batches can be cancelled while pending or generating

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_OLD = "status IN ('pending', 'generating', 'completed', 'failed', 'revoked')"
_NEW = "status IN ('pending', 'generating', 'completed', 'failed', 'revoked', 'cancelled')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_batches_status"), "batches", schema="key_manager", type_="check")
    op.create_check_constraint(op.f("ck_batches_status"), "batches", _NEW, schema="key_manager")
    op.add_column("batches", sa.Column("cancelled_at", sa.DateTime(timezone=True)), schema="key_manager")
    op.add_column("batches", sa.Column("cancelled_by", sa.String(length=128)), schema="key_manager")
    op.add_column("batches", sa.Column("cancel_reason", sa.String(length=500)), schema="key_manager")


def downgrade() -> None:
    op.drop_column("batches", "cancel_reason", schema="key_manager")
    op.drop_column("batches", "cancelled_by", schema="key_manager")
    op.drop_column("batches", "cancelled_at", schema="key_manager")
    op.drop_constraint(op.f("ck_batches_status"), "batches", schema="key_manager", type_="check")
    op.create_check_constraint(op.f("ck_batches_status"), "batches", _OLD, schema="key_manager")
