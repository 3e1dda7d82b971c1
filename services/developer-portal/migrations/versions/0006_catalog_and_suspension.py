"""games: when their store listing last changed (the Catalog's sync) and when a scheduled discount
next starts or ends (announced then); studios: suspension by the
Admin Service, and which games it took off the store; the support access log (the Admin
Service's look-ups of studios and games)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from gamekeys_platform.migrations import create_support_log, drop_support_log

revision = "0006"
down_revision = "0005"

SCHEMA = "developer_portal"


def upgrade() -> None:
    op.add_column(
        "games",
        sa.Column(
            "listing_updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=SCHEMA,
    )
    op.execute("UPDATE developer_portal.games SET listing_updated_at = updated_at")
    op.add_column(
        "games",
        sa.Column("unpublished_by_suspension", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_games_listing_updated_at_game_id", "games", ["listing_updated_at", "game_id"], schema=SCHEMA
    )
    op.add_column("games", sa.Column("next_price_change_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.create_index(
        "ix_games_next_price_change_at",
        "games",
        ["next_price_change_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("next_price_change_at IS NOT NULL"),
    )
    # games priced before this revision: their next discount boundary, from the stored schedule
    op.execute(
        """
        UPDATE developer_portal.games AS g SET next_price_change_at = (
            SELECT min(moment) FROM developer_portal.game_pricing AS p,
                LATERAL jsonb_array_elements(p.discounts) AS d,
                LATERAL (VALUES ((d->>'startsAt')::timestamptz), ((d->>'endsAt')::timestamptz)) AS b(moment)
            WHERE p.game_id = g.game_id AND moment > now()
        )
        """
    )
    op.add_column("developers", sa.Column("suspended_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("developers", sa.Column("suspension_reason", sa.Text()), schema=SCHEMA)
    op.add_column("developers", sa.Column("suspended_by", sa.String(200)), schema=SCHEMA)
    create_support_log(SCHEMA)


def downgrade() -> None:
    drop_support_log(SCHEMA)
    op.drop_column("developers", "suspended_by", schema=SCHEMA)
    op.drop_column("developers", "suspension_reason", schema=SCHEMA)
    op.drop_column("developers", "suspended_at", schema=SCHEMA)
    op.drop_index("ix_games_next_price_change_at", "games", schema=SCHEMA)
    op.drop_column("games", "next_price_change_at", schema=SCHEMA)
    op.drop_index("ix_games_listing_updated_at_game_id", "games", schema=SCHEMA)
    op.drop_column("games", "unpublished_by_suspension", schema=SCHEMA)
    op.drop_column("games", "listing_updated_at", schema=SCHEMA)
