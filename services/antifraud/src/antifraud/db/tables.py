"""Antifraud's tables (schema ``antifraud``), SQLAlchemy Core."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from gamekeys_platform.db import service_metadata

SCHEMA = "antifraud"
metadata = service_metadata(SCHEMA)

# Every analysis, with the exact features it was scored on (backtests replay them).
assessments = Table(
    "assessments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("user_id", Uuid, nullable=False),
    Column("key_id", Uuid),
    Column("activation_id", String(64)),
    Column("game_id", Uuid),
    Column("ip", String(45), nullable=False),
    Column("device_fingerprint", String(256), nullable=False),
    Column("score", Integer, nullable=False),
    Column("risk_level", String(10), nullable=False),
    Column("action", String(10), nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("rules_hit", JSONB, nullable=False),
    Column("features", JSONB, nullable=False),
    Column("rule_set_version", Integer, nullable=False),
    Column("degraded", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("risk_level IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')", name="risk_level"),
    CheckConstraint("action IN ('ALLOW', 'REVIEW', 'BLOCK')", name="action"),
    Index("ix_assessments_created_at_id", "created_at", "id"),
    Index("ix_assessments_user_id_created_at", "user_id", "created_at"),
)

# Rule sets: one row per version; the highest version is in force.
rule_sets = Table(
    "rule_sets",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("rules", JSONB, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("assessment_id", Uuid, ForeignKey("assessments.id"), nullable=False, unique=True),
    Column("status", String(10), nullable=False, server_default=text("'open'")),
    Column("user_id", Uuid, nullable=False),
    Column("key_id", Uuid),
    Column("activation_id", String(64)),
    Column("score", Integer, nullable=False),
    Column("risk_level", String(10), nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", String(128)),
    Column("decision", String(10)),
    Column("note", String(1000)),
    CheckConstraint("status IN ('open', 'approved', 'rejected')", name="status"),
    Index("ix_cases_status_opened_at_id", "status", "opened_at", "id"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("entity_type", String(10), nullable=False),
    Column("value", String(256), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("assessment_id", Uuid),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True)),
    Column("lifted_at", DateTime(timezone=True)),
    Column("lifted_by", String(128)),
    Column("lift_reason", String(500)),
    CheckConstraint("entity_type IN ('user', 'ip', 'device')", name="entity_type"),
    Index("ix_blocks_entity_type_value", "entity_type", "value"),
    Index("ix_blocks_created_at_id", "created_at", "id"),
)

outbox_table = metadata.tables[f"{SCHEMA}.outbox"]
