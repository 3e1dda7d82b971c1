"""the studio projection in the library's shape (gamekeys_platform.studios.StudioProjection),
as key-manager keeps it: studios get their verification status, games their status

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

SCHEMA = "game_builds"


def upgrade() -> None:
    # Rows projected before this revision are completed by the next developer.verified event.
    op.add_column(
        "studios",
        sa.Column("verification_status", sa.String(20), nullable=False, server_default="pending"),
        schema=SCHEMA,
    )
    op.alter_column("studios", "verification_status", server_default=None, schema=SCHEMA)
    op.alter_column("studios", "company_name", type_=sa.String(200), schema=SCHEMA)
    op.alter_column("games", "title", type_=sa.String(300), schema=SCHEMA)
    op.add_column("games", sa.Column("status", sa.String(30), nullable=True), schema=SCHEMA)
    op.create_index("ix_games_developer", "games", ["developer_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_games_developer", table_name="games", schema=SCHEMA)
    op.drop_column("games", "status", schema=SCHEMA)
    op.alter_column("games", "title", type_=sa.String(500), schema=SCHEMA)
    op.alter_column("studios", "company_name", type_=sa.String(500), schema=SCHEMA)
    op.drop_column("studios", "verification_status", schema=SCHEMA)
