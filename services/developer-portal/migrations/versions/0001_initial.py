"""studios, teams, invitations, games, metadata, pricing, audit log, and the platform tables

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gamekeys_platform.migrations import create_platform_tables

revision = "0001"
down_revision = None

SCHEMA = "developer_portal"


def _timestamps():
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    create_platform_tables(SCHEMA)
    op.create_table(
        "developers",
        sa.Column("developer_id", sa.Uuid, primary_key=True),
        sa.Column("company_name", sa.String(255), nullable=False),
        sa.Column("legal_details", postgresql.JSONB, nullable=False),
        sa.Column("verification_status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("verification_reason", sa.Text),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.Uuid, nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "verification_status IN ('pending', 'verified', 'rejected')",
            name="ck_developers_verification_status",
        ),
        sa.PrimaryKeyConstraint("developer_id", name="pk_developers"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_developers_created_at_developer_id", "developers", ["created_at", "developer_id"], schema=SCHEMA
    )
    op.create_index(
        "ix_developers_verification_status_created_at",
        "developers",
        ["verification_status", "created_at"],
        schema=SCHEMA,
    )

    op.create_table(
        "team_members",
        sa.Column("team_member_id", sa.Uuid),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("invitation_id", sa.Uuid),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("team_member_id", name="pk_team_members"),
        sa.ForeignKeyConstraint(
            ["developer_id"],
            [f"{SCHEMA}.developers.developer_id"],
            name="fk_team_members_developer_id_developers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("user_id", name="uq_team_members_user_id"),
        sa.CheckConstraint(
            "role IN ('admin', 'developer', 'marketing', 'finance')", name="ck_team_members_role"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_team_members_developer_id_added_at",
        "team_members",
        ["developer_id", "added_at", "user_id"],
        schema=SCHEMA,
    )

    op.create_table(
        "team_invitations",
        sa.Column("invitation_id", sa.Uuid),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("invited_by", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True)),
        sa.Column("responded_by", sa.Uuid),
        sa.PrimaryKeyConstraint("invitation_id", name="pk_team_invitations"),
        sa.ForeignKeyConstraint(
            ["developer_id"],
            [f"{SCHEMA}.developers.developer_id"],
            name="fk_team_invitations_developer_id_developers",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'developer', 'marketing', 'finance')", name="ck_team_invitations_role"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')",
            name="ck_team_invitations_status",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_team_invitations_pending_email",
        "team_invitations",
        ["developer_id", "email"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_team_invitations_email_status", "team_invitations", ["email", "status"], schema=SCHEMA
    )
    op.create_index(
        "ix_team_invitations_developer_id_created_at",
        "team_invitations",
        ["developer_id", "created_at", "invitation_id"],
        schema=SCHEMA,
    )

    op.create_table(
        "games",
        sa.Column("game_id", sa.Uuid),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("title_key", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        sa.Column("created_by", sa.Uuid, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("game_id", name="pk_games"),
        sa.ForeignKeyConstraint(
            ["developer_id"],
            [f"{SCHEMA}.developers.developer_id"],
            name="fk_games_developer_id_developers",
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint("developer_id", "title_key", name="uq_games_developer_id_title_key"),
        sa.CheckConstraint(
            "status IN ('draft', 'pending_review', 'approved', 'rejected', 'published', 'removed')",
            name="ck_games_status",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_games_developer_id_created_at", "games", ["developer_id", "created_at", "game_id"], schema=SCHEMA
    )
    op.create_index("ix_games_created_at_game_id", "games", ["created_at", "game_id"], schema=SCHEMA)

    op.create_table(
        "game_metadata",
        sa.Column("game_id", sa.Uuid),
        sa.Column("description", sa.Text),
        sa.Column("short_description", sa.String(500)),
        sa.Column(
            "system_requirements", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.Column("tags", postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column(
            "genres", postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")
        ),
        sa.Column("age_rating", sa.String(50)),
        sa.Column("media_urls", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.Uuid, nullable=False),
        sa.PrimaryKeyConstraint("game_id", name="pk_game_metadata"),
        sa.ForeignKeyConstraint(
            ["game_id"],
            [f"{SCHEMA}.games.game_id"],
            name="fk_game_metadata_game_id_games",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "game_pricing",
        sa.Column("game_id", sa.Uuid),
        sa.Column("base_amount", sa.Numeric(15, 4), nullable=False),
        sa.Column("base_currency", sa.String(3), nullable=False),
        sa.Column("regional_prices", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("discounts", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.Uuid, nullable=False),
        sa.PrimaryKeyConstraint("game_id", name="pk_game_pricing"),
        sa.ForeignKeyConstraint(
            ["game_id"], [f"{SCHEMA}.games.game_id"], name="fk_game_pricing_game_id_games", ondelete="CASCADE"
        ),
        sa.CheckConstraint("base_amount >= 0", name="ck_game_pricing_base_amount_not_negative"),
        schema=SCHEMA,
    )

    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.BigInteger, sa.Identity()),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("before", postgresql.JSONB),
        sa.Column("after", postgresql.JSONB),
        sa.Column("request_id", sa.String(128)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("audit_id", name="pk_audit_log"),
        sa.CheckConstraint("actor_type IN ('user', 'service')", name="ck_audit_log_actor_type"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_audit_log_developer_id_audit_id", "audit_log", ["developer_id", "audit_id"], schema=SCHEMA
    )


def downgrade() -> None:
    for table in (
        "audit_log",
        "game_pricing",
        "game_metadata",
        "games",
        "team_invitations",
        "team_members",
        "developers",
    ):
        op.drop_table(table, schema=SCHEMA)
