"""the support access log: the Admin Service's look-ups of a user's activations, with the admin
and the reason

Revision ID: 0003
Revises: 0002
"""

from gamekeys_platform.migrations import create_support_log, drop_support_log

revision = "0003"
down_revision = "0002"

SCHEMA = "activation_gateway"


def upgrade() -> None:
    create_support_log(SCHEMA)


def downgrade() -> None:
    drop_support_log(SCHEMA)
