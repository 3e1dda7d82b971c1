"""The activation gateway's tables in schema ``activation_gateway`` (plus the platform's outbox,
inbox and idempotency keys)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Integer, String, Table, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB

from gamekeys_platform.db import service_metadata
from gamekeys_platform.support import SupportLog

SCHEMA = "activation_gateway"
metadata = service_metadata(SCHEMA)

STATUSES = ("activated", "pending_review", "failed", "blocked", "rejected", "disputed")

# One row per redemption that reached a key decision (the transaction of a RedemptionResult).
# Malformed keys and lockouts are refused before and leave no row (Redis counts them).
activations = Table(
    "activations",
    metadata,
    Column("id", Uuid, primary_key=True),  # the transactionId / activationId
    Column("user_id", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("key_id", Uuid),
    Column("game_id", Uuid),
    Column("batch_id", Uuid),
    Column("developer_id", Uuid),
    Column("key_type", String(32)),
    Column("key_fingerprint", String(64)),  # only for keys that were not found
    Column("error_code", String(64)),
    Column("error_details", JSONB),
    Column("user_region", String(2), nullable=False),
    Column("ip_address", String(64), nullable=False),
    Column("ip_country", String(2)),
    Column("device_fingerprint", String(256), nullable=False),
    Column("platform", String(64)),
    Column("assessment_id", Uuid),
    Column("case_id", Uuid),
    Column("risk_score", Integer),
    Column("review_reason", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True)),
    # A disputed activation (its purchase charged back, or its store order refunded, after the
    # key was redeemed): key-manager's key.disputed says when, why and which chargeback or order.
    Column("disputed_at", DateTime(timezone=True)),
    Column("dispute_source", String(20)),
    Column("dispute_reference", String(128)),
    Column("dispute_reason", String(500)),
    CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status"),
    Index("ix_activations_user_id_created_at_id", "user_id", "created_at", "id"),
    Index("ix_activations_key_id_created_at", "key_id", "created_at"),
    # A key is activated once and held for one review at a time, here as in key-manager.
    Index(
        "uq_activations_key_id_activated",
        "key_id",
        unique=True,
        postgresql_where=text("status = 'activated'"),
    ),
    Index(
        "uq_activations_key_id_pending",
        "key_id",
        unique=True,
        postgresql_where=text("status = 'pending_review'"),
    ),
    Index("ix_activations_pending", "created_at", postgresql_where=text("status = 'pending_review'")),
)

# Blocks in force, projected from antifraud's fraud.block_added / fraud.block_lifted: a lifted
# block is deleted, an expired one is ignored at read time and purged by the worker. Values are
# normalised (domain/blocks.py) so they match the identities of a redemption.
blocks = Table(
    "blocks",
    metadata,
    Column("id", Uuid, primary_key=True),  # antifraud's blockId
    Column("entity_type", String(10), nullable=False),
    Column("value", String(256), nullable=False),
    Column("reason", String(500)),
    Column("expires_at", DateTime(timezone=True)),
    Column("added_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("entity_type IN ('user', 'ip', 'device')", name="entity_type"),
    Index("ix_blocks_entity_type_value", "entity_type", "value"),
    Index("ix_blocks_expires_at", "expires_at", postgresql_where=text("expires_at IS NOT NULL")),
)

# The Admin Service's support look-ups of users' activations: who for, why, what was asked.
support_log = SupportLog.define(metadata)
