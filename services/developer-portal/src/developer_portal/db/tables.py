"""The developer_portal schema (SQLAlchemy Core), beside the platform's outbox, inbox and
idempotency tables. Keep migrations/versions in step: tests compare the two."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gamekeys_platform.db import service_metadata
from gamekeys_platform.support import SupportLog

SCHEMA = "developer_portal"
metadata = service_metadata(SCHEMA)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


VERIFICATION_STATUSES = ("pending", "verified", "rejected")
STUDIO_ROLES = ("admin", "developer", "marketing", "finance")
INVITATION_STATUSES = ("pending", "accepted", "declined", "revoked", "expired")
GAME_STATUSES = ("draft", "pending_review", "approved", "rejected", "published", "removed")
SUBMISSION_STATUSES = ("pending_review", "approved", "rejected")


def _timestamps() -> list[Column]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


developers = Table(
    "developers",
    metadata,
    Column("developer_id", Uuid, primary_key=True),
    Column("company_name", String(255), nullable=False),
    Column("legal_details", JSONB, nullable=False),
    Column("verification_status", String(16), nullable=False, server_default="pending"),
    Column("verification_reason", Text),
    Column("verified_at", DateTime(timezone=True)),
    Column("created_by", Uuid, nullable=False),
    *_timestamps(),
    # suspended by the Admin Service (its games off the store, its keys not redeemable)
    Column("suspended_at", DateTime(timezone=True)),
    Column("suspension_reason", Text),
    Column("suspended_by", String(200)),
    CheckConstraint(_in("verification_status", VERIFICATION_STATUSES), name="verification_status"),
    Index("ix_developers_created_at_developer_id", "created_at", "developer_id"),
    Index("ix_developers_verification_status_created_at", "verification_status", "created_at"),
)

# The seed's developer_teams with team_member_roles folded in. user_id is unique: a user
# belongs to at most one studio.
team_members = Table(
    "team_members",
    metadata,
    Column("team_member_id", Uuid, primary_key=True),
    Column(
        "developer_id",
        Uuid,
        ForeignKey(developers.c.developer_id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Uuid, nullable=False),
    Column("email", String(254)),
    Column("role", String(16), nullable=False),
    Column("invitation_id", Uuid),
    Column("added_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("user_id"),
    CheckConstraint(_in("role", STUDIO_ROLES), name="role"),
    Index("ix_team_members_developer_id_added_at", "developer_id", "added_at", "user_id"),
)

team_invitations = Table(
    "team_invitations",
    metadata,
    Column("invitation_id", Uuid, primary_key=True),
    Column(
        "developer_id",
        Uuid,
        ForeignKey(developers.c.developer_id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", String(254), nullable=False),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("invited_by", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("responded_at", DateTime(timezone=True)),
    Column("responded_by", Uuid),
    CheckConstraint(_in("role", STUDIO_ROLES), name="role"),
    CheckConstraint(_in("status", INVITATION_STATUSES), name="status"),
    # One open invitation per address and studio.
    Index(
        "uq_team_invitations_pending_email",
        "developer_id",
        "email",
        unique=True,
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_team_invitations_email_status", "email", "status"),
    Index("ix_team_invitations_developer_id_created_at", "developer_id", "created_at", "invitation_id"),
)

games = Table(
    "games",
    metadata,
    Column("game_id", Uuid, primary_key=True),
    Column(
        "developer_id",
        Uuid,
        ForeignKey(developers.c.developer_id, ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("title", String(255), nullable=False),
    # casefolded title: a studio cannot have two games of the same title, whatever the case
    Column("title_key", Text, nullable=False),
    Column("status", String(20), nullable=False, server_default="draft"),
    Column("created_by", Uuid, nullable=False),
    *_timestamps(),
    # publishing: a scheduled release (the game stays approved until the worker publishes it),
    # and what is on the store
    Column("release_at", DateTime(timezone=True)),
    Column("published_at", DateTime(timezone=True)),
    Column("published_version_id", Uuid),
    # when the store listing (title, status, metadata, prices) last changed: the Catalog's sync
    Column("listing_updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # taken off the store by its studio's suspension: republished when the studio is reinstated
    Column("unpublished_by_suspension", Boolean, nullable=False, server_default=text("false")),
    # the next moment a scheduled discount starts or ends: the worker announces the new price then
    Column("next_price_change_at", DateTime(timezone=True)),
    UniqueConstraint("developer_id", "title_key"),
    CheckConstraint(_in("status", GAME_STATUSES), name="status"),
    Index("ix_games_developer_id_created_at", "developer_id", "created_at", "game_id"),
    Index("ix_games_created_at_game_id", "created_at", "game_id"),
    Index("ix_games_release_at", "release_at", postgresql_where=text("release_at IS NOT NULL")),
    Index("ix_games_listing_updated_at_game_id", "listing_updated_at", "game_id"),
    Index(
        "ix_games_next_price_change_at",
        "next_price_change_at",
        postgresql_where=text("next_price_change_at IS NOT NULL"),
    ),
)

game_metadata = Table(
    "game_metadata",
    metadata,
    Column("game_id", Uuid, ForeignKey(games.c.game_id, ondelete="CASCADE"), primary_key=True),
    Column("description", Text),
    Column("short_description", String(500)),
    Column("system_requirements", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("genres", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("age_rating", String(50)),
    Column("media_urls", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Uuid, nullable=False),
)

# Money: Numeric, never float; amounts in regional_prices/discounts JSONB are decimal strings.
game_pricing = Table(
    "game_pricing",
    metadata,
    Column("game_id", Uuid, ForeignKey(games.c.game_id, ondelete="CASCADE"), primary_key=True),
    Column("base_amount", Numeric(15, 4), nullable=False),
    Column("base_currency", String(3), nullable=False),
    Column("regional_prices", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("discounts", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Uuid, nullable=False),
    CheckConstraint("base_amount >= 0", name="base_amount_not_negative"),
)

# The projection of builds.events (game-builds owns the builds): the latest state of each
# version, for the preflight. occurred_at is the producer's time of that state: an older state
# arriving late is ignored.
builds = Table(
    "builds",
    metadata,
    Column("version_id", Uuid, primary_key=True),
    Column("game_id", Uuid, nullable=False),
    Column("developer_id", Uuid, nullable=False),
    Column("version", String(100), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("failure", JSONB),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_builds_game_id_status", "game_id", "status"),
)

# Submissions for review: what was submitted (a snapshot of title, metadata, price and build),
# what changed since the rejected submission before it, and the moderator's decision.
submissions = Table(
    "submissions",
    metadata,
    Column("submission_id", Uuid, primary_key=True),
    Column("game_id", Uuid, ForeignKey(games.c.game_id, ondelete="RESTRICT"), nullable=False),
    Column("developer_id", Uuid, nullable=False),
    Column("version_id", Uuid, nullable=False),
    Column("status", String(16), nullable=False),
    Column("snapshot", JSONB, nullable=False),
    Column("previous_submission_id", Uuid),
    Column("changes", JSONB),
    Column("submitted_by", String(200), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("decision", String(16)),
    Column("notes", Text),
    Column("findings", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("decided_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    CheckConstraint(_in("status", SUBMISSION_STATUSES), name="status"),
    CheckConstraint("decision IS NULL OR decision IN ('approve', 'reject')", name="decision"),
    # one open submission per game, whatever the concurrency
    Index(
        "uq_submissions_open_game_id",
        "game_id",
        unique=True,
        postgresql_where=text("status = 'pending_review'"),
    ),
    Index("ix_submissions_game_id_submitted_at", "game_id", "submitted_at", "submission_id"),
)

# Who changed what, when, from what to what. No foreign key: the trail outlives what it describes.
audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", BigInteger, Identity(), primary_key=True),
    Column("developer_id", Uuid, nullable=False),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("before", JSONB),
    Column("after", JSONB),
    Column("request_id", String(128)),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("actor_type", ("user", "service")), name="actor_type"),
    Index("ix_audit_log_developer_id_audit_id", "developer_id", "audit_id"),
)


# Finance. The ledger is append-only: entries and postings are inserted, never updated or
# deleted; balances are the running sums of the postings, kept in the same transaction.
LEDGER_KINDS = (
    "sale",
    "return",
    "revenue",
    "reversal",
    "release",
    "payout",
    "payout_completed",
    "payout_failed",
    "adjustment",
)
PAYOUT_STATUSES = ("requested", "processing", "completed", "failed")
MONEY = Numeric(20, 4)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("entry_id", Uuid, nullable=False, unique=True),
    Column("developer_id", Uuid, nullable=False),
    Column("game_id", Uuid),
    Column("kind", String(20), nullable=False),
    # the event, payout or request the entry records: a redelivery posts nothing twice
    Column("source_id", String(200), nullable=False, unique=True),
    Column("currency", String(3), nullable=False),
    Column("memo", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("kind", LEDGER_KINDS), name="kind"),
    Index("ix_ledger_entries_developer_id_seq", "developer_id", "seq"),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("entry_id", Uuid, ForeignKey(ledger_entries.c.entry_id, ondelete="RESTRICT"), primary_key=True),
    Column("account", String(100), primary_key=True),
    Column("amount", MONEY, nullable=False),
    CheckConstraint("amount <> 0", name="amount"),
)

ledger_balances = Table(
    "ledger_balances",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("balance", MONEY, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What each credited sale has left to take back (returns, refunds, chargebacks) and its hold.
revenue_lines = Table(
    "revenue_lines",
    metadata,
    Column("line_key", String(200), primary_key=True),
    Column("developer_id", Uuid, nullable=False),
    Column("game_id", Uuid, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("source_account", String(100), nullable=False),
    Column("commission_account", String(100)),
    Column("gross", MONEY, nullable=False),
    Column("commission", MONEY, nullable=False),
    Column("platform", MONEY, nullable=False),
    Column("studio", MONEY, nullable=False),
    Column("platform_exact", Numeric(36, 18), nullable=False),
    Column("quantity", Integer),
    Column("entry_id", Uuid, nullable=False),
    Column("available_on", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True)),
    Index("ix_revenue_lines_available_on", "available_on", postgresql_where=text("released_at IS NULL")),
)

# A game's lifetime gross and the platform's share of it, per currency (revenue tiers, rounding).
revenue_share_counters = Table(
    "revenue_share_counters",
    metadata,
    Column("game_id", Uuid, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("lifetime_gross", MONEY, nullable=False),
    Column("platform_exact", Numeric(36, 18), nullable=False),
    Column("platform_posted", MONEY, nullable=False),
)

# A studio's revenue share when a platform admin set one; the platform's default otherwise.
revenue_share_schedules = Table(
    "revenue_share_schedules",
    metadata,
    Column("developer_id", Uuid, primary_key=True),
    Column("tiers", JSONB, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A return or reversal that arrived before the sale it takes back: applied when the sale does.
parked_reversals = Table(
    "parked_reversals",
    metadata,
    Column("source_id", String(200), primary_key=True),
    Column("line_key", String(200), nullable=False),
    Column("event", JSONB, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_parked_reversals_line_key", "line_key"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("payout_id", Uuid, primary_key=True),
    Column("developer_id", Uuid, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("method", String(32), nullable=False),
    Column("scheduled_for", String(32)),  # "<currency>:<date>" of a scheduled payout, once each
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    Column("failure_reason", Text),
    Column("reference", String(200)),
    CheckConstraint(_in("status", PAYOUT_STATUSES), name="status"),
    CheckConstraint("amount > 0", name="amount"),
    UniqueConstraint("developer_id", "scheduled_for"),
    Index("ix_payouts_developer_id_requested_at", "developer_id", "requested_at", "payout_id"),
)

payout_settings = Table(
    "payout_settings",
    metadata,
    Column("developer_id", Uuid, primary_key=True),
    Column("method", String(32), nullable=False),
    Column("details_encrypted", Text, nullable=False),  # Fernet token: never stored in clear
    Column("details_masked", JSONB, nullable=False),
    Column("threshold", MONEY, nullable=False),
    Column("schedule", String(16), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# CI API keys: the SHA-256 of each key (never the key), its prefix and last 4 for display, what
# it may do, and its life. A rolled key points at its successor and stops at the overlap's end.
APIKEY_REVOKED_REASONS = ("revoked", "creator_left")

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Uuid, primary_key=True),
    Column("developer_id", Uuid, ForeignKey(developers.c.developer_id, ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("game_ids", ARRAY(Uuid), nullable=False),
    Column("created_by", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(200)),
    Column("revoked_reason", String(16)),
    Column("rolled_from", Uuid),
    Column("rolled_to", Uuid),
    Column("last_used_at", DateTime(timezone=True)),
    Column("last_used_address", String(45)),  # an IPv4 or IPv6 address
    # when apikey.expiring went out (or the key was made too short-lived to need it)
    Column("expiry_notified_at", DateTime(timezone=True)),
    CheckConstraint(_in("revoked_reason", APIKEY_REVOKED_REASONS), name="revoked_reason"),
    CheckConstraint("cardinality(game_ids) > 0", name="game_ids"),
    Index("ix_api_keys_developer_id_created_at", "developer_id", "created_at", "key_id"),
    Index("ix_api_keys_created_by", "created_by", postgresql_where=text("revoked_at IS NULL")),
    Index(
        "ix_api_keys_expires_at_unnotified",
        "expires_at",
        postgresql_where=text("expiry_notified_at IS NULL AND revoked_at IS NULL"),
    ),
)

# Trusted publishing: the CI identities (an OIDC issuer and exact claim conditions) a studio
# trusts to upload builds of some of its games.
trusted_publishers = Table(
    "trusted_publishers",
    metadata,
    Column("publisher_id", Uuid, primary_key=True),
    Column("developer_id", Uuid, ForeignKey(developers.c.developer_id, ondelete="CASCADE"), nullable=False),
    Column("issuer", String(255), nullable=False),
    Column("conditions", JSONB, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("game_ids", ARRAY(Uuid), nullable=False),
    Column("created_by", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("cardinality(game_ids) > 0", name="game_ids"),
    Index("ix_trusted_publishers_developer_id_created_at", "developer_id", "created_at", "publisher_id"),
    Index("ix_trusted_publishers_issuer", "issuer"),
)

# Short-lived upload tokens exchanged for CI identity tokens: stored as SHA-256, introspected
# like API keys. (issuer, jti) is unique, so one identity token is exchanged once.
upload_tokens = Table(
    "upload_tokens",
    metadata,
    Column("token_id", Uuid, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column(
        "publisher_id",
        Uuid,
        ForeignKey(trusted_publishers.c.publisher_id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("developer_id", Uuid, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("game_ids", ARRAY(Uuid), nullable=False),
    Column("issuer", String(255), nullable=False),
    Column("jti", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # the later of its own and the identity token's expiry: until then the row stays, so the
    # identity token cannot be exchanged a second time
    Column("keep_until", DateTime(timezone=True), nullable=False),
    UniqueConstraint("issuer", "jti"),
    Index("ix_upload_tokens_keep_until", "keep_until"),
    Index("ix_upload_tokens_publisher_id", "publisher_id"),
)


# The Admin Service's support look-ups of studios and games: who for, why, what was asked.
support_log = SupportLog.define(metadata)
