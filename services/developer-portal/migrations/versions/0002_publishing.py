"""publishing: the builds projection, submissions, scheduled and published releases

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"

SCHEMA = "developer_portal"


def upgrade() -> None:
    op.add_column("games", sa.Column("release_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("games", sa.Column("published_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("games", sa.Column("published_version_id", sa.Uuid), schema=SCHEMA)
    op.create_index(
        "ix_games_release_at",
        "games",
        ["release_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("release_at IS NOT NULL"),
    )

    op.create_table(
        "builds",
        sa.Column("version_id", sa.Uuid),
        sa.Column("game_id", sa.Uuid, nullable=False),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure", postgresql.JSONB),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("version_id", name="pk_builds"),
        schema=SCHEMA,
    )
    op.create_index("ix_builds_game_id_status", "builds", ["game_id", "status"], schema=SCHEMA)

    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.Uuid),
        sa.Column("game_id", sa.Uuid, nullable=False),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("version_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("snapshot", postgresql.JSONB, nullable=False),
        sa.Column("previous_submission_id", sa.Uuid),
        sa.Column("changes", postgresql.JSONB),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("decision", sa.String(16)),
        sa.Column("notes", sa.Text),
        sa.Column("findings", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("submission_id", name="pk_submissions"),
        sa.ForeignKeyConstraint(
            ["game_id"],
            [f"{SCHEMA}.games.game_id"],
            name="fk_submissions_game_id_games",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            "status IN ('pending_review', 'approved', 'rejected')", name="ck_submissions_status"
        ),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('approve', 'reject')", name="ck_submissions_decision"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_submissions_open_game_id",
        "submissions",
        ["game_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending_review'"),
    )
    op.create_index(
        "ix_submissions_game_id_submitted_at",
        "submissions",
        ["game_id", "submitted_at", "submission_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("submissions", schema=SCHEMA)
    op.drop_table("builds", schema=SCHEMA)
    op.drop_index("ix_games_release_at", table_name="games", schema=SCHEMA)
    op.drop_column("games", "published_version_id", schema=SCHEMA)
    op.drop_column("games", "published_at", schema=SCHEMA)
    op.drop_column("games", "release_at", schema=SCHEMA)
