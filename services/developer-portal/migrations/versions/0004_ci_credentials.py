"""CI credentials: API keys, trusted publishers, upload tokens

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"

SCHEMA = "developer_portal"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("game_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoked_reason", sa.String(length=16), nullable=True),
        sa.Column("rolled_from", sa.Uuid(), nullable=True),
        sa.Column("rolled_to", sa.Uuid(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_address", sa.String(length=45), nullable=True),
        sa.Column("expiry_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "revoked_reason IN ('revoked', 'creator_left')", name=op.f("ck_api_keys_revoked_reason")
        ),
        sa.CheckConstraint("cardinality(game_ids) > 0", name=op.f("ck_api_keys_game_ids")),
        sa.ForeignKeyConstraint(
            ["developer_id"],
            ["developer_portal.developers.developer_id"],
            name=op.f("fk_api_keys_developer_id_developers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_api_keys_developer_id_created_at",
        "api_keys",
        ["developer_id", "created_at", "key_id"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_api_keys_created_by",
        "api_keys",
        ["created_by"],
        schema=SCHEMA,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_index(
        "ix_api_keys_expires_at_unnotified",
        "api_keys",
        ["expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("expiry_notified_at IS NULL AND revoked_at IS NULL"),
    )

    op.create_table(
        "trusted_publishers",
        sa.Column("publisher_id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("conditions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("game_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("cardinality(game_ids) > 0", name=op.f("ck_trusted_publishers_game_ids")),
        sa.ForeignKeyConstraint(
            ["developer_id"],
            ["developer_portal.developers.developer_id"],
            name=op.f("fk_trusted_publishers_developer_id_developers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("publisher_id", name=op.f("pk_trusted_publishers")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_trusted_publishers_developer_id_created_at",
        "trusted_publishers",
        ["developer_id", "created_at", "publisher_id"],
        schema=SCHEMA,
    )
    op.create_index("ix_trusted_publishers_issuer", "trusted_publishers", ["issuer"], schema=SCHEMA)

    op.create_table(
        "upload_tokens",
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("publisher_id", sa.Uuid(), nullable=False),
        sa.Column("developer_id", sa.Uuid(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("game_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("keep_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["developer_portal.trusted_publishers.publisher_id"],
            name=op.f("fk_upload_tokens_publisher_id_trusted_publishers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_upload_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_upload_tokens_token_hash")),
        sa.UniqueConstraint("issuer", "jti", name=op.f("uq_upload_tokens_issuer_jti")),
        schema=SCHEMA,
    )
    op.create_index("ix_upload_tokens_keep_until", "upload_tokens", ["keep_until"], schema=SCHEMA)
    op.create_index("ix_upload_tokens_publisher_id", "upload_tokens", ["publisher_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_upload_tokens_publisher_id", table_name="upload_tokens", schema=SCHEMA)
    op.drop_index("ix_upload_tokens_keep_until", table_name="upload_tokens", schema=SCHEMA)
    op.drop_table("upload_tokens", schema=SCHEMA)
    op.drop_index("ix_trusted_publishers_issuer", table_name="trusted_publishers", schema=SCHEMA)
    op.drop_index(
        "ix_trusted_publishers_developer_id_created_at", table_name="trusted_publishers", schema=SCHEMA
    )
    op.drop_table("trusted_publishers", schema=SCHEMA)
    op.drop_index("ix_api_keys_expires_at_unnotified", table_name="api_keys", schema=SCHEMA)
    op.drop_index("ix_api_keys_created_by", table_name="api_keys", schema=SCHEMA)
    op.drop_index("ix_api_keys_developer_id_created_at", table_name="api_keys", schema=SCHEMA)
    op.drop_table("api_keys", schema=SCHEMA)
